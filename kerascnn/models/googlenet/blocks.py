"""GoogLeNet's Inception modules and BN-Inception's.

* ``inception_naive`` and ``inception_v1``: Szegedy et al., "Going Deeper with
  Convolutions", CVPR 2015 (1x1 / 3x3 / 5x5 / 3x3 max-pool branches; the v1
  module puts 1x1 reductions before the 3x3 and 5x5 convolutions and after the
  pooling).
* ``bn_inception_module``: Ioffe & Szegedy, "Batch Normalization", ICML 2015
  (5x5 replaced by two 3x3, average or max pooling, stride-2 modules 3c/4e).
"""

from __future__ import annotations

from keras import layers

from kerascnn.blocks.common import INCEPTION_BN_EPSILON, check_positive_ints, concat, conv_bn
from kerascnn.layers.conv import Conv2D
from kerascnn.layers.pooling import CeilPooling2D

__all__ = [
    "inception_naive",
    "inception_v1",
    "bn_inception_module",
]


def inception_naive(x, f1, f3, f5, *, name="inception"):
    """The naive Inception module: 1x1, 3x3, 5x5 convolutions and 3x3 max pooling.

    Every branch keeps the resolution; the pooled input passes through unchanged,
    so the output has ``f1 + f3 + f5 + C_in`` channels.
    """
    check_positive_ints(f1=f1, f3=f3, f5=f5)
    b1 = Conv2D(f1, 1, padding="same", activation="relu", name=f"{name}_1x1")(x)
    b3 = Conv2D(f3, 3, padding="same", activation="relu", name=f"{name}_3x3")(x)
    b5 = Conv2D(f5, 5, padding="same", activation="relu", name=f"{name}_5x5")(x)
    bp = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    return concat([b1, b3, b5, bp], f"{name}_output")


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
    return concat([b1, b3, b5, bp], f"{name}_output")


def bn_inception_module(x, f1, f3r, f3, fd3r, fd3, pool_proj, *, pool="avg", strides=1,
                        name="inception", use_bias=True, epsilon=1e-5, padding="same"):
    """The BN-Inception (Inception v2) module.

    Branches: 1x1 ``f1``; 1x1 ``f3r`` -> 3x3 ``f3``; 1x1 ``fd3r`` -> 3x3 ``fd3``
    -> 3x3 ``fd3`` (the 5x5 replaced by two 3x3); ``pool`` ('avg' or 'max')
    3x3 -> 1x1 ``pool_proj``. With ``strides=2`` (modules 3c and 4e) the 1x1
    and projection branches are absent (``f1 = pool_proj = 0``), the last
    convolution of each 3x3 branch has stride 2 and the max pooled input passes
    through. Every convolution is followed by BN and ReLU.

    ``padding="symmetric"`` builds PyTorch's (and Caffe's) layout: the stride-2
    convolutions pad one pixel each side explicitly, the stride-2 max pooling rounds up
    (ceil mode) and the 3x3/1 pooling pads one pixel, the average counting it.
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
    if padding not in ("same", "symmetric"):
        raise ValueError(f"`padding` must be 'same' or 'symmetric'; got padding={padding!r}.")
    symmetric = padding == "symmetric"
    kw = dict(use_bias=use_bias, bn_scale=True, epsilon=epsilon)

    def last_conv(y, filters, conv_name):
        if symmetric and strides == 2:
            y = layers.ZeroPadding2D(1, name=f"{conv_name}_pad")(y)
            return conv_bn(y, filters, 3, strides=2, padding="valid", name=conv_name, **kw)
        return conv_bn(y, filters, 3, strides=strides, name=conv_name, **kw)

    branches = []
    if strides == 1:
        branches.append(conv_bn(x, f1, 1, name=f"{name}_1x1", **kw))
    b3 = conv_bn(x, f3r, 1, name=f"{name}_3x3_reduce", **kw)
    branches.append(last_conv(b3, f3, f"{name}_3x3"))
    bd = conv_bn(x, fd3r, 1, name=f"{name}_double_3x3_reduce", **kw)
    bd = conv_bn(bd, fd3, 3, name=f"{name}_double_3x3_1", **kw)
    branches.append(last_conv(bd, fd3, f"{name}_double_3x3_2"))
    if strides == 2 and symmetric:
        branches.append(CeilPooling2D("max", 3, strides=2, ceil_mode=True,
                                      name=f"{name}_pool")(x))
    elif strides == 2:
        branches.append(layers.MaxPooling2D(3, strides=2, padding="same",
                                            name=f"{name}_pool")(x))
    else:
        if symmetric:
            bp = CeilPooling2D(pool, 3, strides=1, padding=1, ceil_mode=True,
                               count_include_pad=True, name=f"{name}_pool")(x)
        else:
            pool_layer = layers.AveragePooling2D if pool == "avg" else layers.MaxPooling2D
            bp = pool_layer(3, strides=1, padding="same", name=f"{name}_pool")(x)
        branches.append(conv_bn(bp, pool_proj, 1, name=f"{name}_pool_proj", **kw))
    return concat(branches, f"{name}_output")
