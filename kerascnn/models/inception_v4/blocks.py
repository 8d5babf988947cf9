"""Inception v4 and Inception-ResNet modules (Szegedy, Ioffe, Vanhoucke & Alemi,
"Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning",
AAAI 2017): the v4 stem and modules, Reduction-A with its (k, l, m, n) table, and the
residual modules whose scaled sum (``scale``) stabilises training (section 3.3). Branch
order follows keras.applications.InceptionResNetV2.
"""

from __future__ import annotations

from keras import layers

from kerascnn.blocks.common import channel_axis, check_positive_ints, concat, conv_bn
from kerascnn.layers.scale import CustomScaleLayer

__all__ = [
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
]


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
    x = concat([layers.MaxPooling2D(3, strides=2, name=f"{name}_pool1")(x),
                 conv_bn(x, 96, 3, strides=2, padding="valid", name=f"{name}_conv4", **kw)],
                f"{name}_mixed1")
    a = conv_bn(x, 64, 1, name=f"{name}_b1_1x1", **kw)
    a = conv_bn(a, 96, 3, padding="valid", name=f"{name}_b1_3x3", **kw)
    b = conv_bn(x, 64, 1, name=f"{name}_b2_1x1", **kw)
    b = conv_bn(b, 64, (1, 7), name=f"{name}_b2_1x7", **kw)
    b = conv_bn(b, 64, (7, 1), name=f"{name}_b2_7x1", **kw)
    b = conv_bn(b, 96, 3, padding="valid", name=f"{name}_b2_3x3", **kw)
    x = concat([a, b], f"{name}_mixed2")
    return concat([conv_bn(x, 192, 3, strides=2, padding="valid", name=f"{name}_conv5", **kw),
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
    return concat([b0, b1, b2, bp], name)


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
    return concat([b0, b1, bp], name)


_LAYOUTS = ("paper", "tf_slim")


def _check_layout(layout):
    if layout not in _LAYOUTS:
        raise ValueError(f"`layout` must be 'paper' or 'tf_slim'; got layout={layout!r}.")
    return layout == "tf_slim"


def inception_v4_b(x, *, name="inception_b", bn_scale=True, layout="paper"):
    """Inception v4 module B (17x17x1024): 1x1 384; 1x1 192 -> 1x7 224 -> 7x1 256;
    1x1 192 -> 1x7 192 -> 7x1 224 -> 1x7 224 -> 7x1 256; avg pool -> 1x1 128.

    ``layout="tf_slim"``: the double 7x7 branch starts with 7x1 (7x1 192 -> 1x7 224 ->
    7x1 224 -> 1x7 256), as TF-slim's released Inception-v4 and its timm port.
    """
    kw = dict(bn_scale=bn_scale)
    a, b = ((7, 1), (1, 7)) if _check_layout(layout) else ((1, 7), (7, 1))
    b0 = conv_bn(x, 384, 1, name=f"{name}_1x1", **kw)
    b1 = conv_bn(x, 192, 1, name=f"{name}_7x7_reduce", **kw)
    b1 = conv_bn(b1, 224, (1, 7), name=f"{name}_1x7", **kw)
    b1 = conv_bn(b1, 256, (7, 1), name=f"{name}_7x1", **kw)
    b2 = conv_bn(x, 192, 1, name=f"{name}_7x7dbl_reduce", **kw)
    b2 = conv_bn(b2, 192, a, name=f"{name}_7x7dbl_1", **kw)
    b2 = conv_bn(b2, 224, b, name=f"{name}_7x7dbl_2", **kw)
    b2 = conv_bn(b2, 224, a, name=f"{name}_7x7dbl_3", **kw)
    b2 = conv_bn(b2, 256, b, name=f"{name}_7x7dbl_4", **kw)
    bp = layers.AveragePooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    bp = conv_bn(bp, 128, 1, name=f"{name}_pool_proj", **kw)
    return concat([b0, b1, b2, bp], name)


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
    return concat([b0, b1, bp], name)


def inception_v4_c(x, *, name="inception_c", bn_scale=True, layout="paper"):
    """Inception v4 module C (8x8x1536): 1x1 256; 1x1 384 -> (1x3 256 || 3x1 256);
    1x1 384 -> 1x3 448 -> 3x1 512 -> (1x3 256 || 3x1 256); avg pool -> 1x1 256.

    ``layout="tf_slim"``: 3x1 448 -> 1x3 512 in the double branch (TF-slim, timm).
    """
    kw = dict(bn_scale=bn_scale)
    a, b = ((3, 1), (1, 3)) if _check_layout(layout) else ((1, 3), (3, 1))
    b0 = conv_bn(x, 256, 1, name=f"{name}_1x1", **kw)
    b1 = conv_bn(x, 384, 1, name=f"{name}_3x3_reduce", **kw)
    b1 = concat([conv_bn(b1, 256, (1, 3), name=f"{name}_3x3_1x3", **kw),
                  conv_bn(b1, 256, (3, 1), name=f"{name}_3x3_3x1", **kw)], f"{name}_3x3")
    b2 = conv_bn(x, 384, 1, name=f"{name}_3x3dbl_reduce", **kw)
    b2 = conv_bn(b2, 448, a, name=f"{name}_3x3dbl_1", **kw)
    b2 = conv_bn(b2, 512, b, name=f"{name}_3x3dbl_2", **kw)
    b2 = concat([conv_bn(b2, 256, (1, 3), name=f"{name}_3x3dbl_1x3", **kw),
                  conv_bn(b2, 256, (3, 1), name=f"{name}_3x3dbl_3x1", **kw)], f"{name}_3x3dbl")
    bp = layers.AveragePooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    bp = conv_bn(bp, 256, 1, name=f"{name}_pool_proj", **kw)
    return concat([b0, b1, b2, bp], name)


# --------------------------------------------------------------------------- Inception-ResNet


def _residual_sum(x, branches, scale, activation, name, bn_scale):
    """Concatenate the branches, 1x1 linear projection to C_in (with bias, no BN),
    ``x + scale * projection``, then the activation."""
    if not isinstance(scale, (int, float)) or isinstance(scale, bool):
        raise ValueError(f"`scale` must be a number; got scale={scale!r}.")
    mixed = concat(branches, f"{name}_mixed")
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
    return concat([a, b, c, p], name)
