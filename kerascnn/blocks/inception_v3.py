"""Inception v3's modules (Szegedy et al., "Rethinking the Inception Architecture for
Computer Vision", CVPR 2016): factorised 3x3 pairs, 1xn/nx1 convolutions and grid
reductions, with the layout and branch order of keras.applications.InceptionV3 (which
decides which channels come first, hence whether weights transfer).

``bn_scale=True`` gives every BN a gamma and ``count_include_pad=True`` makes the modules'
3x3/1 average pooling divide by 9 at the borders too: torchvision's Inception v3
(``BasicConv2d``: conv without bias, BN with affine, eps 1e-3; ``F.avg_pool2d(x, 3, 1, 1)``).
"""

from __future__ import annotations

from keras import layers

from kerascnn.blocks.common import check_positive_ints, concat, conv_bn

__all__ = [
    "inception_v3_stem",
    "inception_v3_a",
    "inception_v3_reduction_a",
    "inception_v3_b",
    "inception_v3_reduction_b",
    "inception_v3_c",
]


def _v3(x, filters, kernel_size, name, strides=1, padding="same", bn_scale=False):
    return conv_bn(x, filters, kernel_size, strides=strides, padding=padding, name=name,
                   bn_scale=bn_scale)


def _avg_pool(x, name, count_include_pad=False):
    """3x3/1 average pooling that keeps the size: keras' "same" pooling averages only the
    input pixels under a border window (PyTorch's ``count_include_pad=False``); with
    ``count_include_pad`` the window is zero-padded by one and always divided by 9
    (``F.avg_pool2d(x, 3, 1, 1)``, torchvision's Inception v3)."""
    if count_include_pad:
        x = layers.ZeroPadding2D(1, name=f"{name}_pad")(x)
        return layers.AveragePooling2D(3, strides=1, padding="valid", name=name)(x)
    return layers.AveragePooling2D(3, strides=1, padding="same", name=name)(x)


def inception_v3_stem(x, *, bn_scale=False):
    """Inception v3's stem (299x299 -> 35x35x192), also keras' Inception-ResNet-v2 stem.

    conv 3x3/2 (32, valid), 3x3 (32, valid), 3x3 (64), max-pool 3x3/2, conv 1x1 (80,
    valid), 3x3 (192, valid), max-pool 3x3/2; layers ``conv1``-``conv5``, ``pool1``-``pool2``.
    ``bn_scale``: BN with gamma (torchvision's and timm's layouts; keras' has none).
    """
    kw = dict(bn_scale=bn_scale)
    x = conv_bn(x, 32, 3, strides=2, padding="valid", name="conv1", **kw)
    x = conv_bn(x, 32, 3, padding="valid", name="conv2", **kw)
    x = conv_bn(x, 64, 3, name="conv3", **kw)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    x = conv_bn(x, 80, 1, padding="valid", name="conv4", **kw)
    x = conv_bn(x, 192, 3, padding="valid", name="conv5", **kw)
    return layers.MaxPooling2D(3, strides=2, name="pool2")(x)


def inception_v3_a(x, pool_filters, *, name="mixed0", bn_scale=False, count_include_pad=False):
    """Inception v3 module A (35x35): 5x5 branch and a factorised pair of 3x3.

    Branches: 1x1 64; 1x1 48 -> 5x5 64; 1x1 64 -> 3x3 96 -> 3x3 96; 3x3 average
    pool -> 1x1 ``pool_filters`` (32 in mixed0, 64 in mixed1-2).
    """
    check_positive_ints(pool_filters=pool_filters)
    b1 = _v3(x, 64, 1, f"{name}_1x1", bn_scale=bn_scale)
    b5 = _v3(x, 48, 1, f"{name}_5x5_reduce", bn_scale=bn_scale)
    b5 = _v3(b5, 64, 5, f"{name}_5x5", bn_scale=bn_scale)
    bd = _v3(x, 64, 1, f"{name}_3x3dbl_reduce", bn_scale=bn_scale)
    bd = _v3(bd, 96, 3, f"{name}_3x3dbl_1", bn_scale=bn_scale)
    bd = _v3(bd, 96, 3, f"{name}_3x3dbl_2", bn_scale=bn_scale)
    bp = _avg_pool(x, f"{name}_pool", count_include_pad)
    bp = _v3(bp, pool_filters, 1, f"{name}_pool_proj", bn_scale=bn_scale)
    return concat([b1, b5, bd, bp], name)


def inception_v3_reduction_a(x, *, name="mixed3", bn_scale=False):
    """Inception v3 grid reduction 35 -> 17: 3x3/2 384 || 1x1 64 -> 3x3 96 -> 3x3/2 96
    || 3x3/2 max pool (stride-2 convolution and pooling side by side)."""
    b3 = _v3(x, 384, 3, f"{name}_3x3", strides=2, padding="valid", bn_scale=bn_scale)
    bd = _v3(x, 64, 1, f"{name}_3x3dbl_reduce", bn_scale=bn_scale)
    bd = _v3(bd, 96, 3, f"{name}_3x3dbl_1", bn_scale=bn_scale)
    bd = _v3(bd, 96, 3, f"{name}_3x3dbl_2", strides=2, padding="valid", bn_scale=bn_scale)
    bp = layers.MaxPooling2D(3, strides=2, name=f"{name}_pool")(x)
    return concat([b3, bd, bp], name)


def inception_v3_b(x, f7, *, name="mixed4", bn_scale=False, count_include_pad=False):
    """Inception v3 module B (17x17): 7x7 factorised into 1x7 and 7x1.

    Branches: 1x1 192; 1x1 ``f7`` -> 1x7 ``f7`` -> 7x1 192; 1x1 ``f7`` -> 7x1
    -> 1x7 -> 7x1 -> 1x7 192; 3x3 average pool -> 1x1 192. ``f7`` is 128, 160,
    160, 192 in mixed4..mixed7.
    """
    check_positive_ints(f7=f7)
    b1 = _v3(x, 192, 1, f"{name}_1x1", bn_scale=bn_scale)
    b7 = _v3(x, f7, 1, f"{name}_7x7_reduce", bn_scale=bn_scale)
    b7 = _v3(b7, f7, (1, 7), f"{name}_1x7", bn_scale=bn_scale)
    b7 = _v3(b7, 192, (7, 1), f"{name}_7x1", bn_scale=bn_scale)
    bd = _v3(x, f7, 1, f"{name}_7x7dbl_reduce", bn_scale=bn_scale)
    bd = _v3(bd, f7, (7, 1), f"{name}_7x7dbl_1", bn_scale=bn_scale)
    bd = _v3(bd, f7, (1, 7), f"{name}_7x7dbl_2", bn_scale=bn_scale)
    bd = _v3(bd, f7, (7, 1), f"{name}_7x7dbl_3", bn_scale=bn_scale)
    bd = _v3(bd, 192, (1, 7), f"{name}_7x7dbl_4", bn_scale=bn_scale)
    bp = _avg_pool(x, f"{name}_pool", count_include_pad)
    bp = _v3(bp, 192, 1, f"{name}_pool_proj", bn_scale=bn_scale)
    return concat([b1, b7, bd, bp], name)


def inception_v3_reduction_b(x, *, name="mixed8", bn_scale=False):
    """Inception v3 grid reduction 17 -> 8: 1x1 192 -> 3x3/2 320 || 1x1 192 -> 1x7
    -> 7x1 -> 3x3/2 192 || 3x3/2 max pool."""
    b3 = _v3(x, 192, 1, f"{name}_3x3_reduce", bn_scale=bn_scale)
    b3 = _v3(b3, 320, 3, f"{name}_3x3", strides=2, padding="valid", bn_scale=bn_scale)
    b7 = _v3(x, 192, 1, f"{name}_7x7x3_reduce", bn_scale=bn_scale)
    b7 = _v3(b7, 192, (1, 7), f"{name}_7x7x3_1", bn_scale=bn_scale)
    b7 = _v3(b7, 192, (7, 1), f"{name}_7x7x3_2", bn_scale=bn_scale)
    b7 = _v3(b7, 192, 3, f"{name}_7x7x3_3", strides=2, padding="valid", bn_scale=bn_scale)
    bp = layers.MaxPooling2D(3, strides=2, name=f"{name}_pool")(x)
    return concat([b3, b7, bp], name)


def inception_v3_c(x, *, name="mixed9", bn_scale=False, count_include_pad=False):
    """Inception v3 module C (8x8): expanded filter bank, 3x3 split into parallel
    1x3 and 3x1. Branches: 1x1 320; 1x1 384 -> (1x3 384 || 3x1 384); 1x1 448 ->
    3x3 384 -> (1x3 384 || 3x1 384); 3x3 average pool -> 1x1 192 (2048 channels).
    """
    b1 = _v3(x, 320, 1, f"{name}_1x1", bn_scale=bn_scale)
    b3 = _v3(x, 384, 1, f"{name}_3x3_reduce", bn_scale=bn_scale)
    b3 = concat([_v3(b3, 384, (1, 3), f"{name}_3x3_1x3", bn_scale=bn_scale),
                  _v3(b3, 384, (3, 1), f"{name}_3x3_3x1", bn_scale=bn_scale)], f"{name}_3x3")
    bd = _v3(x, 448, 1, f"{name}_3x3dbl_reduce", bn_scale=bn_scale)
    bd = _v3(bd, 384, 3, f"{name}_3x3dbl_1", bn_scale=bn_scale)
    bd = concat([_v3(bd, 384, (1, 3), f"{name}_3x3dbl_1x3", bn_scale=bn_scale),
                  _v3(bd, 384, (3, 1), f"{name}_3x3dbl_3x1", bn_scale=bn_scale)], f"{name}_3x3dbl")
    bp = _avg_pool(x, f"{name}_pool", count_include_pad)
    bp = _v3(bp, 192, 1, f"{name}_pool_proj", bn_scale=bn_scale)
    return concat([b1, b3, bd, bp], name)
