"""Inception modules, from GoogLeNet to Inception-ResNet, and Xception's flows.

Seed 002 part 2 §4 (Inception v1-v4, Inception-ResNet, Xception) and seeds 003 /
004 (naive and v1 modules):

* ``inception_naive`` and ``inception_v1``: Szegedy et al., "Going Deeper with
  Convolutions", CVPR 2015 (1x1 / 3x3 / 5x5 / 3x3 max-pool branches; the v1
  module puts 1x1 reductions before the 3x3 and 5x5 convolutions and after the
  pooling).
* ``bn_inception_module``: Ioffe & Szegedy, "Batch Normalization", ICML 2015
  (5x5 replaced by two 3x3, average or max pooling, stride-2 modules 3c/4e).
* ``inception_v3_*``: Szegedy et al., "Rethinking the Inception Architecture",
  CVPR 2016 (factorised 3x3 pairs, 1xn/nx1, grid reductions), with the layout
  of keras.applications.InceptionV3.
* ``inception_v4_*``, ``reduction_a`` (k, l, m, n table),
  ``inception_resnet_*`` (residual scaling ``scale``): Szegedy et al.,
  "Inception-v4, Inception-ResNet and the Impact of Residual Connections on
  Learning", AAAI 2017.
* ``xception_*_flow``: Chollet, "Xception: Deep Learning with Depthwise
  Separable Convolutions", CVPR 2017.

Branch concatenation order follows keras.applications where a keras twin exists
(it decides which channels come first, hence whether weights transfer).
"""

from __future__ import annotations

from keras import layers

from kerascnn.blocks.common import INCEPTION_BN_EPSILON, channel_axis, check_positive_ints, conv_bn
from kerascnn.layers.scale import CustomScaleLayer

__all__ = [
    "conv_bn",
    "inception_naive",
    "inception_v1",
    "bn_inception_module",
    "inception_v3_stem",
    "inception_v3_a",
    "inception_v3_reduction_a",
    "inception_v3_b",
    "inception_v3_reduction_b",
    "inception_v3_c",
    "inception_v4_stem",
    "inception_v4_a",
    "reduction_a",
    "inception_v4_b",
    "inception_v4_reduction_b",
    "inception_v4_c",
    "inception_resnet_a",
    "inception_resnet_b",
    "inception_resnet_c",
    "inception_resnet_reduction_b",
    "xception_entry_flow",
    "xception_middle_flow",
    "xception_exit_flow",
]

def _concat(branches, name):
    return layers.Concatenate(axis=channel_axis(), name=name)(branches)


# --------------------------------------------------------------------------- GoogLeNet


def inception_naive(x, f1, f3, f5, *, name="inception"):
    """The naive Inception module: 1x1, 3x3, 5x5 convolutions and 3x3 max pooling.

    Every branch keeps the resolution; the pooled input passes through unchanged,
    so the output has ``f1 + f3 + f5 + C_in`` channels.
    """
    check_positive_ints(f1=f1, f3=f3, f5=f5)
    b1 = layers.Conv2D(f1, 1, padding="same", activation="relu", name=f"{name}_1x1")(x)
    b3 = layers.Conv2D(f3, 3, padding="same", activation="relu", name=f"{name}_3x3")(x)
    b5 = layers.Conv2D(f5, 5, padding="same", activation="relu", name=f"{name}_5x5")(x)
    bp = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    return _concat([b1, b3, b5, bp], f"{name}_output")


def inception_v1(x, f1, f3r, f3, f5r, f5, pool_proj, *, name="inception", batch_norm=False,
                 epsilon=INCEPTION_BN_EPSILON):
    """The GoogLeNet Inception module with dimension reductions.

    Branches (concatenated in this order): 1x1 ``f1``; 1x1 ``f3r`` -> 3x3 ``f3``;
    1x1 ``f5r`` -> 5x5 ``f5``; 3x3/1 max pool -> 1x1 ``pool_proj``. The columns
    of the paper's Table 1. Convolutions have biases and ReLU; ``batch_norm``
    adds BN after each one.
    """
    check_positive_ints(f1=f1, f3r=f3r, f3=f3, f5r=f5r, f5=f5, pool_proj=pool_proj)
    kw = dict(use_bias=True, batch_norm=batch_norm, bn_scale=True, epsilon=epsilon)
    b1 = conv_bn(x, f1, 1, name=f"{name}_1x1", **kw)
    b3 = conv_bn(x, f3r, 1, name=f"{name}_3x3_reduce", **kw)
    b3 = conv_bn(b3, f3, 3, name=f"{name}_3x3", **kw)
    b5 = conv_bn(x, f5r, 1, name=f"{name}_5x5_reduce", **kw)
    b5 = conv_bn(b5, f5, 5, name=f"{name}_5x5", **kw)
    bp = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    bp = conv_bn(bp, pool_proj, 1, name=f"{name}_pool_proj", **kw)
    return _concat([b1, b3, b5, bp], f"{name}_output")


def bn_inception_module(x, f1, f3r, f3, fd3r, fd3, pool_proj, *, pool="avg", strides=1,
                        name="inception", use_bias=True, epsilon=1e-5):
    """The BN-Inception (Inception v2) module.

    Branches: 1x1 ``f1``; 1x1 ``f3r`` -> 3x3 ``f3``; 1x1 ``fd3r`` -> 3x3 ``fd3``
    -> 3x3 ``fd3`` (the 5x5 replaced by two 3x3); ``pool`` ('avg' or 'max')
    3x3 -> 1x1 ``pool_proj``. With ``strides=2`` (modules 3c and 4e) the 1x1
    and projection branches are absent (``f1 = pool_proj = 0``), the last
    convolution of each 3x3 branch has stride 2 and the max pooled input passes
    through. Every convolution is followed by BN and ReLU.
    """
    check_positive_ints(f3r=f3r, f3=f3, fd3r=fd3r, fd3=fd3)
    if pool not in ("avg", "max"):
        raise ValueError(f"`pool` must be 'avg' or 'max'; got pool={pool!r}.")
    if strides not in (1, 2):
        raise ValueError(f"`strides` must be 1 or 2; got strides={strides!r}.")
    if strides == 2 and (f1 or pool_proj):
        raise ValueError(
            "A stride-2 BN-Inception module has no 1x1 or pool projection branch: "
            f"`f1` and `pool_proj` must be 0; got f1={f1}, pool_proj={pool_proj}."
        )
    if strides == 1:
        check_positive_ints(f1=f1, pool_proj=pool_proj)
    kw = dict(use_bias=use_bias, bn_scale=True, epsilon=epsilon)
    branches = []
    if strides == 1:
        branches.append(conv_bn(x, f1, 1, name=f"{name}_1x1", **kw))
    b3 = conv_bn(x, f3r, 1, name=f"{name}_3x3_reduce", **kw)
    branches.append(conv_bn(b3, f3, 3, strides=strides, name=f"{name}_3x3", **kw))
    bd = conv_bn(x, fd3r, 1, name=f"{name}_double_3x3_reduce", **kw)
    bd = conv_bn(bd, fd3, 3, name=f"{name}_double_3x3_1", **kw)
    branches.append(conv_bn(bd, fd3, 3, strides=strides, name=f"{name}_double_3x3_2", **kw))
    if strides == 2:
        branches.append(layers.MaxPooling2D(3, strides=2, padding="same",
                                            name=f"{name}_pool")(x))
    else:
        pool_layer = layers.AveragePooling2D if pool == "avg" else layers.MaxPooling2D
        bp = pool_layer(3, strides=1, padding="same", name=f"{name}_pool")(x)
        branches.append(conv_bn(bp, pool_proj, 1, name=f"{name}_pool_proj", **kw))
    return _concat(branches, f"{name}_output")


# --------------------------------------------------------------------------- Inception v3


def _v3(x, filters, kernel_size, name, strides=1, padding="same"):
    return conv_bn(x, filters, kernel_size, strides=strides, padding=padding, name=name)


def inception_v3_stem(x):
    """Inception v3's stem (299x299 -> 35x35x192), also keras' Inception-ResNet-v2 stem.

    conv 3x3/2 (32, valid), 3x3 (32, valid), 3x3 (64), max-pool 3x3/2, conv 1x1 (80,
    valid), 3x3 (192, valid), max-pool 3x3/2; layers ``conv1``-``conv5``, ``pool1``-``pool2``.
    """
    x = conv_bn(x, 32, 3, strides=2, padding="valid", name="conv1")
    x = conv_bn(x, 32, 3, padding="valid", name="conv2")
    x = conv_bn(x, 64, 3, name="conv3")
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    x = conv_bn(x, 80, 1, padding="valid", name="conv4")
    x = conv_bn(x, 192, 3, padding="valid", name="conv5")
    return layers.MaxPooling2D(3, strides=2, name="pool2")(x)


def inception_v3_a(x, pool_filters, *, name="mixed0"):
    """Inception v3 module A (35x35): 5x5 branch and a factorised pair of 3x3.

    Branches: 1x1 64; 1x1 48 -> 5x5 64; 1x1 64 -> 3x3 96 -> 3x3 96; 3x3 average
    pool -> 1x1 ``pool_filters`` (32 in mixed0, 64 in mixed1-2).
    """
    check_positive_ints(pool_filters=pool_filters)
    b1 = _v3(x, 64, 1, f"{name}_1x1")
    b5 = _v3(x, 48, 1, f"{name}_5x5_reduce")
    b5 = _v3(b5, 64, 5, f"{name}_5x5")
    bd = _v3(x, 64, 1, f"{name}_3x3dbl_reduce")
    bd = _v3(bd, 96, 3, f"{name}_3x3dbl_1")
    bd = _v3(bd, 96, 3, f"{name}_3x3dbl_2")
    bp = layers.AveragePooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    bp = _v3(bp, pool_filters, 1, f"{name}_pool_proj")
    return _concat([b1, b5, bd, bp], name)


def inception_v3_reduction_a(x, *, name="mixed3"):
    """Inception v3 grid reduction 35 -> 17: 3x3/2 384 || 1x1 64 -> 3x3 96 -> 3x3/2 96
    || 3x3/2 max pool (stride-2 convolution and pooling side by side)."""
    b3 = _v3(x, 384, 3, f"{name}_3x3", strides=2, padding="valid")
    bd = _v3(x, 64, 1, f"{name}_3x3dbl_reduce")
    bd = _v3(bd, 96, 3, f"{name}_3x3dbl_1")
    bd = _v3(bd, 96, 3, f"{name}_3x3dbl_2", strides=2, padding="valid")
    bp = layers.MaxPooling2D(3, strides=2, name=f"{name}_pool")(x)
    return _concat([b3, bd, bp], name)


def inception_v3_b(x, f7, *, name="mixed4"):
    """Inception v3 module B (17x17): 7x7 factorised into 1x7 and 7x1.

    Branches: 1x1 192; 1x1 ``f7`` -> 1x7 ``f7`` -> 7x1 192; 1x1 ``f7`` -> 7x1
    -> 1x7 -> 7x1 -> 1x7 192; 3x3 average pool -> 1x1 192. ``f7`` is 128, 160,
    160, 192 in mixed4..mixed7.
    """
    check_positive_ints(f7=f7)
    b1 = _v3(x, 192, 1, f"{name}_1x1")
    b7 = _v3(x, f7, 1, f"{name}_7x7_reduce")
    b7 = _v3(b7, f7, (1, 7), f"{name}_1x7")
    b7 = _v3(b7, 192, (7, 1), f"{name}_7x1")
    bd = _v3(x, f7, 1, f"{name}_7x7dbl_reduce")
    bd = _v3(bd, f7, (7, 1), f"{name}_7x7dbl_1")
    bd = _v3(bd, f7, (1, 7), f"{name}_7x7dbl_2")
    bd = _v3(bd, f7, (7, 1), f"{name}_7x7dbl_3")
    bd = _v3(bd, 192, (1, 7), f"{name}_7x7dbl_4")
    bp = layers.AveragePooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    bp = _v3(bp, 192, 1, f"{name}_pool_proj")
    return _concat([b1, b7, bd, bp], name)


def inception_v3_reduction_b(x, *, name="mixed8"):
    """Inception v3 grid reduction 17 -> 8: 1x1 192 -> 3x3/2 320 || 1x1 192 -> 1x7
    -> 7x1 -> 3x3/2 192 || 3x3/2 max pool."""
    b3 = _v3(x, 192, 1, f"{name}_3x3_reduce")
    b3 = _v3(b3, 320, 3, f"{name}_3x3", strides=2, padding="valid")
    b7 = _v3(x, 192, 1, f"{name}_7x7x3_reduce")
    b7 = _v3(b7, 192, (1, 7), f"{name}_7x7x3_1")
    b7 = _v3(b7, 192, (7, 1), f"{name}_7x7x3_2")
    b7 = _v3(b7, 192, 3, f"{name}_7x7x3_3", strides=2, padding="valid")
    bp = layers.MaxPooling2D(3, strides=2, name=f"{name}_pool")(x)
    return _concat([b3, b7, bp], name)


def inception_v3_c(x, *, name="mixed9"):
    """Inception v3 module C (8x8): expanded filter bank, 3x3 split into parallel
    1x3 and 3x1. Branches: 1x1 320; 1x1 384 -> (1x3 384 || 3x1 384); 1x1 448 ->
    3x3 384 -> (1x3 384 || 3x1 384); 3x3 average pool -> 1x1 192 (2048 channels).
    """
    b1 = _v3(x, 320, 1, f"{name}_1x1")
    b3 = _v3(x, 384, 1, f"{name}_3x3_reduce")
    b3 = _concat([_v3(b3, 384, (1, 3), f"{name}_3x3_1x3"),
                  _v3(b3, 384, (3, 1), f"{name}_3x3_3x1")], f"{name}_3x3")
    bd = _v3(x, 448, 1, f"{name}_3x3dbl_reduce")
    bd = _v3(bd, 384, 3, f"{name}_3x3dbl_1")
    bd = _concat([_v3(bd, 384, (1, 3), f"{name}_3x3dbl_1x3"),
                  _v3(bd, 384, (3, 1), f"{name}_3x3dbl_3x1")], f"{name}_3x3dbl")
    bp = layers.AveragePooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    bp = _v3(bp, 192, 1, f"{name}_pool_proj")
    return _concat([b1, b3, bd, bp], name)


# --------------------------------------------------------------------------- Inception v4


def inception_v4_stem(x, *, name="stem", bn_scale=True):
    """The Inception v4 (and Inception-ResNet-v2 paper) stem: 299x299x3 -> 35x35x384.

    3x3/2 32 V, 3x3 32 V, 3x3 64; (3x3/2 max pool V || 3x3/2 96 V); (1x1 64 ->
    3x3 96 V || 1x1 64 -> 1x7 64 -> 7x1 64 -> 3x3 96 V); (3x3/2 192 V || 3x3/2
    max pool V). "V" marks valid padding.
    """
    kw = dict(bn_scale=bn_scale)
    x = conv_bn(x, 32, 3, strides=2, padding="valid", name=f"{name}_conv1", **kw)
    x = conv_bn(x, 32, 3, padding="valid", name=f"{name}_conv2", **kw)
    x = conv_bn(x, 64, 3, name=f"{name}_conv3", **kw)
    x = _concat([layers.MaxPooling2D(3, strides=2, name=f"{name}_pool1")(x),
                 conv_bn(x, 96, 3, strides=2, padding="valid", name=f"{name}_conv4", **kw)],
                f"{name}_mixed1")
    a = conv_bn(x, 64, 1, name=f"{name}_b1_1x1", **kw)
    a = conv_bn(a, 96, 3, padding="valid", name=f"{name}_b1_3x3", **kw)
    b = conv_bn(x, 64, 1, name=f"{name}_b2_1x1", **kw)
    b = conv_bn(b, 64, (1, 7), name=f"{name}_b2_1x7", **kw)
    b = conv_bn(b, 64, (7, 1), name=f"{name}_b2_7x1", **kw)
    b = conv_bn(b, 96, 3, padding="valid", name=f"{name}_b2_3x3", **kw)
    x = _concat([a, b], f"{name}_mixed2")
    return _concat([conv_bn(x, 192, 3, strides=2, padding="valid", name=f"{name}_conv5", **kw),
                    layers.MaxPooling2D(3, strides=2, name=f"{name}_pool2")(x)],
                   f"{name}_mixed3")


def inception_v4_a(x, *, name="inception_a", bn_scale=True):
    """Inception v4 module A (35x35x384): 1x1 96; 1x1 64 -> 3x3 96; 1x1 64 -> 3x3 96
    -> 3x3 96; 3x3 average pool -> 1x1 96."""
    kw = dict(bn_scale=bn_scale)
    b0 = conv_bn(x, 96, 1, name=f"{name}_1x1", **kw)
    b1 = conv_bn(x, 64, 1, name=f"{name}_3x3_reduce", **kw)
    b1 = conv_bn(b1, 96, 3, name=f"{name}_3x3", **kw)
    b2 = conv_bn(x, 64, 1, name=f"{name}_3x3dbl_reduce", **kw)
    b2 = conv_bn(b2, 96, 3, name=f"{name}_3x3dbl_1", **kw)
    b2 = conv_bn(b2, 96, 3, name=f"{name}_3x3dbl_2", **kw)
    bp = layers.AveragePooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    bp = conv_bn(bp, 96, 1, name=f"{name}_pool_proj", **kw)
    return _concat([b0, b1, b2, bp], name)


def reduction_a(x, k, l, m, n, *, name="reduction_a", bn_scale=True):  # noqa: E741
    """Reduction-A (35 -> 17) with the paper's (k, l, m, n) filter table.

    Branches: 3x3/2 ``n`` V; 1x1 ``k`` -> 3x3 ``l`` -> 3x3/2 ``m`` V; 3x3/2 max
    pool V. Inception-v4 uses (192, 224, 256, 384), Inception-ResNet-v1 (192,
    192, 256, 384), keras' Inception-ResNet-v2 (256, 256, 384, 384).
    """
    check_positive_ints(k=k, l=l, m=m, n=n)
    kw = dict(bn_scale=bn_scale)
    b0 = conv_bn(x, n, 3, strides=2, padding="valid", name=f"{name}_3x3", **kw)
    b1 = conv_bn(x, k, 1, name=f"{name}_3x3dbl_reduce", **kw)
    b1 = conv_bn(b1, l, 3, name=f"{name}_3x3dbl_1", **kw)
    b1 = conv_bn(b1, m, 3, strides=2, padding="valid", name=f"{name}_3x3dbl_2", **kw)
    bp = layers.MaxPooling2D(3, strides=2, padding="valid", name=f"{name}_pool")(x)
    return _concat([b0, b1, bp], name)


def inception_v4_b(x, *, name="inception_b", bn_scale=True):
    """Inception v4 module B (17x17x1024): 1x1 384; 1x1 192 -> 1x7 224 -> 7x1 256;
    1x1 192 -> 1x7 192 -> 7x1 224 -> 1x7 224 -> 7x1 256; avg pool -> 1x1 128."""
    kw = dict(bn_scale=bn_scale)
    b0 = conv_bn(x, 384, 1, name=f"{name}_1x1", **kw)
    b1 = conv_bn(x, 192, 1, name=f"{name}_7x7_reduce", **kw)
    b1 = conv_bn(b1, 224, (1, 7), name=f"{name}_1x7", **kw)
    b1 = conv_bn(b1, 256, (7, 1), name=f"{name}_7x1", **kw)
    b2 = conv_bn(x, 192, 1, name=f"{name}_7x7dbl_reduce", **kw)
    b2 = conv_bn(b2, 192, (1, 7), name=f"{name}_7x7dbl_1", **kw)
    b2 = conv_bn(b2, 224, (7, 1), name=f"{name}_7x7dbl_2", **kw)
    b2 = conv_bn(b2, 224, (1, 7), name=f"{name}_7x7dbl_3", **kw)
    b2 = conv_bn(b2, 256, (7, 1), name=f"{name}_7x7dbl_4", **kw)
    bp = layers.AveragePooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    bp = conv_bn(bp, 128, 1, name=f"{name}_pool_proj", **kw)
    return _concat([b0, b1, b2, bp], name)


def inception_v4_reduction_b(x, *, name="reduction_b", bn_scale=True):
    """Inception v4 Reduction-B (17 -> 8): 1x1 192 -> 3x3/2 192 V; 1x1 256 -> 1x7 256
    -> 7x1 320 -> 3x3/2 320 V; 3x3/2 max pool V (1536 channels)."""
    kw = dict(bn_scale=bn_scale)
    b0 = conv_bn(x, 192, 1, name=f"{name}_3x3_reduce", **kw)
    b0 = conv_bn(b0, 192, 3, strides=2, padding="valid", name=f"{name}_3x3", **kw)
    b1 = conv_bn(x, 256, 1, name=f"{name}_7x7x3_reduce", **kw)
    b1 = conv_bn(b1, 256, (1, 7), name=f"{name}_7x7x3_1", **kw)
    b1 = conv_bn(b1, 320, (7, 1), name=f"{name}_7x7x3_2", **kw)
    b1 = conv_bn(b1, 320, 3, strides=2, padding="valid", name=f"{name}_7x7x3_3", **kw)
    bp = layers.MaxPooling2D(3, strides=2, padding="valid", name=f"{name}_pool")(x)
    return _concat([b0, b1, bp], name)


def inception_v4_c(x, *, name="inception_c", bn_scale=True):
    """Inception v4 module C (8x8x1536): 1x1 256; 1x1 384 -> (1x3 256 || 3x1 256);
    1x1 384 -> 1x3 448 -> 3x1 512 -> (1x3 256 || 3x1 256); avg pool -> 1x1 256."""
    kw = dict(bn_scale=bn_scale)
    b0 = conv_bn(x, 256, 1, name=f"{name}_1x1", **kw)
    b1 = conv_bn(x, 384, 1, name=f"{name}_3x3_reduce", **kw)
    b1 = _concat([conv_bn(b1, 256, (1, 3), name=f"{name}_3x3_1x3", **kw),
                  conv_bn(b1, 256, (3, 1), name=f"{name}_3x3_3x1", **kw)], f"{name}_3x3")
    b2 = conv_bn(x, 384, 1, name=f"{name}_3x3dbl_reduce", **kw)
    b2 = conv_bn(b2, 448, (1, 3), name=f"{name}_3x3dbl_1", **kw)
    b2 = conv_bn(b2, 512, (3, 1), name=f"{name}_3x3dbl_2", **kw)
    b2 = _concat([conv_bn(b2, 256, (1, 3), name=f"{name}_3x3dbl_1x3", **kw),
                  conv_bn(b2, 256, (3, 1), name=f"{name}_3x3dbl_3x1", **kw)], f"{name}_3x3dbl")
    bp = layers.AveragePooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    bp = conv_bn(bp, 256, 1, name=f"{name}_pool_proj", **kw)
    return _concat([b0, b1, b2, bp], name)


# --------------------------------------------------------------------------- Inception-ResNet


def _residual_sum(x, branches, scale, activation, name, bn_scale):
    """Concatenate the branches, 1x1 linear projection to C_in (with bias, no BN),
    ``x + scale * projection``, then the activation."""
    if not isinstance(scale, (int, float)) or isinstance(scale, bool):
        raise ValueError(f"`scale` must be a number; got scale={scale!r}.")
    mixed = _concat(branches, f"{name}_mixed")
    up = conv_bn(mixed, x.shape[channel_axis()], 1, name=f"{name}_conv", use_bias=True,
                 batch_norm=False, activation=None, bn_scale=bn_scale)
    x = CustomScaleLayer(scale, name=f"{name}_scale")([x, up])
    if activation is not None:
        x = layers.Activation(activation, name=f"{name}_ac")(x)
    return x


def inception_resnet_a(x, scale, *, filters=(32, (32, 32), (32, 48, 64)), activation="relu",
                       name="block35", bn_scale=False):
    """Inception-ResNet-A (35x35): 1x1; 1x1 -> 3x3; 1x1 -> 3x3 -> 3x3, a linear 1x1
    back to the input width and ``x + scale * residual``.

    Args:
        filters: ``(b0, (b1_1x1, b1_3x3), (b2_1x1, b2_3x3, b2_3x3))``; v1 uses
            ``(32, (32, 32), (32, 32, 32))``, v2 ``(32, (32, 32), (32, 48, 64))``.
        scale: residual scaling (0.17 in keras' Inception-ResNet-v2).
    """
    f0, (f10, f11), (f20, f21, f22) = filters
    kw = dict(bn_scale=bn_scale)
    b0 = conv_bn(x, f0, 1, name=f"{name}_b0_1x1", **kw)
    b1 = conv_bn(x, f10, 1, name=f"{name}_b1_1x1", **kw)
    b1 = conv_bn(b1, f11, 3, name=f"{name}_b1_3x3", **kw)
    b2 = conv_bn(x, f20, 1, name=f"{name}_b2_1x1", **kw)
    b2 = conv_bn(b2, f21, 3, name=f"{name}_b2_3x3_1", **kw)
    b2 = conv_bn(b2, f22, 3, name=f"{name}_b2_3x3_2", **kw)
    return _residual_sum(x, [b0, b1, b2], scale, activation, name, bn_scale)


def inception_resnet_b(x, scale, *, filters=(192, (128, 160, 192)), activation="relu",
                       name="block17", bn_scale=False):
    """Inception-ResNet-B (17x17): 1x1; 1x1 -> 1x7 -> 7x1; linear 1x1; scaled sum.

    ``filters``: ``(b0, (b1_1x1, b1_1x7, b1_7x1))``; v1 ``(128, (128, 128, 128))``.
    """
    f0, (f10, f11, f12) = filters
    kw = dict(bn_scale=bn_scale)
    b0 = conv_bn(x, f0, 1, name=f"{name}_b0_1x1", **kw)
    b1 = conv_bn(x, f10, 1, name=f"{name}_b1_1x1", **kw)
    b1 = conv_bn(b1, f11, (1, 7), name=f"{name}_b1_1x7", **kw)
    b1 = conv_bn(b1, f12, (7, 1), name=f"{name}_b1_7x1", **kw)
    return _residual_sum(x, [b0, b1], scale, activation, name, bn_scale)


def inception_resnet_c(x, scale, *, filters=(192, (192, 224, 256)), activation="relu",
                       name="block8", bn_scale=False):
    """Inception-ResNet-C (8x8): 1x1; 1x1 -> 1x3 -> 3x1; linear 1x1; scaled sum.

    ``filters``: ``(b0, (b1_1x1, b1_1x3, b1_3x1))``; v1 ``(192, (192, 192, 192))``.
    """
    f0, (f10, f11, f12) = filters
    kw = dict(bn_scale=bn_scale)
    b0 = conv_bn(x, f0, 1, name=f"{name}_b0_1x1", **kw)
    b1 = conv_bn(x, f10, 1, name=f"{name}_b1_1x1", **kw)
    b1 = conv_bn(b1, f11, (1, 3), name=f"{name}_b1_1x3", **kw)
    b1 = conv_bn(b1, f12, (3, 1), name=f"{name}_b1_3x1", **kw)
    return _residual_sum(x, [b0, b1], scale, activation, name, bn_scale)


def inception_resnet_reduction_b(x, *, filters=((256, 384), (256, 288), (256, 288, 320)),
                                 name="reduction_b", bn_scale=False):
    """Inception-ResNet Reduction-B (17 -> 8): 1x1 -> 3x3/2 V; 1x1 -> 3x3/2 V;
    1x1 -> 3x3 -> 3x3/2 V; 3x3/2 max pool V.

    ``filters``: v1 ``((256, 384), (256, 256), (256, 256, 256))``; keras'
    Inception-ResNet-v2 ``((256, 384), (256, 288), (256, 288, 320))``.
    """
    (a0, a1), (b0_, b1_), (c0, c1, c2) = filters
    kw = dict(bn_scale=bn_scale)
    a = conv_bn(x, a0, 1, name=f"{name}_b0_1x1", **kw)
    a = conv_bn(a, a1, 3, strides=2, padding="valid", name=f"{name}_b0_3x3", **kw)
    b = conv_bn(x, b0_, 1, name=f"{name}_b1_1x1", **kw)
    b = conv_bn(b, b1_, 3, strides=2, padding="valid", name=f"{name}_b1_3x3", **kw)
    c = conv_bn(x, c0, 1, name=f"{name}_b2_1x1", **kw)
    c = conv_bn(c, c1, 3, name=f"{name}_b2_3x3_1", **kw)
    c = conv_bn(c, c2, 3, strides=2, padding="valid", name=f"{name}_b2_3x3_2", **kw)
    p = layers.MaxPooling2D(3, strides=2, padding="valid", name=f"{name}_pool")(x)
    return _concat([a, b, c, p], name)


# --------------------------------------------------------------------------- Xception


def _bn(x, name):
    return layers.BatchNormalization(axis=channel_axis(), epsilon=INCEPTION_BN_EPSILON,
                                     name=name)(x)


def _sep(x, filters, name):
    x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False, name=name)(x)
    return _bn(x, f"{name}_bn")


def _xception_down_block(x, filters, block, pre_activation=True):
    """Two separable convolutions, 3x3/2 max pool, plus a 1x1/2 projection shortcut."""
    f1, f2 = filters
    residual = layers.Conv2D(f2, 1, strides=2, padding="same", use_bias=False,
                             name=f"block{block}_shortcut")(x)
    residual = _bn(residual, f"block{block}_shortcut_bn")
    if pre_activation:
        x = layers.Activation("relu", name=f"block{block}_sepconv1_act")(x)
    x = _sep(x, f1, f"block{block}_sepconv1")
    x = layers.Activation("relu", name=f"block{block}_sepconv2_act")(x)
    x = _sep(x, f2, f"block{block}_sepconv2")
    x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"block{block}_pool")(x)
    return layers.Add(name=f"block{block}_add")([x, residual])


def xception_entry_flow(x):
    """Xception entry flow: 3x3/2 32 V and 3x3 64 V convolutions (BN, ReLU), then
    three residual blocks of separable convolutions (128, 256, 728 filters), each
    halving the resolution (299 -> 19). Layers ``block1`` .. ``block4``."""
    x = layers.Conv2D(32, 3, strides=2, use_bias=False, name="block1_conv1")(x)
    x = _bn(x, "block1_conv1_bn")
    x = layers.Activation("relu", name="block1_conv1_act")(x)
    x = layers.Conv2D(64, 3, use_bias=False, name="block1_conv2")(x)
    x = _bn(x, "block1_conv2_bn")
    x = layers.Activation("relu", name="block1_conv2_act")(x)
    x = _xception_down_block(x, (128, 128), 2, pre_activation=False)
    x = _xception_down_block(x, (256, 256), 3)
    return _xception_down_block(x, (728, 728), 4)


def xception_middle_flow(x, repeats=8, first_block=5):
    """Xception middle flow: ``repeats`` residual blocks of three (ReLU, separable
    3x3 728, BN) with identity shortcuts. Layers ``block5`` .. ``block12``."""
    if not (isinstance(repeats, int) and repeats >= 0):
        raise ValueError(f"`repeats` must be a non-negative integer; got repeats={repeats!r}.")
    for i in range(repeats):
        block = first_block + i
        residual = x
        for j in (1, 2, 3):
            x = layers.Activation("relu", name=f"block{block}_sepconv{j}_act")(x)
            x = _sep(x, 728, f"block{block}_sepconv{j}")
        x = layers.Add(name=f"block{block}_add")([x, residual])
    return x


def xception_exit_flow(x, first_block=13):
    """Xception exit flow: a residual down block (728, 1024), then separable
    convolutions 1536 and 2048 with BN and ReLU. Layers ``block13``, ``block14``."""
    x = _xception_down_block(x, (728, 1024), first_block)
    block = first_block + 1
    x = layers.SeparableConv2D(1536, 3, padding="same", use_bias=False,
                               name=f"block{block}_sepconv1")(x)
    x = _bn(x, f"block{block}_sepconv1_bn")
    x = layers.Activation("relu", name=f"block{block}_sepconv1_act")(x)
    x = layers.SeparableConv2D(2048, 3, padding="same", use_bias=False,
                               name=f"block{block}_sepconv2")(x)
    x = _bn(x, f"block{block}_sepconv2_bn")
    return layers.Activation("relu", name=f"block{block}_sepconv2_act")(x)
