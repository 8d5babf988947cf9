"""What every block builder shares: the channel axis, the BatchNormalization epsilons,
``conv_bn`` and the argument validators.

Blocks and layers are leaves: they import from here and from ``kerascnn.layers``, never
from ``kerascnn.applications`` (whose ``common`` module re-exports these names).
"""

from __future__ import annotations

import keras
from keras import layers

from kerascnn.layers.conv import Conv2D

__all__ = [
    "BN_EPSILON",
    "TORCH_BN_EPSILON",
    "INCEPTION_BN_EPSILON",
    "channel_axis",
    "conv_bn",
    "concat",
    "check_positive_int",
    "check_positive_ints",
    "check_rate",
]

# keras.applications' BatchNormalization epsilon (ResNet, DenseNet, ...).
BN_EPSILON = 1.001e-5

# PyTorch's BatchNorm2d default (torchvision's ResNet, VGG-BN, ...): the layouts that load
# torchvision's weights use it exactly.
TORCH_BN_EPSILON = 1e-5

# keras' BatchNormalization default, used by keras' Inception v3, Inception-ResNet-v2,
# Xception and by the TF-slim Inception v4.
INCEPTION_BN_EPSILON = 1e-3


def channel_axis() -> int:
    """-1 for ``channels_last``, 1 for ``channels_first``."""
    return -1 if keras.config.image_data_format() == "channels_last" else 1


def _is_positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def check_positive_int(value, argument: str) -> None:
    """Raises ``ValueError("`argument` must be a positive integer; got argument=value.")``."""
    if not _is_positive_int(value):
        raise ValueError(f"`{argument}` must be a positive integer; got {argument}={value!r}.")


def check_positive_ints(**values) -> None:
    """:func:`check_positive_int` for each keyword argument, in order."""
    for argument, value in values.items():
        check_positive_int(value, argument)


def check_rate(value, argument: str = "dropout_rate") -> None:
    """Raises ``ValueError("`argument` must be a rate in [0, 1); got argument=value.")``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"`{argument}` must be a rate in [0, 1); got {argument}={value!r}.")


def conv_bn(x, filters, kernel_size, strides=1, padding="same", *, name, use_bias=False,
            batch_norm=True, bn_scale=False, epsilon=INCEPTION_BN_EPSILON, activation="relu"):
    """Convolution, optional BatchNormalization, optional activation.

    Args:
        x: input tensor.
        filters, kernel_size, strides, padding: as ``keras.layers.Conv2D``.
        name: the convolution's name; BN and activation get ``_bn`` / ``_relu``.
        use_bias: convolution bias (False before BN in the Inception v3+ line).
        batch_norm: add BatchNormalization.
        bn_scale: learn BN's gamma (keras' Inception v3 / Inception-ResNet-v2
            use ``scale=False``; Inception v4 and BN-Inception learn it).
        epsilon: BN epsilon.
        activation: activation name or None.
    """
    x = Conv2D(filters, kernel_size, strides=strides, padding=padding, use_bias=use_bias,
               name=name)(x)
    if batch_norm:
        x = layers.BatchNormalization(axis=channel_axis(), scale=bn_scale, epsilon=epsilon,
                                      name=f"{name}_bn")(x)
    if activation is not None:
        x = layers.Activation(activation, name=f"{name}_relu")(x)
    return x


def concat(branches, name):
    """Concatenates block branches along the channel axis."""
    return layers.Concatenate(axis=channel_axis(), name=name)(branches)
