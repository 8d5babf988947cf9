"""SqueezeNet 1.0 and 1.1 (Iandola et al., "SqueezeNet: AlexNet-level accuracy
with 50x fewer parameters and <0.5MB model size", 2016).

conv1 -> max pool -> eight Fire modules (fire2..fire9) with max pooling after
conv1, fire4 and fire8 (v1.0; late downsampling) -> dropout 0.5 after fire9 ->
conv10 (1x1, ``classes`` filters) -> ReLU -> global average pooling. Biases
everywhere, no BN. v1.1 (the SqueezeNet repository's revision) uses a 3x3/2
conv1 with 64 filters and pools after conv1, fire3 and fire5 (2.4x less
computation, same accuracy). Max pooling rounds the output size up (Caffe's
rule), built as a bottom/right zero padding of one pixel (inputs are
post-ReLU, so a zero never wins over a real value) then 3x3/2 pooling.

============== ============== ========== ===========
name            conv1          pools       params
============== ============== ========== ===========
squeezenet1_0   96, 7x7/2      1, 4, 8    1,248,424
squeezenet1_1   64, 3x3/2      1, 3, 5    1,235,496
============== ============== ========== ===========

``bypass="simple"`` adds identity shortcuts around fire3/5/7/9, and
``"complex"`` also 1x1-convolution shortcuts around fire2/4/6/8 (the paper's
§6 variants).
"""

from __future__ import annotations

from keras import layers

from kerascnn.layers.conv import Conv2D
from kerascnn.models.common import (
    build_input,
    check_arguments,
    check_rate,
    classifier_head,
    finish_model,
)
from kerascnn.models.squeezenet.blocks import fire_module
from kerascnn.models.variants import Variant, register_variants

__all__ = ["SqueezeNet", "SqueezeNet1_0", "SqueezeNet1_1"]

PAPER = ("SqueezeNet: AlexNet-level accuracy with 50x fewer parameters and <0.5MB model size",
         2016)

# (s1x1, e1x1, e3x3) of fire2..fire9 (both versions).
FIRES = ((16, 64, 64), (16, 64, 64), (32, 128, 128), (32, 128, 128),
         (48, 192, 192), (48, 192, 192), (64, 256, 256), (64, 256, 256))
VERSIONS = {
    "1_0": dict(conv1=(96, 7), pool_after=(4, 8)),
    "1_1": dict(conv1=(64, 3), pool_after=(3, 5)),
}


def _ceil_max_pool(x, name):
    x = layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"{name}_pad")(x)
    return layers.MaxPooling2D(3, strides=2, name=name)(x)


def SqueezeNet(version="1_0", include_top=True, weights=None, input_tensor=None,
               input_shape=None, pooling=None, classes=1000, classifier_activation="softmax",
               name="squeezenet", bypass=None, dropout_rate=0.5):
    """Builds SqueezeNet ``version`` ("1_0" or "1_1").

    Args:
        version: ``"1_0"`` (paper) or ``"1_1"``.
        include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation, name: as keras.applications (no ImageNet
            weights).
        bypass: None, ``"simple"`` or ``"complex"``.
        dropout_rate: dropout after fire9 (0.5).

    Returns:
        A ``keras.Model``.
    """
    check_arguments(weights, include_top, classes, pooling, classifier_activation)
    if version not in VERSIONS:
        raise ValueError(f"`version` must be '1_0' or '1_1'; got version={version!r}.")
    if bypass not in (None, "simple", "complex"):
        raise ValueError(f"`bypass` must be None, 'simple' or 'complex'; got bypass={bypass!r}.")
    check_rate(dropout_rate, "dropout_rate")
    spec = VERSIONS[version]
    img_input = build_input(input_tensor, input_shape, default_shape=(224, 224, 3),
                            min_size=32, include_top=include_top,
                            weights=weights)
    filters, kernel = spec["conv1"]
    x = Conv2D(filters, kernel, strides=2, activation="relu", name="conv1")(img_input)
    x = _ceil_max_pool(x, "pool1")
    channels = filters
    for i, (s1, e1, e3) in enumerate(FIRES, start=2):
        out = e1 + e3
        fire_bypass = None
        if bypass == "complex" or (bypass == "simple" and channels == out):
            fire_bypass = "complex" if channels != out else "simple"
        x = fire_module(x, s1, e1, e3, name=f"fire{i}", bypass=fire_bypass)
        channels = out
        if i in spec["pool_after"]:
            x = _ceil_max_pool(x, f"pool{i}")
    if include_top:
        x = layers.Dropout(dropout_rate, name="drop9")(x)
        x = Conv2D(classes, 1, activation="relu", name="conv10")(x)
    x = classifier_head(x, include_top, pooling, classes, classifier_activation, dense=False)
    return finish_model(img_input, input_tensor, x, name, weights)


_CONVENTION = ("fire modules, conv biases, no BN, ceil-mode max pooling, conv10 + ReLU + "
               "global average pooling head")

VARIANTS = (
    Variant("squeezenet1_0", "SqueezeNet1_0", dict(version="1_0"), PAPER, _CONVENTION,
            summary="SqueezeNet 1.0 (the paper's table 1)"),
    Variant("squeezenet1_1", "SqueezeNet1_1", dict(version="1_1"), PAPER, _CONVENTION,
            summary="SqueezeNet 1.1 (the authors' release: 3x3/2 64-filter stem, earlier "
                    "pooling)"),
)

_DOC = """Instantiates {summary}.

    Iandola et al., "{title}", {year}. Arguments as :func:`SqueezeNet`
    (``bypass``: None, "simple" or "complex"; ``dropout_rate``: before conv10).
    """


REGISTERED = {}
REGISTERED.update(register_variants(SqueezeNet, VARIANTS, family="squeezenet", doc=_DOC,
                  options=("bypass", "dropout_rate"), recipe="squeezenet", paper_recipe="squeezenet",
                  module=__name__))
SqueezeNet1_0 = REGISTERED["squeezenet1_0"]
SqueezeNet1_1 = REGISTERED["squeezenet1_1"]
