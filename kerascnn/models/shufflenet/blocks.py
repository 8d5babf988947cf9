"""The ShuffleNet unit (Zhang et al., "ShuffleNet: An Extremely Efficient Convolutional
Neural Network for Mobile Devices", CVPR 2018, figure 2 (b) and (c)): grouped 1x1
convolution, BN, ReLU, channel shuffle, 3x3 depthwise convolution, BN, grouped 1x1
convolution, BN, then the identity added (or, when downsampling, a 3x3/2 average-pooled
input concatenated), ReLU.
"""

from __future__ import annotations

from keras import layers

from kerascnn.blocks.common import BN_EPSILON
from kerascnn.layers.conv import Conv2D, DepthwiseConv2D
from kerascnn.layers.conv_variants import ChannelShuffle

__all__ = ["shufflenet_unit"]


def _bn(x, name, epsilon=BN_EPSILON):
    return layers.BatchNormalization(epsilon=epsilon, name=name)(x)


def shufflenet_unit(x, out_channels, groups, *, downsample=False, group_first=True,
                    name="unit", bn_epsilon=BN_EPSILON):
    """One ShuffleNet unit (channels_last).

    Args:
        x: input tensor.
        out_channels: output channels of the unit.
        groups: g of the grouped 1x1 convolutions and of the shuffle.
        downsample: stride 2 and concatenation with an average-pooled input.
        group_first: group the first 1x1 convolution (False for the first
            unit of the network).
        name: prefix of the layer names.
        bn_epsilon: epsilon of the BatchNormalization layers.
    """
    in_channels = x.shape[-1]
    mid = out_channels // 4
    branch_out = out_channels - in_channels if downsample else out_channels
    if not downsample and in_channels != out_channels:
        raise ValueError(f"A unit without downsampling needs {out_channels} input channels; "
                         f"got {in_channels}.")
    y = Conv2D(mid, 1, groups=groups if group_first else 1, use_bias=False,
               name=f"{name}_compress_conv")(x)
    y = _bn(y, f"{name}_compress_bn", bn_epsilon)
    y = layers.ReLU(name=f"{name}_compress_relu")(y)
    y = ChannelShuffle(groups, name=f"{name}_shuffle")(y)
    y = layers.ZeroPadding2D(1, name=f"{name}_dw_pad")(y)
    y = DepthwiseConv2D(3, strides=2 if downsample else 1, use_bias=False,
                        name=f"{name}_dw_conv")(y)
    y = _bn(y, f"{name}_dw_bn", bn_epsilon)
    y = Conv2D(branch_out, 1, groups=groups, use_bias=False,
               name=f"{name}_expand_conv")(y)
    y = _bn(y, f"{name}_expand_bn", bn_epsilon)
    if downsample:
        s = layers.ZeroPadding2D(1, name=f"{name}_avg_pad")(x)
        s = layers.AveragePooling2D(3, strides=2, name=f"{name}_avg_pool")(s)
        y = layers.Concatenate(name=f"{name}_concat")([y, s])
    else:
        y = layers.Add(name=f"{name}_add")([y, x])
    return layers.ReLU(name=f"{name}_relu")(y)
