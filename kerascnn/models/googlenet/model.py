"""GoogLeNet / Inception v1 (Szegedy et al., "Going Deeper with Convolutions",
CVPR 2015) and BN-Inception / Inception v2 (Ioffe & Szegedy, "Batch
Normalization: Accelerating Deep Network Training by Reducing Internal Covariate
Shift", ICML 2015).

GoogLeNet follows the paper's Table 1: 7x7/2 convolution, 3x3/2 max pooling,
LRN, 1x1 64 and 3x3 192 convolutions, LRN, max pooling, inception (3a)-(3b),
max pooling, (4a)-(4e), max pooling, (5a)-(5b), 7x7 average pooling, dropout 0.4
and the linear classifier; convolutions have biases, no BN, the 5x5 branch is a
real 5x5 convolution: 6,998,552 parameters. ``aux_logits=True`` adds the two
auxiliary classifiers on (4a) and (4d) (13,378,280 in all) and the model returns
``[main, aux1, aux2]``. The two LRN layers use the constants of the authors'
released model (BVLC GoogLeNet: local size 5, alpha 1e-4, beta 0.75, k 1, in
Caffe's convention where alpha is divided by the window), not AlexNet's.

BN-Inception follows the Inception v2 table of the Batch Normalization paper
(5x5 replaced by two 3x3, stride-2 modules 3c and 4e instead of the pooling
layers, average or max pooling in the modules, BN after every convolution):
11,295,240 parameters. ``bn_inception_cv`` is the same network in the layout of
pytorchcv's ``bninception`` (and of the Caffe model it descends from):
``padding="symmetric"``: explicit symmetric zero padding before the strided
convolutions, ceil-mode 3x3/2 max pooling, and 3x3/1 average pooling in the modules
that counts its zero padding, so its ImageNet weights give pytorchcv's outputs.
"""

from __future__ import annotations

from keras import layers

from kerascnn.blocks.auxiliary import googlenet_aux_head
from kerascnn.blocks.common import conv_bn
from kerascnn.layers.lrn import GOOGLENET_LRN, LocalResponseNormalization
from kerascnn.layers.pooling import CeilPooling2D
from kerascnn.models.common import (
    build_input,
    channel_axis,
    check_arguments,
    classifier_head,
    finish_model,
)
from kerascnn.models.googlenet.blocks import bn_inception_module, inception_v1
from kerascnn.models.variants import Variant, register_variants

__all__ = ["GoogLeNet", "BNInception", "BNInceptionCV"]

PAPER = ("Going Deeper with Convolutions", 2014)
BN_PAPER = ("Batch Normalization: Accelerating Deep Network Training by Reducing Internal "
            "Covariate Shift", 2015)

# Table 1: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj.
GOOGLENET_TABLE = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}
# The Batch Normalization paper's Inception table: #1x1, #3x3 reduce, #3x3,
# double #3x3 reduce, double #3x3,
# pool, pool proj, stride.
BN_INCEPTION_TABLE = {
    "3a": (64, 64, 64, 64, 96, "avg", 32, 1),
    "3b": (64, 64, 96, 64, 96, "avg", 64, 1),
    "3c": (0, 128, 160, 64, 96, "max", 0, 2),
    "4a": (224, 64, 96, 96, 128, "avg", 128, 1),
    "4b": (192, 96, 128, 96, 128, "avg", 128, 1),
    "4c": (160, 128, 160, 128, 160, "avg", 128, 1),
    "4d": (96, 128, 192, 160, 192, "avg", 128, 1),
    "4e": (0, 128, 192, 192, 256, "max", 0, 2),
    "5a": (352, 192, 320, 160, 224, "avg", 128, 1),
    "5b": (352, 192, 320, 192, 224, "max", 128, 1),
}
MIN_SIZE = 32  # every layer uses "same" padding; 32 is keras.applications' floor
AUX_MIN_SIZE = 65  # the auxiliary 5x5/3 pooling needs the 1/16 grid to be >= 5


def _googlenet(include_top=True, weights=None, input_tensor=None, input_shape=None,
               pooling=None, classes=1000, classifier_activation="softmax", name="googlenet",
               aux_logits=False, dropout=0.4, lrn=True):
    check_arguments(weights, include_top, classes, pooling, classifier_activation)
    if aux_logits and not include_top:
        raise ValueError("`aux_logits=True` needs include_top=True (the auxiliary heads are "
                         "classifiers).")
    img_input = build_input(input_tensor, input_shape, default_shape=(224, 224, 3),
                            min_size=AUX_MIN_SIZE if aux_logits else MIN_SIZE,
                            include_top=include_top, weights=weights)
    kw = dict(use_bias=True, batch_norm=False)
    x = conv_bn(img_input, 64, 7, strides=2, name="conv1", **kw)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
    if lrn:
        x = LocalResponseNormalization(**GOOGLENET_LRN, axis=channel_axis(), name="lrn1")(x)
    x = conv_bn(x, 64, 1, name="conv2_reduce", **kw)
    x = conv_bn(x, 192, 3, name="conv2", **kw)
    if lrn:
        x = LocalResponseNormalization(**GOOGLENET_LRN, axis=channel_axis(), name="lrn2")(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool2")(x)
    aux = []
    for module, filters in GOOGLENET_TABLE.items():
        if module in ("4a", "5a"):
            x = layers.MaxPooling2D(3, strides=2, padding="same",
                                    name=f"pool{int(module[0]) - 1}")(x)
        x = inception_v1(x, *filters, name=f"inception_{module}")
        if aux_logits and module in ("4a", "4d"):
            aux.append(googlenet_aux_head(x, classes, classifier_activation,
                                          name=f"aux{len(aux) + 1}"))
    x = classifier_head(x, include_top, pooling, classes, classifier_activation, dropout=dropout)
    return finish_model(img_input, input_tensor, [x] + aux if aux else x, name, weights)


def _bn_inception(include_top=True, weights=None, input_tensor=None, input_shape=None,
                  pooling=None, classes=1000, classifier_activation="softmax",
                  name="bn_inception", use_bias=True, padding="same"):
    check_arguments(weights, include_top, classes, pooling, classifier_activation)
    if padding not in ("same", "symmetric"):
        raise ValueError(f"`padding` must be 'same' or 'symmetric'; got padding={padding!r}.")
    img_input = build_input(input_tensor, input_shape, default_shape=(224, 224, 3),
                            min_size=MIN_SIZE, include_top=include_top, weights=weights)
    kw = dict(use_bias=use_bias, bn_scale=True, epsilon=1e-5)
    symmetric = padding == "symmetric"

    def max_pool(x, name):
        if symmetric:
            return CeilPooling2D("max", 3, strides=2, ceil_mode=True, name=name)(x)
        return layers.MaxPooling2D(3, strides=2, padding="same", name=name)(x)

    if symmetric:
        x = layers.ZeroPadding2D(3, name="conv1_pad")(img_input)
        x = conv_bn(x, 64, 7, strides=2, padding="valid", name="conv1", **kw)
    else:
        x = conv_bn(img_input, 64, 7, strides=2, name="conv1", **kw)
    x = max_pool(x, "pool1")
    x = conv_bn(x, 64, 1, name="conv2_reduce", **kw)
    x = conv_bn(x, 192, 3, name="conv2", **kw)
    x = max_pool(x, "pool2")
    for module, (f1, f3r, f3, fd3r, fd3, pool, proj, stride) in BN_INCEPTION_TABLE.items():
        x = bn_inception_module(x, f1, f3r, f3, fd3r, fd3, proj, pool=pool, strides=stride,
                                name=f"inception_{module}", use_bias=use_bias,
                                padding=padding)
    x = classifier_head(x, include_top, pooling, classes, classifier_activation)
    return finish_model(img_input, input_tensor, x, name, weights)


_DOC = """Instantiates {summary}.

    {title} ({year}).

    Args:
        include_top: include the global average pooling, the dropout (GoogLeNet) and
            the classifier.
        weights: {weights}; ``bn_inception_cv`` also reads pytorchcv's ImageNet weights.
        input_tensor: optional Keras tensor to use as image input.
        input_shape: optional (height, width, channels); default {input},
            at least {min_size}x{min_size} (GoogLeNet: 65x65 with ``aux_logits``).
        pooling: None, ``"avg"`` or ``"max"`` when ``include_top=False``.
        classes: number of classes.
        classifier_activation: activation of the classifiers (None for logits).
        name: model name.
        aux_logits: (GoogLeNet) add the auxiliary classifiers on (4a) and (4d); the
            model then returns ``[main, aux1, aux2]`` (train with loss weights 1, 0.3,
            0.3).
        dropout: (GoogLeNet) dropout rate before the main classifier.
        lrn: (GoogLeNet) the two local response normalizations of the stem.
        use_bias: (BN-Inception) convolution biases before BN (True, as the
            reference count).
        padding: (BN-Inception) ``"same"`` (Keras' padding and pooling) or
            ``"symmetric"`` (PyTorch's and Caffe's: symmetric zero padding of the strided
            convolutions, ceil-mode max pooling, average pooling counting its padding;
            ``bn_inception_cv``'s).

    Returns:
        A ``keras.Model``.
    """

VARIANTS = (
    Variant("googlenet", "GoogLeNet", {}, PAPER,
            "paper Table 1: conv biases, no BN, LRN, real 5x5 branch; aux_logits=True adds "
            "the two auxiliary classifiers", min_size=MIN_SIZE, builder=_googlenet,
            options=("aux_logits", "dropout", "lrn"),
            summary="GoogLeNet (Inception v1, the paper's Table 1)"),
    Variant("bn_inception", "BNInception", {}, BN_PAPER,
            "Inception v2 table; conv biases + BN after every conv", min_size=MIN_SIZE,
            builder=_bn_inception, options=("use_bias", "padding"),
            summary="BN-Inception (Inception v2, the Batch Normalization paper's table)"),
    Variant("bn_inception_cv", "BNInceptionCV", dict(padding="symmetric"), BN_PAPER,
            "pytorchcv's bninception layout: conv biases + BN (eps 1e-5), symmetric padding, "
            "ceil-mode max pooling, average pooling counting its padding",
            min_size=MIN_SIZE, builder=_bn_inception, options=("use_bias", "padding"),
            summary="BN-Inception in pytorchcv's (Caffe's) layout: symmetric padding, "
                    "ceil-mode pooling"),
)


REGISTERED = {}
REGISTERED.update(register_variants(None, VARIANTS, family="inception", doc=_DOC,
                  recipe="inception", paper_recipe="inception",
                  module=__name__))
GoogLeNet = REGISTERED["googlenet"]
BNInception = REGISTERED["bn_inception"]
BNInceptionCV = REGISTERED["bn_inception_cv"]
