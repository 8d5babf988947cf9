"""The depthwise separable convolution (Howard et al., "MobileNets: Efficient
Convolutional Neural Networks for Mobile Vision Applications", 2017, section 3.1 and
figure 3): a k x k depthwise convolution, BN, activation, then a 1 x 1 pointwise
convolution, BN, activation. MobileNet is 13 of them; its keras.applications layout
(ReLU6, BN epsilon 1e-3, stride-2 convolutions padded one row and column at the bottom
and right, keras' layer names) is a set of options of the same block.
"""

from __future__ import annotations

from keras import layers

from kerascnn.blocks.common import BN_EPSILON, channel_axis, check_positive_int
from kerascnn.layers.conv import Conv2D, DepthwiseConv2D

__all__ = ["depthwise_separable_conv", "KERAS_MOBILENET_NAMES"]

# keras.applications.MobileNet's names for block ``id``.
KERAS_MOBILENET_NAMES = {
    "pad": "conv_pad_{id}", "dw": "conv_dw_{id}", "dw_bn": "conv_dw_{id}_bn",
    "dw_act": "conv_dw_{id}_relu", "pw": "conv_pw_{id}", "pw_bn": "conv_pw_{id}_bn",
    "pw_act": "conv_pw_{id}_relu",
}


def _activation(x, activation, name):
    if activation == "relu6":
        return layers.ReLU(6.0, name=name)(x)
    return layers.Activation(activation, name=name)(x)


def depthwise_separable_conv(x, filters, kernel_size=3, *, strides=1, depth_multiplier=1,
                             name="sep", batch_norm=True, activation="relu", use_bias=False,
                             bn_epsilon=BN_EPSILON, pad_bottom_right=False, names=None):
    """Depthwise k x k convolution, [BN, activation], then 1 x 1 convolution, [BN, activation].

    Args:
        x: input tensor.
        filters: channels of the pointwise convolution.
        kernel_size: k of the depthwise convolution (odd).
        strides: stride of the depthwise convolution.
        depth_multiplier: depthwise channels per input channel.
        name: prefix of the layer names (``{name}_dw``, ``{name}_dw_bn``,
            ``{name}_dw_act``, ``{name}_pw``, ...).
        batch_norm: BatchNormalization after each convolution.
        activation: activation after each convolution (``"relu6"``: a ReLU capped at 6,
            MobileNet's); None for linear.
        use_bias: convolution biases.
        bn_epsilon: BatchNormalization epsilon (keras' MobileNet: 1e-3).
        pad_bottom_right: with a stride of 2, pad one row and column at the bottom and
            right and convolve "valid" (keras' MobileNet) instead of "same".
        names: a dict of layer names by part (``pad``, ``dw``, ``dw_bn``, ``dw_act``,
            ``pw``, ``pw_bn``, ``pw_act``) overriding the ``name`` prefix
            (:data:`KERAS_MOBILENET_NAMES` formatted with the block id).

    Returns:
        Output tensor with ``filters`` channels.
    """
    check_positive_int(filters, "filters")
    check_positive_int(kernel_size, "kernel_size")
    check_positive_int(depth_multiplier, "depth_multiplier")
    names = dict({part: f"{name}_{part}" for part in KERAS_MOBILENET_NAMES}, **(names or {}))
    padding = "same"
    if pad_bottom_right and strides != 1:
        x = layers.ZeroPadding2D(((0, 1), (0, 1)), name=names["pad"])(x)
        padding = "valid"
    x = DepthwiseConv2D(kernel_size, strides=strides, padding=padding,
                        depth_multiplier=depth_multiplier, use_bias=use_bias,
                        name=names["dw"])(x)
    if batch_norm:
        x = layers.BatchNormalization(axis=channel_axis(), epsilon=bn_epsilon,
                                      name=names["dw_bn"])(x)
    if activation:
        x = _activation(x, activation, names["dw_act"])
    x = Conv2D(filters, 1, padding="same", use_bias=use_bias, name=names["pw"])(x)
    if batch_norm:
        x = layers.BatchNormalization(axis=channel_axis(), epsilon=bn_epsilon,
                                      name=names["pw_bn"])(x)
    if activation:
        x = _activation(x, activation, names["pw_act"])
    return x
