"""Receptive fields of a model's layers, from the layers' configs and shapes.

``receptive_field(model)`` walks the model's graph (nested models included), like
:func:`kerascnn.utils.count_macs`, and gives, for every layer call whose output is a spatial
(4-D) feature map, three numbers per axis (height, width):

* ``receptive_field``: the side of the input region one output unit sees (r);
* ``stride``: the distance in input pixels between two adjacent output units (the "jump" j,
  the product of the strides so far);
* ``start``: the input coordinate of the centre of the first output unit's field (pixel
  centres at 0, 1, 2, ...; a negative start means the field reaches into the padding).

The recurrences are those of Araujo, Norris & Sim 2019, "Computing Receptive Fields of
Convolutional Neural Networks" (Distill), for a kernel k, stride s and dilation d
(effective kernel ``k' = d (k - 1) + 1``) with ``p`` pixels of padding before the input::

    r_out = r_in + (k' - 1) j_in     j_out = j_in s     start_out = start_in + ((k' - 1) / 2 - p) j_in

* Conv2D, DepthwiseConv2D, SeparableConv2D, MaxPooling2D, AveragePooling2D and kerascnn's
  LocallyConnected2D / TiledConv2D use their kernel (pool) size, strides, dilation and
  padding. ``"same"`` padding pads ``max((ceil(n / s) - 1) s + k' - n, 0)`` pixels, the
  smaller half before (TensorFlow's and JAX's convention), so it needs the input size;
* kerascnn's CeilPooling2D (PyTorch's pooling) uses its pool size, strides and symmetric
  padding (ceil mode adds a window at the end, which changes no field);
* ZeroPadding2D and Cropping2D move ``start``; ZeroPadShortcut subsamples (k = 1, stride s);
* layers with several inputs (Add, Concatenate, Multiply, ...) take the union of their
  inputs' fields, which is the largest field when the branches are centred alike; inputs that
  carry no position (derived from global pooling and broadcast, as squeeze-excitation's
  channel weights are) do not enlarge it;
* StochasticDepth adds its residual branch's field to the shortcut's; ConcatNormReLUConv is a
  concatenation followed by a "same" convolution;
* any other layer that keeps the spatial size (activations, normalizations, dropout,
  channel shuffle, ...) passes the field through.

Layers after global pooling or Flatten see the whole image and are not listed. A layer of
another type that changes the spatial size raises ValueError rather than being guessed.
"""

from __future__ import annotations

import dataclasses

import keras

from kerascnn.graph import calls, graph_model, is_graph_model
from kerascnn.layers.conv import axis_padding

__all__ = ["receptive_field", "Field"]


@dataclasses.dataclass(frozen=True)
class Field:
    """Receptive field of a feature map, per axis (height, width)."""

    size: tuple
    stride: tuple
    start: tuple

    @property
    def left(self) -> tuple:
        return tuple(c - (r - 1) / 2 for c, r in zip(self.start, self.size))

    @property
    def right(self) -> tuple:
        return tuple(c + (r - 1) / 2 for c, r in zip(self.start, self.size))


_GLOBAL = "global"  # a tensor that carries no position (after global pooling / Flatten)
_CONVS = ("Conv2D", "DepthwiseConv2D", "SeparableConv2D", "LocallyConnected2D", "TiledConv2D")
_POOLS = ("MaxPooling2D", "AveragePooling2D", "SameAveragePooling2D")
_UNSUPPORTED = ("Conv2DTranspose", "UpSampling2D", "Resizing")
_GLOBAL_LAYERS = ("GlobalAveragePooling2D", "GlobalMaxPooling2D", "Flatten")


def _pair(value) -> tuple:
    if isinstance(value, int):
        return (value, value)
    return tuple(int(v) for v in value)


def _spatial(shape, data_format) -> tuple:
    shape = tuple(shape)
    return tuple(shape[2:4]) if data_format == "channels_first" else tuple(shape[1:3])


def _data_format(layer) -> str:
    config = layer.get_config()
    return config.get("data_format") or keras.config.image_data_format()


def _union(fields: list[Field]) -> Field:
    if len(fields) == 1:
        return fields[0]
    strides = tuple(max(f.stride[a] for f in fields) for a in range(2))
    left = tuple(min(f.left[a] for f in fields) for a in range(2))
    right = tuple(max(f.right[a] for f in fields) for a in range(2))
    size = tuple(_int(right[a] - left[a] + 1) for a in range(2))
    start = tuple(_num((left[a] + right[a]) / 2) for a in range(2))
    return Field(size, strides, start)


def _num(x):
    return int(x) if float(x).is_integer() else float(x)


def _int(x) -> int:
    return int(round(x))


def _apply(field: Field, kernel, strides, dilation, pad_before) -> Field:
    size, jump, start = [], [], []
    for a in range(2):
        k_eff = dilation[a] * (kernel[a] - 1) + 1
        size.append(field.size[a] + (k_eff - 1) * field.stride[a])
        jump.append(field.stride[a] * strides[a])
        start.append(_num(field.start[a] + ((k_eff - 1) / 2 - pad_before[a]) * field.stride[a]))
    return Field(tuple(size), tuple(jump), tuple(start))


def _same_padding(layer, in_size, kernel, strides, dilation) -> tuple:
    pads = []
    for a in range(2):
        if in_size[a] is None:
            raise ValueError(
                f"receptive_field needs a fixed input size for layer {layer.name!r} "
                "('same' padding with a stride above 1 depends on it); build the model with "
                "input_shape=(height, width, channels)."
            )
        k_eff = dilation[a] * (kernel[a] - 1) + 1
        pads.append(axis_padding(in_size[a], k_eff, strides[a])[0])
    return tuple(pads)


def _padding_before(layer, padding, in_size, kernel, strides, dilation) -> tuple:
    if padding == "valid":
        return (0, 0)
    if padding != "same":
        raise ValueError(
            f"receptive_field knows 'valid' and 'same' padding; layer {layer.name!r} has "
            f"padding={padding!r}."
        )
    if all(s == 1 for s in strides) and all((k - 1) * d % 2 == 0
                                            for k, d in zip(kernel, dilation)):
        return tuple((k - 1) * d // 2 for k, d in zip(kernel, dilation))  # any input size
    return _same_padding(layer, in_size, kernel, strides, dilation)


def _layer_field(layer, field: Field, in_shape, out_shape) -> Field:
    """The field of a single-input spatial layer's output."""
    kind = type(layer).__name__
    config = layer.get_config()
    data_format = _data_format(layer)
    in_size = _spatial(in_shape, data_format)
    if kind in _CONVS or kind in _POOLS:
        if kind in _CONVS:
            kernel = _pair(config["kernel_size"])
            strides = _pair(config.get("strides", 1))
            dilation = _pair(config.get("dilation_rate", 1))
            padding = config.get("padding", "valid")
        else:
            kernel = _pair(config["pool_size"])
            strides = _pair(config.get("strides") or config["pool_size"])
            dilation = (1, 1)
            padding = config.get("padding", "valid")
        pad = _padding_before(layer, str(padding).lower(), in_size, kernel, strides, dilation)
        return _apply(field, kernel, strides, dilation, pad)
    if kind in ("CeilPooling2D", "CeilMaxPooling2D"):  # symmetric explicit padding; ceil mode only adds windows
        pad = _pair(config["padding"])
        return _apply(field, _pair(config["pool_size"]), _pair(config["strides"]), (1, 1), pad)
    if kind == "ZeroPadding2D":
        (top, _), (left, _) = config["padding"]
        return _apply(field, (1, 1), (1, 1), (1, 1), (top, left))
    if kind == "Cropping2D":
        (top, _), (left, _) = config["cropping"]
        return _apply(field, (1, 1), (1, 1), (1, 1), (-top, -left))
    if kind == "ZeroPadShortcut":
        strides = _pair(config["strides"])
        return _apply(field, (1, 1), strides, (1, 1), (0, 0))
    if kind in _UNSUPPORTED:
        raise ValueError(
            f"receptive_field does not support layer {layer.name!r} ({kind}): it enlarges the "
            "feature map; supported are convolutions, pooling, padding and cropping."
        )
    out_size = _spatial(out_shape, data_format)
    if tuple(out_size) != tuple(in_size):
        raise ValueError(
            f"receptive_field does not know layer {layer.name!r} ({kind}), which changes the "
            f"spatial size from {in_size} to {out_size}; supported are Conv2D, DepthwiseConv2D, "
            "SeparableConv2D, pooling, ZeroPadding2D, Cropping2D and size-preserving layers."
        )
    return field


def _walk(model, input_states: list, prefix: str, rows: list) -> list:
    """Propagates the input states through ``model``'s graph; returns its output states."""
    model = graph_model(model, "receptive_field")
    states = {id(t): s for t, s in zip(model.inputs, input_states)}
    for call in calls(model):
        in_states = [states.get(id(t), _GLOBAL) for t in call.inputs]
        outs = _node_states(call.layer, call, in_states, f"{prefix}{call.layer.name}", rows)
        for tensor, state in zip(call.outputs, outs):
            states[id(tensor)] = state
    return [states.get(id(t), _GLOBAL) for t in model.outputs]


def _node_states(layer, call, in_states, path, rows) -> list:
    in_shapes = [tuple(t.shape) for t in call.inputs]
    out_shapes = [tuple(t.shape) for t in call.outputs]
    kind = type(layer).__name__
    if is_graph_model(layer):
        return _walk(layer, in_states, f"{path}/", rows)
    fields = [s for s in in_states if s is not _GLOBAL]
    if not fields or len(out_shapes) != 1 or len(out_shapes[0]) != 4 or kind in _GLOBAL_LAYERS:
        return [_GLOBAL] * len(out_shapes)
    if kind == "StochasticDepth":
        shortcut, branch_in = in_states
        branch = layer.branch
        if is_graph_model(branch):
            branch_out = _walk(branch, [branch_in], f"{path}/", rows)[0]
        else:
            branch_out = _layer_field(branch, branch_in, in_shapes[1], out_shapes[0])
        field = _union([s for s in (shortcut, branch_out) if s is not _GLOBAL])
    elif len(in_shapes) > 1 or kind == "ConcatNormReLUConv":
        field = _union(fields)
        if kind == "ConcatNormReLUConv":
            k = _pair(layer.kernel_size)
            field = _apply(field, k, (1, 1), (1, 1), ((k[0] - 1) // 2, (k[1] - 1) // 2))
    else:
        field = _layer_field(layer, fields[0], in_shapes[0], out_shapes[0])
    rows.append({
        "layer": path,
        "class": kind,
        "receptive_field": field.size,
        "stride": field.stride,
        "start": field.start,
        "output_size": _spatial(out_shapes[0], _data_format(layer)),
    })
    return [field]


def receptive_field(model) -> list[dict]:
    """Receptive field, effective stride and start of every spatial layer, in graph order.

    Args:
        model: a built Functional or Sequential ``keras.Model`` whose first input is an image
            batch (4-D). Nested models are expanded (``outer/inner/layer``).

    Returns:
        A list with one dict per layer call whose output is a 4-D feature map:
        ``layer`` (the path), ``class``, ``receptive_field`` (height, width), ``stride``
        (height, width: the jump in input pixels), ``start`` (height, width: centre of the
        first unit's field, input pixel centres at 0, 1, ...) and ``output_size``.
        The last entry is the model's last spatial layer (before global pooling / Flatten).

    Raises:
        ValueError: the model has no layer graph or no image input, a "same"-padded strided
            layer has an unknown input size, or a layer of an unknown type changes the
            spatial size.

    Examples:
        >>> rows = receptive_field(keras.applications.VGG16(weights=None))  # doctest: +SKIP
        >>> [r for r in rows if r["layer"] == "block5_conv3"][0]["receptive_field"]
        (196, 196)
    """
    graph = graph_model(model, "receptive_field")
    inputs = graph.inputs
    if not inputs or len(inputs[0].shape) != 4:
        shape = tuple(inputs[0].shape) if inputs else None
        raise ValueError(
            f"receptive_field needs a model whose input is an image batch (4-D); "
            f"{model.name!r} takes shape {shape}."
        )
    start = Field((1, 1), (1, 1), (0, 0))
    states = [start if len(t.shape) == 4 else _GLOBAL for t in inputs]
    rows: list[dict] = []
    _walk(model, states, "", rows)
    return rows
