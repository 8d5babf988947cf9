"""Xception's entry, middle and exit flows (Chollet, "Xception: Deep Learning with
Depthwise Separable Convolutions", CVPR 2017), in keras.applications.Xception's layout.
"""

from __future__ import annotations

from keras import layers

from kerascnn.blocks.common import INCEPTION_BN_EPSILON, channel_axis
from kerascnn.layers.conv import Conv2D

__all__ = [
    "xception_entry_flow",
    "xception_middle_flow",
    "xception_exit_flow",
]


def _bn(x, name):
    return layers.BatchNormalization(axis=channel_axis(), epsilon=INCEPTION_BN_EPSILON,
                                     name=name)(x)


def _sep(x, filters, name):
    x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False, name=name)(x)
    return _bn(x, f"{name}_bn")


def _xception_down_block(x, filters, block, pre_activation=True):
    """Two separable convolutions, 3x3/2 max pool, plus a 1x1/2 projection shortcut."""
    f1, f2 = filters
    residual = Conv2D(f2, 1, strides=2, padding="same", use_bias=False,
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
    x = Conv2D(32, 3, strides=2, use_bias=False, name="block1_conv1")(x)
    x = _bn(x, "block1_conv1_bn")
    x = layers.Activation("relu", name="block1_conv1_act")(x)
    x = Conv2D(64, 3, use_bias=False, name="block1_conv2")(x)
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
