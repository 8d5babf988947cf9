"""VGG blocks (Simonyan & Zisserman, "Very Deep Convolutional Networks for
Large-Scale Image Recognition", ICLR 2015).

A VGG block is ``num_convs`` 3x3 "same" convolutions with ReLU followed by a
2x2/2 max pooling that halves the resolution.
"""

from __future__ import annotations

from keras import layers

from kerascnn.blocks.common import BN_EPSILON, channel_axis, check_positive_ints
from kerascnn.layers.conv import Conv2D
from kerascnn.layers.lrn import ALEXNET_LRN, LocalResponseNormalization

__all__ = ["vgg_block"]


def vgg_block(x, num_convs, filters, *, name="block", kernel_sizes=None, batch_norm=False,
              lrn_after_first=False, bn_epsilon=BN_EPSILON):
    """Stacks ``num_convs`` convolutions and a 2x2/2 max pooling.

    Args:
        x: input tensor.
        num_convs: number of convolutions (>= 1).
        filters: filters of every convolution.
        name: prefix of the layer names (``{name}_conv{i}``, ``{name}_pool``),
            ``block1`` .. ``block5`` as keras.applications.VGG16.
        kernel_sizes: optional kernel size per convolution (3 by default;
            configuration C uses 1 for the last convolution of blocks 3-5).
        batch_norm: BatchNormalization after each convolution (before the ReLU);
            the convolutions keep their biases (torchvision ``vgg*_bn``).
        lrn_after_first: a LocalResponseNormalization after the first
            convolution (configuration A-LRN).
        bn_epsilon: BatchNormalization epsilon.

    Returns:
        The pooled output tensor.
    """
    check_positive_ints(num_convs=num_convs, filters=filters)
    kernel_sizes = list(kernel_sizes) if kernel_sizes is not None else [3] * num_convs
    if len(kernel_sizes) != num_convs:
        raise ValueError(
            f"`kernel_sizes` must have one entry per convolution ({num_convs}); "
            f"got kernel_sizes={kernel_sizes!r}."
        )
    for i, k in enumerate(kernel_sizes, start=1):
        conv_name = f"{name}_conv{i}"
        if batch_norm:
            x = Conv2D(filters, k, padding="same", name=conv_name)(x)
            x = layers.BatchNormalization(axis=channel_axis(), epsilon=bn_epsilon,
                                          name=f"{conv_name}_bn")(x)
            x = layers.Activation("relu", name=f"{conv_name}_relu")(x)
        else:
            x = Conv2D(filters, k, padding="same", activation="relu", name=conv_name)(x)
        if lrn_after_first and i == 1:
            # "the LRN layer of Krizhevsky et al.": AlexNet's constants and convention.
            x = LocalResponseNormalization(**ALEXNET_LRN, axis=channel_axis(),
                                           name=f"{name}_lrn")(x)
    return layers.MaxPooling2D((2, 2), strides=(2, 2), name=f"{name}_pool")(x)
