"""Blocks for the convolution variants: factorised, stacked small and depthwise
separable kernels.

* :func:`asymmetric_conv` (Inception v3 paper, section 3.2): an n x n
  convolution factorized into a 1 x n then an n x 1 convolution (2n C^2
  instead of n^2 C^2 weights).
* :func:`small_kernel_stack` (VGG; Inception v3 paper, section 3.1): a k x k
  convolution replaced by (k-1)/2 stacked 3 x 3 convolutions with the same
  receptive field.
* :func:`depthwise_separable_conv`: depthwise k x k then 1 x 1, MobileNet's block
  (:mod:`kerascnn.blocks.mobilenet`, re-exported here).
"""

from __future__ import annotations

from keras import layers

from kerascnn.blocks.common import BN_EPSILON, channel_axis, check_positive_int
from kerascnn.blocks.mobilenet import depthwise_separable_conv  # noqa: F401  (MobileNet's block)
from kerascnn.layers.conv import Conv2D

__all__ = ["asymmetric_conv", "small_kernel_stack", "depthwise_separable_conv"]


def _post(x, name, batch_norm, activation):
    if batch_norm:
        x = layers.BatchNormalization(axis=channel_axis(), epsilon=BN_EPSILON,
                                      name=f"{name}_bn")(x)
    if activation:
        x = layers.Activation(activation, name=f"{name}_act")(x)
    return x


def _check(filters, n, what="n"):
    check_positive_int(filters, "filters")
    check_positive_int(n, what)


def asymmetric_conv(x, filters, n, *, name="asym", batch_norm=False, activation="relu",
                    use_bias=True):
    """1 x n convolution then n x 1 convolution ("same" padding).

    Args:
        x: input tensor.
        filters: output channels of both convolutions.
        n: the factorized kernel size.
        name: prefix of the layer names (``{name}_1x{n}``, ``{name}_{n}x1``).
        batch_norm: BatchNormalization after each convolution.
        activation: activation after each convolution (None for linear).
        use_bias: convolution biases.
    """
    _check(filters, n)
    x = Conv2D(filters, (1, n), padding="same", use_bias=use_bias,
               name=f"{name}_1x{n}")(x)
    x = _post(x, f"{name}_1x{n}", batch_norm, activation)
    x = Conv2D(filters, (n, 1), padding="same", use_bias=use_bias,
               name=f"{name}_{n}x1")(x)
    return _post(x, f"{name}_{n}x1", batch_norm, activation)


def small_kernel_stack(x, filters, kernel_size, *, name="stack", batch_norm=False,
                       activation="relu", use_bias=True):
    """(kernel_size - 1) / 2 stacked 3 x 3 convolutions in place of one k x k.

    ``kernel_size`` must be odd and >= 3 (5: two 3 x 3, 7: three, 11: five).
    """
    _check(filters, kernel_size, "kernel_size")
    if kernel_size < 3 or kernel_size % 2 == 0:
        raise ValueError(f"`kernel_size` must be odd and >= 3; got kernel_size={kernel_size}.")
    for i in range((kernel_size - 1) // 2):
        x = Conv2D(filters, 3, padding="same", use_bias=use_bias,
                   name=f"{name}_{i + 1}_3x3")(x)
        x = _post(x, f"{name}_{i + 1}", batch_norm, activation)
    return x
