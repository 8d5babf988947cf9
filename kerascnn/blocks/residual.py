"""Residual blocks (He et al., "Deep Residual Learning for Image Recognition", 2015).

``identity_block`` and ``convolutional_block`` are the bottleneck blocks of the
Keras ResNet-50 (seed 001): three convolutions 1x1 -> fxf -> 1x1, each followed
by BatchNormalization on the channel axis, ReLU after the first two and after
the addition. ``convolutional_block`` puts a 1x1 stride-``s`` convolution + BN on
the shortcut and strides its first 1x1 convolution (the original v1 placement,
as keras.applications). Layers are named ``res{stage}{block}_branch2a/2b/2c/1``
and ``bn{stage}{block}_branch2a/2b/2c/1``.
"""

from __future__ import annotations

from keras import layers

from kerascnn.applications.common import BN_EPSILON, channel_axis

__all__ = ["identity_block", "convolutional_block", "block_letters"]


def block_letters(num_blocks: int) -> list[str]:
    """Block labels of a stage: a, b, c, ... or, past 26, a, b1, b2, ...

    The second form is the original Caffe naming of ResNet-101/152.
    """
    if num_blocks <= 26:
        return [chr(ord("a") + i) for i in range(num_blocks)]
    return ["a"] + [f"b{i}" for i in range(1, num_blocks)]


def _bottleneck_branch(x, f, filters, stage, block, s, use_bias, epsilon):
    conv_name_base = f"res{stage}{block}_branch"
    bn_name_base = f"bn{stage}{block}_branch"
    f1, f2, f3 = filters
    axis = channel_axis()

    x = layers.Conv2D(f1, 1, strides=s, padding="valid", use_bias=use_bias,
                      name=conv_name_base + "2a")(x)
    x = layers.BatchNormalization(axis=axis, epsilon=epsilon, name=bn_name_base + "2a")(x)
    x = layers.Activation("relu", name=f"res{stage}{block}_branch2a_relu")(x)

    x = layers.Conv2D(f2, f, strides=1, padding="same", use_bias=use_bias,
                      name=conv_name_base + "2b")(x)
    x = layers.BatchNormalization(axis=axis, epsilon=epsilon, name=bn_name_base + "2b")(x)
    x = layers.Activation("relu", name=f"res{stage}{block}_branch2b_relu")(x)

    x = layers.Conv2D(f3, 1, strides=1, padding="valid", use_bias=use_bias,
                      name=conv_name_base + "2c")(x)
    x = layers.BatchNormalization(axis=axis, epsilon=epsilon, name=bn_name_base + "2c")(x)
    return x


def _check(f, filters, stage, block, s=1):
    if not (isinstance(f, int) and f >= 1):
        raise ValueError(f"`f` (middle kernel size) must be a positive integer; got f={f!r}.")
    if len(filters) != 3 or not all(isinstance(n, int) and n >= 1 for n in filters):
        raise ValueError(
            f"`filters` must be three positive integers [F1, F2, F3]; got filters={filters!r}."
        )
    if not (isinstance(s, int) and s >= 1):
        raise ValueError(f"`s` (stride) must be a positive integer; got s={s!r}.")


def identity_block(X, f, filters, stage, block, *, use_bias=True, epsilon=BN_EPSILON):
    """Bottleneck block whose shortcut is the identity.

    Args:
        X: input tensor (its channel count must equal ``filters[2]``).
        f: kernel size of the middle convolution.
        filters: ``[F1, F2, F3]`` filter counts of the three convolutions.
        stage: stage number, used in layer names.
        block: block label (``'a'``, ``'b'``, ...), used in layer names.
        use_bias: convolution biases (True as in seed 001 and keras).
        epsilon: BatchNormalization epsilon.

    Returns:
        Output tensor, same shape as ``X``.
    """
    _check(f, filters, stage, block)
    channels = X.shape[channel_axis()]
    if channels is not None and channels != filters[2]:
        raise ValueError(
            f"identity_block needs F3 equal to the input's {channels} channels; "
            f"got filters={list(filters)} (use convolutional_block to change the width)."
        )
    shortcut = X
    X = _bottleneck_branch(X, f, filters, stage, block, 1, use_bias, epsilon)
    X = layers.Add(name=f"res{stage}{block}")([X, shortcut])
    X = layers.Activation("relu", name=f"res{stage}{block}_relu")(X)
    return X


def convolutional_block(X, f, filters, stage, block, s=2, *, use_bias=True, epsilon=BN_EPSILON):
    """Bottleneck block with a 1x1 stride-``s`` projection on the shortcut.

    Args:
        X: input tensor.
        f: kernel size of the middle convolution.
        filters: ``[F1, F2, F3]`` filter counts of the three convolutions.
        stage: stage number, used in layer names.
        block: block label, used in layer names.
        s: stride of the first 1x1 convolution and of the shortcut.
        use_bias: convolution biases.
        epsilon: BatchNormalization epsilon.

    Returns:
        Output tensor with ``F3`` channels, spatially downsampled by ``s``.
    """
    _check(f, filters, stage, block, s)
    shortcut = layers.Conv2D(filters[2], 1, strides=s, padding="valid", use_bias=use_bias,
                             name=f"res{stage}{block}_branch1")(X)
    shortcut = layers.BatchNormalization(axis=channel_axis(), epsilon=epsilon,
                                         name=f"bn{stage}{block}_branch1")(shortcut)
    X = _bottleneck_branch(X, f, filters, stage, block, s, use_bias, epsilon)
    X = layers.Add(name=f"res{stage}{block}")([X, shortcut])
    X = layers.Activation("relu", name=f"res{stage}{block}_relu")(X)
    return X
