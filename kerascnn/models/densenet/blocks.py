"""Dense blocks and transition layers (Huang et al., "Densely Connected
Convolutional Networks", CVPR 2017).

Inside a dense block, layer ``l`` sees the concatenation of the block input
and of the outputs of every earlier layer, ``x_l = H_l([x_0, ..., x_{l-1}])``,
and adds ``growth_rate`` (k) channels:

* ``H_l`` = BN-ReLU-Conv3x3(k) (DenseNet), or with ``bottleneck=True``
  BN-ReLU-Conv1x1(4k)-BN-ReLU-Conv3x3(k) (DenseNet-B);
* :func:`transition` = BN-ReLU-Conv1x1(theta*m)-AvgPool2x2 between blocks
  (``compression`` theta < 1: DenseNet-C, with the bottleneck DenseNet-BC);
* :func:`dense_fast_block` is the Lasagne recipe's variant: each new feature map is
  normalized once, by a BatchNormalization without scale and offset, and each
  consumer applies only a learned per-channel scale + bias
  (:class:`~kerascnn.layers.Affine`) before its ReLU.

With ``memory_efficient=True`` (Pleiss et al., "Memory-Efficient Implementation of DenseNets") the concat-BN-ReLU(-Conv1x1) in
front of each convolution is one :class:`~kerascnn.layers.ConcatNormReLUConv`
whose intermediates are recomputed during backpropagation; it receives the
block's feature maps as a list, so that no per-layer concatenation is kept.

Layers are named as keras.applications' DenseNet: ``{name}_block{i}_0_bn``,
``_0_relu``, ``_1_conv``, ``_1_bn``, ``_1_relu``, ``_2_conv``, ``_concat``;
transitions ``{name}_bn``, ``_relu``, ``_conv``, ``_pool``.
"""

from __future__ import annotations

from keras import layers

from kerascnn.blocks.common import BN_EPSILON, channel_axis, check_positive_int, check_rate
from kerascnn.layers.affine import Affine
from kerascnn.layers.conv import Conv2D
from kerascnn.layers.dense import ConcatNormReLUConv

__all__ = ["dense_block", "dense_fast_block", "transition", "dense_features", "norm_relu"]


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _concat(features, name):
    if len(features) == 1:
        return features[0]
    return layers.Concatenate(axis=channel_axis(), name=name)(features)


def norm_relu(x, name, fast=False, epsilon=BN_EPSILON):
    """BN-ReLU (or, with ``fast``, Affine-ReLU) named ``{name}_bn``/``_relu``."""
    if fast:
        x = Affine(axis=channel_axis(), name=f"{name}_scale")(x)
    else:
        x = layers.BatchNormalization(axis=channel_axis(), epsilon=epsilon, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def _plain_norm(x, name, epsilon):
    """The normalization without scale/offset of the Lasagne recipe's dense_fast."""
    return layers.BatchNormalization(axis=channel_axis(), epsilon=epsilon, center=False,
                                     scale=False, name=name)(x)


def _norm_relu_conv(inputs, filters, kernel_size, name, norm_name, conv_name, fast,
                    memory_efficient, epsilon):
    """[concat] -> norm -> ReLU -> conv, plain layers or one recomputed layer."""
    inputs = _as_list(inputs)
    if memory_efficient:
        return ConcatNormReLUConv(
            filters, kernel_size, norm="affine" if fast else "batch", axis=channel_axis(),
            epsilon=epsilon, name=f"{name}_remat", norm_name=norm_name, conv_name=conv_name,
        )(inputs if len(inputs) > 1 else inputs[0])
    x = _concat(inputs, f"{name}_input_concat")
    if fast:
        x = Affine(axis=channel_axis(), name=norm_name)(x)
    else:
        x = layers.BatchNormalization(axis=channel_axis(), epsilon=epsilon, name=norm_name)(x)
    x = layers.Activation("relu", name=f"{name}_relu")(x)
    if filters is None:
        return x
    return Conv2D(filters, kernel_size, padding="same", use_bias=False,
                  name=conv_name)(x)


def dense_features(x, num_layers, growth_rate, bottleneck=False, *, name="dense",
                   fast=False, memory_efficient=False, dropout_rate=0.0,
                   epsilon=BN_EPSILON):
    """The layers of a dense block; returns the list of feature maps.

    ``x`` may be a tensor or a list of tensors (the feature maps of a
    previous block). The first element of the returned list is ``x`` (or its
    elements), then one ``growth_rate``-channel map per layer. In the plain
    mode each layer concatenates its input with its new feature map (the
    keras.applications graph); the list then holds the running concatenation
    as its single element.
    """
    check_positive_int(num_layers, "num_layers")
    check_positive_int(growth_rate, "growth_rate")
    check_rate(dropout_rate, "dropout_rate")
    features = _as_list(x)
    if not memory_efficient:
        features = [_concat(features, f"{name}_input_concat")]
    for i in range(1, num_layers + 1):
        prefix = f"{name}_block{i}"
        if bottleneck:
            y = _norm_relu_conv(features, 4 * growth_rate, 1, f"{prefix}_0",
                                f"{prefix}_0_scale" if fast else f"{prefix}_0_bn",
                                f"{prefix}_1_conv", fast, memory_efficient, epsilon)
            if dropout_rate:
                y = layers.Dropout(dropout_rate, name=f"{prefix}_1_drop")(y)
            y = layers.BatchNormalization(axis=channel_axis(), epsilon=epsilon,
                                          name=f"{prefix}_1_bn")(y)
            y = layers.Activation("relu", name=f"{prefix}_1_relu")(y)
            y = Conv2D(growth_rate, 3, padding="same", use_bias=False,
                       name=f"{prefix}_2_conv")(y)
            last = f"{prefix}_2"
        else:
            y = _norm_relu_conv(features, growth_rate, 3, f"{prefix}_0",
                                f"{prefix}_0_scale" if fast else f"{prefix}_0_bn",
                                f"{prefix}_1_conv", fast, memory_efficient, epsilon)
            last = f"{prefix}_1"
        if dropout_rate:
            y = layers.Dropout(dropout_rate, name=f"{last}_drop")(y)
        if fast:
            y = _plain_norm(y, f"{last}_bn", epsilon)
        if memory_efficient:
            features.append(y)
        else:
            features = [layers.Concatenate(axis=channel_axis(), name=f"{prefix}_concat")(
                [features[0], y])]
    return features


def dense_block(x, num_layers, growth_rate, bottleneck=False, *, name="dense",
                memory_efficient=False, dropout_rate=0.0, epsilon=BN_EPSILON):
    """A dense block of ``num_layers`` layers H_l, each adding ``growth_rate`` maps.

    Args:
        x: input tensor (or list of tensors, concatenated on the channel axis).
        num_layers: number of layers H_l.
        growth_rate: k, channels added by each layer.
        bottleneck: DenseNet-B layers (BN-ReLU-Conv1x1(4k)-BN-ReLU-Conv3x3(k))
            instead of BN-ReLU-Conv3x3(k).
        name: prefix of the layer names (``conv2`` in keras' DenseNet).
        memory_efficient: recompute concat-BN-ReLU(-Conv1x1) in the backward
            pass (Pleiss et al., "Memory-Efficient Implementation of DenseNets"); same function and weights.
        dropout_rate: dropout after each convolution (the paper's 0.2 without
            data augmentation).
        epsilon: BatchNormalization epsilon.

    Returns:
        The block output: the input channels plus ``num_layers * growth_rate``.
    """
    features = dense_features(x, num_layers, growth_rate, bottleneck, name=name,
                              memory_efficient=memory_efficient, dropout_rate=dropout_rate,
                              epsilon=epsilon)
    return _concat(features, f"{name}_concat")


def dense_fast_block(x, num_layers, growth_rate, bottleneck=False, *, name="dense",
                     memory_efficient=False, dropout_rate=0.0, epsilon=BN_EPSILON):
    """The Lasagne recipe's ``dense_fast_block``: Affine-ReLU-Conv3x3-BN(no scale/offset).

    Each new feature map is normalized once when it is produced; its
    consumers only learn a per-channel scale and bias of the concatenation
    (instead of a full BatchNormalization each). Trainable parameters equal
    :func:`dense_block`'s (2 per input channel of each layer plus the
    convolutions). Arguments as :func:`dense_block`.
    """
    features = dense_features(x, num_layers, growth_rate, bottleneck, name=name, fast=True,
                              memory_efficient=memory_efficient, dropout_rate=dropout_rate,
                              epsilon=epsilon)
    return _concat(features, f"{name}_concat")


def transition(x, compression=1.0, *, name="transition", fast=False, memory_efficient=False,
               dropout_rate=0.0, epsilon=BN_EPSILON):
    """Transition layer: BN-ReLU-Conv1x1(floor(theta*m))-AvgPool 2x2/2.

    Args:
        x: the block output (a tensor, or the list of its feature maps).
        compression: theta in (0, 1]; the 1x1 convolution has
            ``int(m * theta)`` filters for ``m`` input channels.
        name: prefix of the layer names (``pool2`` in keras' DenseNet).
        fast: the Lasagne recipe's dense_fast transition (Affine-ReLU-Conv1x1-AvgPool-BN
            without scale/offset).
        memory_efficient: recompute concat-BN-ReLU-Conv1x1 in the backward pass.
        dropout_rate: dropout after the convolution.
        epsilon: BatchNormalization epsilon.
    """
    if isinstance(compression, bool) or not isinstance(compression, (int, float)) or \
            not 0.0 < compression <= 1.0:
        raise ValueError(f"`compression` must be in (0, 1]; got compression={compression!r}.")
    channels = sum(t.shape[channel_axis()] for t in _as_list(x))
    filters = int(channels * compression)
    y = _norm_relu_conv(x, filters, 1, name, f"{name}_scale" if fast else f"{name}_bn",
                        f"{name}_conv", fast, memory_efficient, epsilon)
    if dropout_rate:
        y = layers.Dropout(dropout_rate, name=f"{name}_drop")(y)
    y = layers.AveragePooling2D(2, strides=2, name=f"{name}_pool")(y)
    if fast:
        y = _plain_norm(y, f"{name}_pool_bn", epsilon)
    return y
