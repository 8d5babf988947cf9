"""Stage feature maps: every registered network as a backbone for detection and segmentation.

``kerascnn.create_model(name, features_only=True, out_indices=None)`` returns the network
without its classifier (``include_top=False``) with one output per stage: the feature map at the
end of the stage. ``kerascnn.model_info(name)["feature_info"]`` lists those taps, one dict per
output: ``{"layer": name, "channels": C, "stride": S, "index": i}``.

One rule picks the taps of every family:

* a tap carries everything downstream: no connection of the layer graph jumps over it (a cut
  vertex), so it is a stage's whole output, never one branch of an Inception module or the
  residual branch of a block;
* its stride is the effective stride of its output (the product of the strides between the
  input and the layer, read from the layers' configurations), so padding choices ("valid" 3x3
  convolutions of Inception v3, LeNet-5's 5x5) do not change it;
* of the cut layers at one stride the tap is the last: the end of the processing at that
  resolution (the ReLU after ResNet's last block of a stage, the concatenation that ends
  GoogLeNet's inception (4e), VGG's last convolution before each pooling);
* strides start at 2 for the ImageNet networks (a 224-pixel input gives maps at strides 2, 4,
  8, 16 and 32 where the network has them: ResNet-50 has all five, AlexNet starts at 4,
  SqueezeNet stops at 16) and at 1 for the networks whose default input is 32 pixels (the
  CIFAR networks and LeNet-5: strides 1, 2 and 4);
* some layers are never taps: zero padding and dropout (they pass a map on), and the layers of
  :data:`NOT_A_TAP`.

VGG's taps are the last convolution before each pooling (``block2_conv2`` at stride 2,
``block3_conv3`` at 4, ``block4_conv3`` at 8, ``block5_conv3`` at 16) and ``block5_pool`` at
32, the only map at that stride, rather than the pooled ``block{k}_pool``: a pooling only
subsamples the map of the previous block, so ``block1_pool`` at stride 2 holds the 64 maps
of the first block where ``block2_conv2`` holds 128 computed at that resolution; it is the
choice of SSD (Liu et al., "SSD: Single Shot MultiBox Detector", 2016: ``conv4_3``) and the
same rule as ResNet's (the stride-4 tap is the end of ``conv2_x``, not the max pooling that
starts it).

The taps at the default arguments (``layer@stride``; every listed name in
``kerascnn/feature_info.json``)::

    ResNet, Wide ResNet, ResNeXt,  conv1_relu@2 (SENet-154: conv1_3_relu), then the last block of
      SE-ResNet(X), SENet-154      each stage: res2c_relu@4 res3d_relu@8 res4f_relu@16
                                   res5c_relu@32 (ResNet-50)
    ResNet v2 (keras layout)       conv1_conv@2 conv2_block2_out@4 conv3_block3_out@8
                                   conv4_block5_out@16 post_relu@32 (ResNet-50 v2: a stage's
                                   last block has the stride, so the tap is the block before)
    CIFAR ResNet, ResNeXt-29       stage1_block{n}_out@1 stage2_block{n}_out@2
                                   stage3_block{n}_out@4
    pre-activation ResNet, WRN     stage1_block{n}_out@1 stage2_block{n}_out@2 post_relu@4
    VGG                            block2_conv2@2 block3_conv3@4 block4_conv3@8
                                   block5_conv3@16 block5_pool@32 (VGG-16; with BN the
                                   ``_relu`` after each convolution)
    AlexNet                        lrn1@4 lrn2@8 conv5@16 pool5@32 (AlexNet-OWT: conv1, conv2)
    ZFNet                          conv1@2 lrn1@4 conv2@8 conv5@16 pool5@32
    LeNet-5                        c1@1 c3@2 c5@4
    NiN                            nin1_mlp2@4 nin2_mlp2@8 nin3_mlp2@16 pool3@32
    NiN (CIFAR)                    stage1_mlp2@1 stage2_mlp2@2 stage3_mlp1@4
    GoogLeNet                      conv1_relu@2 lrn2@4 inception_3b_output@8
                                   inception_4e_output@16 inception_5b_output@32
    BN-Inception                   conv1_relu@2 conv2_relu@4 inception_3b_output@8
                                   inception_4d_output@16 inception_5b_output@32
    Inception v3                   conv3_relu@2 conv5_relu@4 mixed2@8 mixed7@16 mixed10@32
    Inception v4                   stem_conv3_relu@2 stem_mixed2@4 inception_a4@8
                                   inception_b7@16 inception_c3@32
    Inception-ResNet v1            stem_conv3_relu@2 stem_conv5_relu@4 block35_5_ac@8
                                   block17_10_ac@16 block8_5_ac@32
    Inception-ResNet v2            conv3_relu@2 conv5_relu@4 block35_10_ac@8 block17_20_ac@16
                                   conv_7b_relu@32
    Xception                       block1_conv2_act@2 block2_add@4 block3_add@8 block12_add@16
                                   block14_sepconv2_act@32
    DenseNet                       conv1_relu@2 pool2_relu@4 pool3_relu@8 pool4_relu@16 relu@32
    DenseNet (CIFAR)               pool2_relu@1 pool3_relu@2 relu@4
    SqueezeNet 1.0                 conv1@2 fire4_concat@4 fire8_concat@8 fire9_concat@16
    SqueezeNet 1.1                 conv1@2 fire3_concat@4 fire5_concat@8 fire9_concat@16
    MobileNet                      conv_pw_1_relu@2 conv_pw_3_relu@4 conv_pw_5_relu@8
                                   conv_pw_11_relu@16 conv_pw_13_relu@32
    ShuffleNet                     conv1_relu@2 pool1@4 stage2_unit4_relu@8
                                   stage3_unit8_relu@16 stage4_unit4_relu@32

The taps of the registered names with their default arguments are stored in
``kerascnn/feature_info.json`` (so that ``model_info`` is instant); ``python -m
kerascnn.features`` rewrites it after a family changes.
"""

from __future__ import annotations

import functools
import json
import os
import re

import keras

from kerascnn import registry
from kerascnn.models import load_families
from kerascnn.utils.io import atomic_write

__all__ = ["NOT_A_TAP", "stage_taps", "feature_info", "feature_model", "create_feature_model"]

_CACHE = os.path.join(os.path.dirname(__file__), "feature_info.json")

# Layer-name patterns that are never a stage's output, and why.
NOT_A_TAP = (
    (r"_preact_(bn|relu)$",
     "the pre-activation of a pre-activation ResNet's block (He et al., \"Identity Mappings in "
     "Deep Residual Networks\") opens the next block: the stage's output is the sum before it"),
    (r"^pool\d+_conv$",
     "DenseNet's transition convolution (Huang et al., \"Densely Connected Convolutional "
     "Networks\") compresses a dense block for the next one: the tap is the block's BN-ReLU "
     "(pool{k}_relu) with all its channels"),
)

# Layers that only pass a map on (a tap is the layer before them).
_PASS_THROUGH = ("ZeroPadding2D", "Dropout", "SpatialDropout2D", "GaussianDropout",
                 "GaussianNoise", "AlphaDropout", "InputLayer")

_PROBE_SIZE = 224



def _spec(name: str) -> registry.Variant:
    load_families()
    return registry.get_spec(name)


def _listed_names() -> list[str]:
    load_families()
    return registry.names()

def _spatial(shape):
    """(height, width, channels) of a 4-D shape, or None."""
    if shape is None or len(shape) != 4:
        return None
    if keras.config.image_data_format() == "channels_last":
        return shape[1], shape[2], shape[3]
    return shape[2], shape[3], shape[1]


def _layer_stride(op):
    strides = getattr(op, "strides", None)
    if strides is None:
        return None
    if isinstance(strides, (tuple, list)):
        strides = strides[0]
    return int(strides) if isinstance(strides, int) and strides >= 1 else None


def _output_shapes(model, ops, probe_size):
    """Static output shape of every operation (probed at ``probe_size`` where the model's input
    size is not fixed)."""
    if len(model.inputs) != 1:
        raise ValueError(f"Feature taps need a model with one image input; {model.name!r} has "
                         f"{len(model.inputs)}.")
    size = _spatial(tuple(model.inputs[0].shape))
    if size is None:
        raise ValueError(f"Feature taps need an image input (batch, height, width, channels); "
                         f"{model.name!r} takes {tuple(model.inputs[0].shape)}.")
    if size[0] is not None and size[1] is not None:
        return [tuple(op.output.shape) for op in ops]
    height, width = probe_size
    shape = ((1, height, width, size[2]) if keras.config.image_data_format() == "channels_last"
             else (1, size[2], height, width))
    probe = keras.Model(model.inputs[0], [op.output for op in ops])
    specs = probe.compute_output_spec(keras.KerasTensor(shape, dtype=model.inputs[0].dtype))
    return [tuple(s.shape) for s in specs]


def _candidates(model, probe_size) -> list[dict]:
    """Every layer that may end a stage, in graph order: ``{"layer", "channels", "stride"}``."""
    from kerascnn.graph import topology

    ops, order, parents, children = topology(model)
    shapes = _output_shapes(model, ops, probe_size)
    position = {i: p for p, i in enumerate(order)}

    # Effective strides from the layers' configurations (a layer without a ``strides``
    # setting keeps its inputs' stride, or divides by the ratio of its input and output
    # sizes where it shrinks the map: ZeroPadShortcut, StochasticDepth's merge).
    stride = {}
    for i in order:
        out = _spatial(shapes[i])
        if type(ops[i]).__name__ == "InputLayer":
            stride[i] = 1
            continue
        if out is None:
            stride[i] = None
            continue
        own = _layer_stride(ops[i]) if len(parents[i]) == 1 else None
        strides = []
        for p in parents[i]:
            src = _spatial(shapes[p])
            if stride.get(p) is None or src is None:
                continue
            factor = own
            if factor is None:
                factor = round(src[0] / out[0]) if src[0] and out[0] and out[0] < src[0] else 1
            strides.append(stride[p] * factor)
        stride[i] = max(strides) if strides else None

    # Cut vertices: no edge from an earlier layer lands after this one.
    excluded = [re.compile(pattern) for pattern, _ in NOT_A_TAP]
    reach, found = -1, []
    for p, i in enumerate(order):
        op = ops[i]
        if (reach <= p and stride[i] is not None and type(op).__name__ not in _PASS_THROUGH
                and not any(e.search(op.name) for e in excluded)):
            found.append({"layer": op.name, "channels": int(_spatial(shapes[i])[2]),
                          "stride": int(stride[i])})
        for child, _ in children[i]:
            reach = max(reach, position[child])
    return found


def stage_taps(model, min_stride: int = 2, probe_size=(_PROBE_SIZE, _PROBE_SIZE)) -> list[dict]:
    """The stage outputs of a built functional model, by the rule of the module's docstring.

    Args:
        model: a functional image model (built without its classifier: the convolutional
            classifiers of NiN and SqueezeNet would count as a stage).
        min_stride: the smallest stride that gets a tap (2 for ImageNet networks, 1 for
            CIFAR-size ones).
        probe_size: (height, width) at which the shapes are computed when the model's input
            size is not fixed (strides do not depend on it).

    Returns:
        ``[{"layer": name, "channels": C, "stride": S, "index": i}, ...]`` by increasing
        stride.
    """
    return _last_per_stride(_candidates(model, probe_size), min_stride)


def _min_stride(spec) -> int:
    """1 for networks whose default input is 32 pixels or less (CIFAR, LeNet-5), else 2."""
    return 1 if min(spec.default_input[:2]) <= 32 else 2


def _probe_size(spec):
    return tuple(spec.default_input[:2])


def _check_out_indices(out_indices, taps, name):
    if out_indices is None:
        return list(taps)
    strides = ", ".join(str(t["stride"]) for t in taps)
    allowed = (f"out_indices must be distinct integers in 0..{len(taps) - 1} ({name}'s taps "
               f"at strides {strides})")
    if (not isinstance(out_indices, (tuple, list)) or not out_indices or
            any(isinstance(i, bool) or not isinstance(i, int) for i in out_indices) or
            len(set(out_indices)) != len(out_indices) or
            any(not 0 <= i < len(taps) for i in out_indices)):
        raise ValueError(f"{allowed}; got out_indices={out_indices!r}.")
    return [taps[i] for i in out_indices]


def _last_per_stride(candidates, min_stride) -> list[dict]:
    last = {}
    for candidate in candidates:
        if candidate["stride"] >= min_stride:
            last[candidate["stride"]] = candidate
    return [dict(last[s], index=index) for index, s in enumerate(sorted(last))]


def feature_model(model, out_indices=None, *, min_stride=None, name=None):
    """A model with the stage outputs of an already built ``model``: it shares its layers, so
    its weights (a trained classifier's feature maps).

    Args:
        model: a functional image model, with or without its classifier.
        out_indices: indices of the taps to output (None: all), in the order given.
        min_stride: the smallest stride that gets a tap. None: where ``model.name`` is a
            registered name, the registered network's taps (``model_info(name)
            ["feature_info"]``: with the classifier, NiN's last block and SqueezeNet's conv10
            are not stages); else 2.
        name: the new model's name (default ``{model.name}_features``).
    """
    spec = None
    if min_stride is None:
        try:
            spec = _spec(model.name)
        except ValueError:
            min_stride = 2
    probe = _probe_size(spec) if spec is not None else (_PROBE_SIZE, _PROBE_SIZE)
    if spec is not None:
        min_stride = _min_stride(spec)
    candidates = _candidates(model, probe)
    taps = _last_per_stride(candidates, min_stride)
    if spec is not None:
        by_name = {c["layer"]: c for c in candidates}
        names = [t["layer"] for t in feature_info(spec.name)]
        if all(n in by_name for n in names):
            taps = [dict(by_name[n], index=i) for i, n in enumerate(names)]
    if not taps:
        raise ValueError(f"{model.name!r} has no layer that outputs a whole stage's map at "
                         f"stride {min_stride} or more.")
    selected = _check_out_indices(out_indices, taps, model.name)
    return keras.Model(model.inputs[0], [model.get_layer(t["layer"]).output for t in selected],
                       name=name or f"{model.name}_features")


def create_feature_model(name: str, out_indices=None, **kwargs):
    """``kerascnn.create_model(name, features_only=True, out_indices=..., **kwargs)``.

    Builds the registered network without its classifier (``include_top=False``; the other
    arguments as :func:`kerascnn.create_model`, ``weights`` included) and returns a model whose
    outputs are the maps at the end of each stage (:func:`stage_taps`), or those that
    ``out_indices`` picks, in its order.
    """
    spec = _spec(name)
    if kwargs.get("include_top", False) is not False:
        raise ValueError("features_only=True builds the network without its classifier: "
                         f"drop include_top={kwargs['include_top']!r}.")
    if kwargs.get("pooling") is not None:
        raise ValueError("features_only=True returns the stage maps unpooled: "
                         f"drop pooling={kwargs['pooling']!r}.")
    kwargs["include_top"] = False
    backbone = spec.build(**kwargs)
    taps = stage_taps(backbone, min_stride=_min_stride(spec), probe_size=_probe_size(spec))
    selected = _check_out_indices(out_indices, taps, spec.name)
    return keras.Model(backbone.inputs[0],
                       [backbone.get_layer(t["layer"]).output for t in selected],
                       name=f"{backbone.name}_features")


def compute_feature_info(name: str) -> list[dict]:
    """The taps of ``name`` with its default arguments, found by building it."""
    spec = _spec(name)
    backbone = spec.build(include_top=False)
    return stage_taps(backbone, min_stride=_min_stride(spec), probe_size=_probe_size(spec))


@functools.lru_cache(maxsize=1)
def _stored() -> dict:
    if not os.path.exists(_CACHE):
        return {}
    with open(_CACHE, encoding="utf-8") as f:
        return json.load(f)["models"]


@functools.cache
def _computed(name: str) -> tuple:
    return tuple(compute_feature_info(name))


def feature_info(name: str) -> list[dict]:
    """The taps of the registered ``name`` (default arguments): ``[{"layer", "channels",
    "stride", "index"}, ...]`` by increasing stride.

    Listed names are read from ``kerascnn/feature_info.json``; any other name a pattern
    accepts (``resnet38_cifar``) is built once to find them.
    """
    spec = _spec(name)
    stored = _stored().get(spec.name)
    taps = stored if stored is not None else _computed(spec.name)
    return [dict(t) for t in taps]


def write_feature_info(path: str = _CACHE, names=None) -> dict:
    """Computes the taps of every listed model (or of ``names``) and writes them to ``path``."""
    models = {}
    for model_name in names or _listed_names():
        models[model_name] = compute_feature_info(model_name)
        keras.backend.clear_session()
        print(model_name, " ".join(f"{t['layer']}@{t['stride']}" for t in models[model_name]),
              flush=True)
    about = ("Stage taps of the registered models with their default arguments "
             "(kerascnn.features); rewrite with `python -m kerascnn.features`.")
    lines = [f" {json.dumps(n)}: {json.dumps(models[n])}" for n in sorted(models)]
    atomic_write(path, f'{{"about": {json.dumps(about)},\n"models": {{\n' + ",\n".join(lines)
                 + "\n}}\n")
    _stored.cache_clear()
    return models


if __name__ == "__main__":
    write_feature_info()
