"""Inception v4 and Inception-ResNet v1 / v2 (Szegedy, Ioffe, Vanhoucke & Alemi,
"Inception-v4, Inception-ResNet and the Impact of Residual Connections on
Learning", AAAI 2017).

=================== ======================================================= ==============
name                 layout                                                  trainable
=================== ======================================================= ==============
inception_v4         v4 stem, 4 x A, Reduction-A (192, 224, 256, 384),       42,679,816
                     7 x B, Reduction-B, 3 x C; BN (with scale, eps 1e-3),
                     no conv bias, dropout 0.2
inception_resnet_v1  v1 stem (-> 35x35x256), 5 x A (scale 0.17),             22,742,808
                     Reduction-A (192, 192, 256, 384), 10 x B (0.1),
                     Reduction-B, 5 x C (0.2), dropout 0.2
inception_resnet_v2  keras.applications.InceptionResNetV2: 10 x A (0.17),    55,813,192
                     Reduction-A (256, 256, 384, 384), 20 x B (0.1),
                     Reduction-B, 10 x C (0.2, the last linear), 1x1 1536
=================== ======================================================= ==============

The residual modules project their concatenated branches back to the input
width with a linear 1x1 convolution and add ``scale * residual`` to the input
(section 3.3: scaling stabilises wide residual Inception networks).
Inception-ResNet-v2 is keras' graph exactly (``count_params()`` 55,873,736,
``weights="imagenet"`` reads keras' file: 10/20/10 modules, the released
TF-slim model, where the paper's figure 18 draws 5/10/5).

``inception_v4_timm`` and ``inception_resnet_v2_timm`` are the layouts of timm's
``inception_v4`` and ``inception_resnet_v2`` (ports of TF-slim's released checkpoints):
Inception v4 with TF-slim's order of the factorised convolutions (module B's double 7x7
branch 7x1 -> 1x7 -> 7x1 -> 1x7; module C's double branch 3x1 448 -> 1x3 512; the same
parameter count), Inception-ResNet-v2 with a BN gamma after every convolution but the
linear projections (55,843,464 parameters, keras' 55,813,192 trainable + 30,272 gammas).
Their 3x3/1 average pooling excludes the padding (``count_include_pad=False``), as keras'
"same" pooling.

Inception-ResNet-v1 is the paper's network: the stem of figure 14, modules of
figures 10, 11 and 13, Reduction-A with table 1's (k, l, m, n) = (192, 192, 256,
384), Reduction-B of figure 12, and figure 18's 5 x A, 10 x B, 5 x C, average
pooling, dropout (keep 0.8) and the classifier. Independent implementations
derived from TF-slim (FaceNet's) append a sixth, unscaled C module without ReLU
(about 1.6 M parameters more, 7 %); figure 18 has five, every one of them with
the ReLU of figure 13. What the paper leaves open follows keras' Inception-ResNet-
v2: no convolution bias and BN without scale (epsilon 1e-3) after every
non-linear-projection convolution, the linear 1x1 projection with a bias and no
BN (the paper puts BN "on top of the traditional layers, but not on top of the
summations"), scales 0.17 / 0.1 / 0.2 (the paper: "between 0.1 and 0.3").
"""

from __future__ import annotations

import keras
from keras import layers

from kerascnn.blocks.common import conv_bn
from kerascnn.blocks.inception_v3 import inception_v3_stem
from kerascnn.models.common import (
    build_input,
    channel_axis,
    check_arguments,
    check_rate,
    classifier_head,
    finish_model,
    keras_twin_loader,
)
from kerascnn.models.inception_v4.blocks import (
    inception_resnet_a,
    inception_resnet_b,
    inception_resnet_c,
    inception_resnet_reduction_b,
    inception_v4_a,
    inception_v4_b,
    inception_v4_c,
    inception_v4_reduction_b,
    inception_v4_stem,
    reduction_a,
)
from kerascnn.models.variants import KerasTwin, Variant, register_variants

__all__ = ["InceptionV4", "InceptionResNetV1", "InceptionResNetV2", "InceptionV4Timm",
           "InceptionResNetV2Timm"]

PAPER = ("Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning",
         2016)
MIN_SIZE = 75


def _start(weights, include_top, classes, pooling, classifier_activation, input_tensor,
           input_shape, dropout, imagenet=False):
    check_arguments(weights, include_top, classes, pooling, classifier_activation,
                    imagenet_available=imagenet)
    check_rate(dropout, "dropout")
    return build_input(input_tensor, input_shape, default_shape=(299, 299, 3),
                       min_size=MIN_SIZE, include_top=include_top, weights=weights)




def _inception_v4(include_top=True, weights=None, input_tensor=None, input_shape=None,
                   pooling=None, classes=1000, classifier_activation="softmax",
                   name="inception_v4", dropout=0.2, layout="paper"):
    img_input = _start(weights, include_top, classes, pooling, classifier_activation,
                       input_tensor, input_shape, dropout)
    x = inception_v4_stem(img_input)
    for i in range(4):
        x = inception_v4_a(x, name=f"inception_a{i + 1}")
    x = reduction_a(x, 192, 224, 256, 384, name="reduction_a")
    for i in range(7):
        x = inception_v4_b(x, name=f"inception_b{i + 1}", layout=layout)
    x = inception_v4_reduction_b(x, name="reduction_b")
    for i in range(3):
        x = inception_v4_c(x, name=f"inception_c{i + 1}", layout=layout)
    x = classifier_head(x, include_top, pooling, classes, classifier_activation,
                        dropout=dropout)
    return finish_model(img_input, input_tensor, x, name, weights)


def _inception_resnet_v1_stem(x):
    """3x3/2 32 V, 3x3 32 V, 3x3 64, 3x3/2 max pool V, 1x1 80, 3x3 192 V, 3x3/2 256 V."""
    x = conv_bn(x, 32, 3, strides=2, padding="valid", name="stem_conv1")
    x = conv_bn(x, 32, 3, padding="valid", name="stem_conv2")
    x = conv_bn(x, 64, 3, name="stem_conv3")
    x = layers.MaxPooling2D(3, strides=2, name="stem_pool")(x)
    x = conv_bn(x, 80, 1, padding="valid", name="stem_conv4")
    x = conv_bn(x, 192, 3, padding="valid", name="stem_conv5")
    return conv_bn(x, 256, 3, strides=2, padding="valid", name="stem_conv6")


def _inception_resnet_v1(include_top=True, weights=None, input_tensor=None, input_shape=None,
                          pooling=None, classes=1000, classifier_activation="softmax",
                          name="inception_resnet_v1", dropout=0.2, scales=(0.17, 0.1, 0.2)):
    img_input = _start(weights, include_top, classes, pooling, classifier_activation,
                       input_tensor, input_shape, dropout)
    if len(scales) != 3:
        raise ValueError(f"`scales` must be three numbers (A, B, C); got scales={scales!r}.")
    x = _inception_resnet_v1_stem(img_input)
    for i in range(1, 6):
        x = inception_resnet_a(x, scales[0], filters=(32, (32, 32), (32, 32, 32)),
                               name=f"block35_{i}")
    x = reduction_a(x, 192, 192, 256, 384, name="reduction_a", bn_scale=False)
    for i in range(1, 11):
        x = inception_resnet_b(x, scales[1], filters=(128, (128, 128, 128)),
                               name=f"block17_{i}")
    x = inception_resnet_reduction_b(x, filters=((256, 384), (256, 256), (256, 256, 256)),
                                     name="reduction_b")
    for i in range(1, 6):  # figure 18: five C modules, each as figure 13 (scaled sum, ReLU)
        x = inception_resnet_c(x, scales[2], filters=(192, (192, 192, 192)),
                               name=f"block8_{i}")
    x = classifier_head(x, include_top, pooling, classes, classifier_activation,
                        dropout=dropout)
    return finish_model(img_input, input_tensor, x, name, weights)


def _inception_resnet_v2(include_top=True, weights=None, input_tensor=None, input_shape=None,
                          pooling=None, classes=1000, classifier_activation="softmax",
                          name="inception_resnet_v2", bn_scale=False):
    img_input = _start(weights, include_top, classes, pooling, classifier_activation,
                       input_tensor, input_shape, 0, imagenet=not bn_scale)
    kw = dict(bn_scale=bn_scale)
    x = inception_v3_stem(img_input, **kw)
    # mixed_5b: an Inception-v3 A-like module to 320 channels.
    b0 = conv_bn(x, 96, 1, name="mixed_5b_b0_1x1", **kw)
    b1 = conv_bn(x, 48, 1, name="mixed_5b_b1_1x1", **kw)
    b1 = conv_bn(b1, 64, 5, name="mixed_5b_b1_5x5", **kw)
    b2 = conv_bn(x, 64, 1, name="mixed_5b_b2_1x1", **kw)
    b2 = conv_bn(b2, 96, 3, name="mixed_5b_b2_3x3_1", **kw)
    b2 = conv_bn(b2, 96, 3, name="mixed_5b_b2_3x3_2", **kw)
    bp = layers.AveragePooling2D(3, strides=1, padding="same", name="mixed_5b_pool")(x)
    bp = conv_bn(bp, 64, 1, name="mixed_5b_pool_proj", **kw)
    x = layers.Concatenate(axis=channel_axis(), name="mixed_5b")([b0, b1, b2, bp])
    for i in range(1, 11):
        x = inception_resnet_a(x, 0.17, name=f"block35_{i}", **kw)
    x = reduction_a(x, 256, 256, 384, 384, name="mixed_6a", **kw)
    for i in range(1, 21):
        x = inception_resnet_b(x, 0.1, name=f"block17_{i}", **kw)
    x = inception_resnet_reduction_b(x, name="mixed_7a", **kw)
    for i in range(1, 10):
        x = inception_resnet_c(x, 0.2, name=f"block8_{i}", **kw)
    x = inception_resnet_c(x, 1.0, activation=None, name="block8_10", **kw)
    x = conv_bn(x, 1536, 1, name="conv_7b", **kw)
    x = classifier_head(x, include_top, pooling, classes, classifier_activation)

    imagenet_loader = keras_twin_loader(
        keras.applications.InceptionResNetV2, "inception_resnet_v2", include_top,
        classes=classes, pooling=pooling, classifier_activation=classifier_activation)

    return finish_model(img_input, input_tensor, x, name, weights, imagenet_loader)


_DOC = """Instantiates {summary}.

    {title} ({year}).

    Args:
        include_top: include the global average pooling, the dropout (Inception v4,
            Inception-ResNet-v1) and the classifier.
        weights: {weights}.
        input_tensor: optional Keras tensor to use as image input.
        input_shape: optional (height, width, channels); default {input},
            at least {min_size}x{min_size}.
        pooling: None, ``"avg"`` or ``"max"`` when ``include_top=False``.
        classes: number of classes.
        classifier_activation: activation of the classifier (None for logits).
        name: model name.
        dropout: (Inception v4, Inception-ResNet-v1) dropout rate before the
            classifier (0.2: the paper's keep probability 0.8).
        scales: (Inception-ResNet-v1) residual scaling of the A, B and C modules.

    Returns:
        A ``keras.Model``.
    """

_INPUT = dict(default_input=(299, 299, 3), min_size=MIN_SIZE)

VARIANTS = (
    Variant("inception_v4", "InceptionV4", {}, PAPER,
            "BN with scale (eps 1e-3), no conv bias, dropout 0.2", builder=_inception_v4,
            options=("dropout",), summary="Inception v4 (figures 3-9)", **_INPUT),
    Variant("inception_resnet_v1", "InceptionResNetV1", {}, PAPER,
            "paper figures 10-14 and 18: 5/10/5 modules, scales 0.17/0.1/0.2, ReLU after "
            "every sum; no conv bias, BN without scale, biased linear projections as keras' "
            "Inception-ResNet-v2", builder=_inception_resnet_v1, options=("dropout", "scales"),
            summary="Inception-ResNet-v1 (the paper's network, figures 10-14 and 18)", **_INPUT),
    Variant("inception_resnet_v2", "InceptionResNetV2", {}, PAPER,
            "= keras.applications.InceptionResNetV2 (10/20/10 blocks)",
            keras_twin=KerasTwin("InceptionResNetV2", "inception_resnet_v2", "inception_resnet_v2", top1=80.3, license="slim", mode="tf",
                                 md5="e693bd0210a403b3192acc6073ad2e96",
                                 md5_notop="d19885ff4a710c122648d3b5c3b684e4"),
            builder=_inception_resnet_v2, options=(),
            summary="Inception-ResNet-v2 (keras.applications' layout)", **_INPUT),
    Variant("inception_v4_timm", "InceptionV4Timm", dict(layout="tf_slim"), PAPER,
            "= timm inception_v4 (TF-slim's release): BN with scale (eps 1e-3), no conv bias, "
            "the double 7x7 branch of module B starting with 7x1 and module C's double "
            "branch with 3x1 448 -> 1x3 512", builder=_inception_v4, options=("dropout",),
            summary="Inception v4 in timm's (TF-slim's) layout", **_INPUT),
    Variant("inception_resnet_v2_timm", "InceptionResNetV2Timm", dict(bn_scale=True), PAPER,
            "= timm inception_resnet_v2: keras' graph with BN gamma in every conv-BN "
            "(eps 1e-3)", builder=_inception_resnet_v2, options=(),
            summary="Inception-ResNet-v2 in timm's layout (keras' graph, BN with scale)",
            **_INPUT),
)

REGISTERED = {}
REGISTERED.update(register_variants(None, VARIANTS, family="inception", doc=_DOC,
                  recipe="inception", paper_recipe="inception",
                  module=__name__))
InceptionV4 = REGISTERED["inception_v4"]
InceptionResNetV1 = REGISTERED["inception_resnet_v1"]
InceptionResNetV2 = REGISTERED["inception_resnet_v2"]
InceptionV4Timm = REGISTERED["inception_v4_timm"]
InceptionResNetV2Timm = REGISTERED["inception_resnet_v2_timm"]
