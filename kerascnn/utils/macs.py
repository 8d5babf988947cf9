"""Multiply-accumulates (MACs) of one forward pass, from the layers' configs and shapes.

``count_macs(model)`` walks the model's graph (nested models included) and adds, for every
layer call, the multiply-accumulates of its weighted operations for **one image** at the
model's input size:

* ``Conv1D/2D/3D`` (``groups`` included): output positions x filters x kernel elements x
  input channels / groups;
* ``Conv*DTranspose``: input positions x kernel elements x input channels x filters / groups;
* ``DepthwiseConv1D/2D``: output positions x input channels x depth multiplier x kernel
  elements;
* ``SeparableConv1D/2D``: the depthwise part plus the pointwise 1x1 part;
* ``Dense``: positions x input units x units.

Biases, BatchNormalization, activations, pooling, element-wise merges and resizing count
zero: the convention of the figures the papers, timm and torchvision publish (VGG-19
19.6 G, ResNet-34 3.6 G, ResNet-50 4.1 G). FLOPs, as those sources use the word, are the
same numbers; arithmetic FLOPs are 2 x MACs. Every table kerascnn prints says which it shows.

A custom layer declares its own count with a method::

    def compute_macs(self, input_shape) -> int:
        # input_shape: the call's input shape with the batch dimension (a list of shapes
        # for a layer with several inputs); return the MACs of one sample.

A layer that holds a kernel (a weight of rank >= 2) but is neither one of the types above
nor declares ``compute_macs`` raises ValueError rather than being silently counted as zero.
"""

from __future__ import annotations

import math

import keras

from kerascnn.graph import calls

__all__ = ["count_macs", "macs_by_layer", "layer_macs", "format_macs"]

_CONV = ("Conv1D", "Conv2D", "Conv3D")
_CONV_TRANSPOSE = ("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")
_DEPTHWISE = ("DepthwiseConv1D", "DepthwiseConv2D")
_SEPARABLE = ("SeparableConv1D", "SeparableConv2D")


def _shape(tensor_or_shape) -> tuple:
    shape = getattr(tensor_or_shape, "shape", tensor_or_shape)
    return tuple(shape)


def _split(shape, data_format) -> tuple[tuple, int]:
    """(spatial dims, channels) of a shape with its batch dimension."""
    if data_format == "channels_first":
        return tuple(shape[2:]), shape[1]
    return tuple(shape[1:-1]), shape[-1]


def _check_static(layer, shapes) -> None:
    for shape in shapes:
        if any(d is None for d in shape[1:]):
            raise ValueError(
                f"count_macs needs a fixed input size, but layer {layer.name!r} sees shape "
                f"{shape}; build the model with input_shape=(height, width, channels)."
            )


def _has_kernel(layer) -> bool:
    return any(len(w.shape) >= 2 for w in layer.weights)


def layer_macs(layer, input_shapes, output_shapes) -> int:
    """MACs of one call of ``layer`` for one sample.

    Args:
        layer: a Keras layer.
        input_shapes: list of the call's input shapes (batch dimension included).
        output_shapes: list of the call's output shapes.

    Returns:
        The multiply-accumulates as an int (0 for layers without weighted products).

    Raises:
        ValueError: a spatial size is unknown, or a layer with a kernel is of an unknown
            type and declares no ``compute_macs``.
    """
    if hasattr(layer, "compute_macs"):
        arg = input_shapes[0] if len(input_shapes) == 1 else list(input_shapes)
        return int(layer.compute_macs(arg))
    kind = type(layer).__name__
    if kind not in _CONV + _CONV_TRANSPOSE + _DEPTHWISE + _SEPARABLE + ("Dense",):
        if _has_kernel(layer):
            raise ValueError(
                f"count_macs does not know layer {layer.name!r} ({kind}), which has a kernel; "
                "give its class a compute_macs(input_shape) method."
            )
        return 0
    _check_static(layer, list(input_shapes) + list(output_shapes))
    in_shape, out_shape = input_shapes[0], output_shapes[0]
    config = layer.get_config()
    if kind == "Dense":
        return math.prod(in_shape[1:-1]) * in_shape[-1] * config["units"]
    data_format = config.get("data_format") or keras.config.image_data_format()
    in_spatial, in_ch = _split(in_shape, data_format)
    out_spatial, out_ch = _split(out_shape, data_format)
    kernel = math.prod(config["kernel_size"])
    if kind in _CONV:
        return math.prod(out_spatial) * out_ch * kernel * (in_ch // config.get("groups", 1))
    if kind in _CONV_TRANSPOSE:
        groups = config.get("groups", 1) or 1
        return math.prod(in_spatial) * kernel * in_ch * (config["filters"] // groups)
    multiplier = config["depth_multiplier"]
    depthwise = math.prod(out_spatial) * in_ch * multiplier * kernel
    if kind in _DEPTHWISE:
        return depthwise
    return depthwise + math.prod(out_spatial) * in_ch * multiplier * out_ch  # separable


def _graph_calls(model):
    """(layer, input shapes, output shapes) of every call in a graph model, in depth order."""
    for call in calls(model, user="count_macs"):
        yield (call.layer,
               [_shape(t) for t in call.inputs],
               [_shape(t) for t in call.outputs])


def macs_by_layer(model, prefix: str = "") -> list[tuple[str, str, int]]:
    """Per-call MACs: ``[(layer path, class name, macs), ...]`` in graph order.

    Nested models are expanded (``outer/inner/layer``); layers with zero MACs are listed
    too, so the list has one entry per layer call.
    """
    rows = []
    for layer, in_shapes, out_shapes in _graph_calls(model):
        path = f"{prefix}{layer.name}"
        if isinstance(layer, keras.Model) and not hasattr(layer, "compute_macs"):
            rows.extend(macs_by_layer(layer, prefix=f"{path}/"))
        else:
            rows.append((path, type(layer).__name__, layer_macs(layer, in_shapes, out_shapes)))
    return rows


def count_macs(model) -> int:
    """Multiply-accumulates of one forward pass of one image at the model's input size.

    Args:
        model: a built Functional or Sequential ``keras.Model`` with a fixed input size
            (nested models are counted at the shapes they were built with).

    Returns:
        The MACs as an int. FLOPs in the papers' sense are the same figure; arithmetic
        FLOPs are ``2 * count_macs(model)``.

    Raises:
        ValueError: the input size is not fixed, the model has no layer graph, or a layer
            with a kernel is of an unknown type without ``compute_macs``.

    Example:
        >>> count_macs(keras.applications.VGG19(weights=None)) / 1e9  # doctest: +SKIP
        19.632...
    """
    return sum(macs for _, _, macs in macs_by_layer(model))


def format_macs(macs: int) -> str:
    """``3.87 G`` / ``40.8 M``: a MACs figure for tables."""
    if macs >= 1e9:
        return f"{macs / 1e9:.2f} G"
    if macs >= 1e6:
        return f"{macs / 1e6:.1f} M"
    return f"{macs / 1e3:.1f} K"
