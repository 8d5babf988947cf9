"""Residual blocks: one builder for every residual family.

:func:`residual_block` builds

* the basic block (two kxk convolutions) and the bottleneck block (1x1, kxk,
  1x1; the kxk may be a grouped convolution of cardinality ``groups``, the
  ResNeXt block of Xie et al. 2017),
* post-activation (He et al., "Deep Residual Learning for Image Recognition",
  2015: conv-BN-ReLU, addition, ReLU) or full pre-activation (He et al.,
  "Identity Mappings in Deep Residual Networks", 2016
  (e): BN-ReLU-conv, addition, nothing after),
* shortcut options A (parameter-free: subsampling + zero channels), B (1x1
  projection only where the shape changes) and C (projection everywhere),
* with a squeeze-and-excitation block on the residual branch (``se_ratio=``,
  Hu et al. 2018) and stochastic depth
  (``survival_probability=``, Huang et al. 2016: the
  branch becomes a sub-model run by :class:`kerascnn.layers.StochasticDepth`,
  which skips it when the block is dropped).

The Keras ResNet-50 tutorial's ``identity_block`` and ``convolutional_block`` are this builder with
the Caffe layer names ``res{stage}{block}_branch2a/2b/2c/1`` and
``bn{stage}{block}_branch...``.
"""

from __future__ import annotations

import keras
from keras import layers

from kerascnn.blocks.common import BN_EPSILON, channel_axis, check_positive_int, check_positive_ints
from kerascnn.blocks.se import se_block
from kerascnn.layers.stochastic_depth import (
    StochasticDepth,
    check_survival_probability,
    survival_probabilities,
)
from kerascnn.layers.zero_pad_shortcut import ZeroPadShortcut

__all__ = ["residual_block", "identity_block", "convolutional_block", "block_letters",
           "block_namer", "depth_schedule", "SHORTCUTS", "BLOCK_TYPES"]

SHORTCUTS = ("A", "B", "C")
BLOCK_TYPES = ("basic", "bottleneck")

_CAFFE = {
    "pad1": "res{}_branch2a_pad", "conv1": "res{}_branch2a", "bn1": "bn{}_branch2a",
    "relu1": "res{}_branch2a_relu",
    "pad2": "res{}_branch2b_pad", "conv2": "res{}_branch2b", "bn2": "bn{}_branch2b",
    "relu2": "res{}_branch2b_relu",
    "conv3": "res{}_branch2c", "bn3": "bn{}_branch2c",
    "short_pad": "res{}_branch1_pad", "short_conv": "res{}_branch1", "short_bn": "bn{}_branch1",
    "short_a": "res{}_branch1_zeropad",
    "preact_bn": "bn{}_preact", "preact_relu": "res{}_preact_relu",
    "se": "res{}_se", "add": "res{}", "out": "res{}_relu",
    "sd": "res{}_stochastic_depth", "branch": "res{}_branch2",
}
_KERAS = {
    "pad1": "{}_1_pad", "conv1": "{}_1_conv", "bn1": "{}_1_bn", "relu1": "{}_1_relu",
    "pad2": "{}_2_pad", "conv2": "{}_2_conv", "bn2": "{}_2_bn", "relu2": "{}_2_relu",
    "conv3": "{}_3_conv", "bn3": "{}_3_bn",
    "short_pad": "{}_0_pad", "short_conv": "{}_0_conv", "short_bn": "{}_0_bn",
    "short_a": "{}_0_zeropad",
    "preact_bn": "{}_preact_bn", "preact_relu": "{}_preact_relu",
    "se": "{}_se", "add": "{}_add", "out": "{}_out",
    "sd": "{}_stochastic_depth", "branch": "{}_branch",
}


def block_namer(names):
    """Layer-name function of a block.

    Args:
        names: ``(stage, block)`` for the Caffe names of keras' ResNet-50
            (``res2a_branch2a``, ``bn2a_branch2a``, ...) or a string prefix for
            keras.applications' names (``conv2_block1_1_conv``, ...).

    Returns:
        ``role -> layer name``.
    """
    if isinstance(names, str):
        return lambda role: _KERAS[role].format(names)
    if isinstance(names, (tuple, list)) and len(names) == 2:
        key = f"{names[0]}{names[1]}"
        return lambda role: _CAFFE[role].format(key)
    raise ValueError(
        f"`names` must be a string prefix or a (stage, block) pair; got names={names!r}."
    )


def block_letters(num_blocks: int) -> list[str]:
    """Block labels of a stage: a, b, c, ... or, past 26, a, b1, b2, ...

    The second form is the original Caffe naming of ResNet-101/152.
    """
    if num_blocks <= 26:
        return [chr(ord("a") + i) for i in range(num_blocks)]
    return ["a"] + [f"b{i}" for i in range(1, num_blocks)]


def _conv(x, filters, kernel_size, stride, *, groups=1, use_bias, explicit_padding, name,
          pad_name):
    padding = "valid"
    if kernel_size > 1:
        if explicit_padding or stride > 1:
            x = layers.ZeroPadding2D(padding=kernel_size // 2, name=pad_name)(x)
        else:
            padding = "same"
    return layers.Conv2D(filters, kernel_size, strides=stride, padding=padding, groups=groups,
                         use_bias=use_bias, name=name)(x)


def _bn(x, epsilon, name):
    return layers.BatchNormalization(axis=channel_axis(), epsilon=epsilon, name=name)(x)


def residual_block(
    x,
    filters,
    *,
    names,
    block="basic",
    stride=1,
    kernel_size=3,
    preact=False,
    preactivated=False,
    shortcut="B",
    bottleneck_filters=None,
    reduce_filters=None,
    groups=1,
    stride_in="3x3",
    se_ratio=None,
    survival_probability=None,
    stochastic_depth_mode="batch",
    use_bias=False,
    epsilon=BN_EPSILON,
    explicit_padding=False,
    shortcut_kernel_size=1,
):
    """One residual block, ``tensor -> tensor``.

    Args:
        x: input tensor.
        filters: output channels of the block.
        names: ``(stage, block)`` (Caffe names) or a string prefix (keras
            names); see :func:`block_namer`.
        block: ``"basic"`` (two ``kernel_size`` convolutions of ``filters``) or
            ``"bottleneck"`` (1x1 to ``reduce_filters``, ``kernel_size`` to
            ``bottleneck_filters`` in ``groups`` groups, 1x1 to ``filters``).
        stride: spatial stride of the block.
        kernel_size: size of the spatial convolution(s).
        preact: False for post-activation (v1), True for full pre-activation (v2).
        preactivated: with ``preact``, the input already went through BN-ReLU
            (the first block after a conv-BN-ReLU stem), so the block
            adds no pre-activation of its own.
        shortcut: ``"A"`` zero-padding identity, ``"B"`` projection where the
            shape changes, ``"C"`` projection in every block.
        bottleneck_filters: channels of the bottleneck's middle convolution
            (default ``filters // 4``); with ``groups`` it is ``C x d``.
        reduce_filters: channels of the bottleneck's first 1x1 convolution
            (default ``bottleneck_filters``).
        groups: cardinality of the middle convolution (ResNeXt).
        stride_in: ``"3x3"`` (stride on the spatial convolution) or ``"1x1"``
            (on the first 1x1, the original Caffe/keras v1 placement).
        se_ratio: None, or the reduction ratio of a squeeze-and-excitation
            block applied to the branch before the addition.
        survival_probability: None (always kept), or the probability of keeping
            the branch in training (stochastic depth).
        stochastic_depth_mode: ``"batch"`` (one draw per mini-batch, dropped
            branch not computed) or ``"sample"`` (per-sample drop path).
        use_bias: convolution biases: True, False, or ``"unnormalized"`` (only
            the convolutions no BatchNormalization follows, as keras'
            ResNetV2).
        epsilon: BatchNormalization epsilon.
        explicit_padding: pad every spatial convolution with a ZeroPadding2D
            layer (keras' ResNetV2 layout) instead of ``padding="same"``; strided
            convolutions are always padded symmetrically by ``kernel_size // 2``.
        shortcut_kernel_size: kernel of the projection (3 in SENet-154).

    Returns:
        The block's output tensor (``filters`` channels).
    """
    n = block_namer(names)
    check_positive_ints(filters=filters, stride=stride, kernel_size=kernel_size, groups=groups)
    if block not in BLOCK_TYPES:
        raise ValueError(f"`block` must be 'basic' or 'bottleneck'; got block={block!r}.")
    if shortcut not in SHORTCUTS:
        raise ValueError(f"`shortcut` must be 'A', 'B' or 'C'; got shortcut={shortcut!r}.")
    if stride_in not in ("3x3", "1x1"):
        raise ValueError(f"`stride_in` must be '3x3' or '1x1'; got stride_in={stride_in!r}.")
    if use_bias not in (True, False, "unnormalized"):
        raise ValueError(
            f"`use_bias` must be True, False or 'unnormalized'; got use_bias={use_bias!r}."
        )
    if survival_probability is not None:
        check_survival_probability(survival_probability, allow_zero=True)
    if stochastic_depth_mode not in ("batch", "sample"):
        raise ValueError("`stochastic_depth_mode` must be 'batch' or 'sample'; "
                         f"got stochastic_depth_mode={stochastic_depth_mode!r}.")
    if block == "bottleneck":
        bottleneck_filters = bottleneck_filters or max(1, filters // 4)
        reduce_filters = reduce_filters or bottleneck_filters
        check_positive_int(bottleneck_filters, "bottleneck_filters")
        check_positive_int(reduce_filters, "reduce_filters")
        if bottleneck_filters % groups or reduce_filters % groups:
            raise ValueError(
                f"`groups`={groups} must divide the bottleneck widths "
                f"({reduce_filters}, {bottleneck_filters})."
            )
    elif groups != 1:
        raise ValueError(f"Grouped convolutions need block='bottleneck'; got groups={groups}.")

    def bias(followed_by_bn):
        return (not followed_by_bn) if use_bias == "unnormalized" else use_bias

    def pre_activation(t):
        t = _bn(t, epsilon, n("preact_bn"))
        return layers.Activation("relu", name=n("preact_relu"))(t)

    in_channels = x.shape[channel_axis()]
    changes_shape = stride != 1 or in_channels != filters
    if shortcut == "C" or (shortcut == "B" and changes_shape):
        kind = "projection"
    elif changes_shape:
        kind = "zero_pad"
    else:
        kind = "identity"

    branch_preact = False
    if preact:
        if kind == "projection":
            source = x if preactivated else pre_activation(x)
            branch_input = source
        else:
            source = x
            branch_input = x
            branch_preact = not preactivated
    else:
        source = branch_input = x

    if kind == "projection":
        short = _conv(source, filters, shortcut_kernel_size, stride,
                      use_bias=bias(not preact), explicit_padding=True,
                      name=n("short_conv"), pad_name=n("short_pad"))
        if not preact:
            short = _bn(short, epsilon, n("short_bn"))
    elif kind == "zero_pad":
        short = ZeroPadShortcut(filters, stride, name=n("short_a"))(source)
    else:
        short = source

    def branch(t):
        if branch_preact:
            t = pre_activation(t)
        last_bn = not preact
        if block == "basic":
            t = _conv(t, filters, kernel_size, stride, use_bias=bias(True),
                      explicit_padding=explicit_padding, name=n("conv1"), pad_name=n("pad1"))
            t = _bn(t, epsilon, n("bn1"))
            t = layers.Activation("relu", name=n("relu1"))(t)
            t = _conv(t, filters, kernel_size, 1, use_bias=bias(last_bn),
                      explicit_padding=explicit_padding, name=n("conv2"), pad_name=n("pad2"))
            if last_bn:
                t = _bn(t, epsilon, n("bn2"))
        else:
            s1, s2 = (stride, 1) if stride_in == "1x1" else (1, stride)
            t = _conv(t, reduce_filters, 1, s1, use_bias=bias(True), explicit_padding=False,
                      name=n("conv1"), pad_name=n("pad1"))
            t = _bn(t, epsilon, n("bn1"))
            t = layers.Activation("relu", name=n("relu1"))(t)
            t = _conv(t, bottleneck_filters, kernel_size, s2, groups=groups, use_bias=bias(True),
                      explicit_padding=explicit_padding, name=n("conv2"), pad_name=n("pad2"))
            t = _bn(t, epsilon, n("bn2"))
            t = layers.Activation("relu", name=n("relu2"))(t)
            t = _conv(t, filters, 1, 1, use_bias=bias(last_bn), explicit_padding=False,
                      name=n("conv3"), pad_name=None)
            if last_bn:
                t = _bn(t, epsilon, n("bn3"))
        if se_ratio is not None:
            t = se_block(t, se_ratio, name=n("se"))
        return t

    add_name = n("out") if preact else n("add")
    if survival_probability is None:
        y = layers.Add(name=add_name)([branch(branch_input), short])
    else:
        branch_in = keras.Input(shape=tuple(branch_input.shape[1:]),
                                name=n("branch") + "_input")
        sub_model = keras.Model(branch_in, branch(branch_in), name=n("branch"))
        y = StochasticDepth(sub_model, survival_probability, mode=stochastic_depth_mode,
                            name=n("sd"))([short, branch_input])
    if not preact:
        y = layers.Activation("relu", name=n("out"))(y)
    return y


def _check(f, filters, stage, block, s=1):
    if not (isinstance(f, int) and f >= 1):
        raise ValueError(f"`f` (middle kernel size) must be a positive integer; got f={f!r}.")
    if len(filters) != 3 or not all(isinstance(n, int) and n >= 1 for n in filters):
        raise ValueError(
            f"`filters` must be three positive integers [F1, F2, F3]; got filters={filters!r}."
        )
    if not (isinstance(s, int) and s >= 1):
        raise ValueError(f"`s` (stride) must be a positive integer; got s={s!r}.")


def identity_block(X, f, filters, stage, block, *, use_bias=True, epsilon=BN_EPSILON,
                   se_ratio=None, survival_probability=None, stochastic_depth_mode="batch"):
    """Bottleneck block whose shortcut is the identity.

    Three convolutions 1x1 -> fxf -> 1x1, each followed by BatchNormalization
    on the channel axis, ReLU after the first two and after the addition.

    Args:
        X: input tensor (its channel count must equal ``filters[2]``).
        f: kernel size of the middle convolution.
        filters: ``[F1, F2, F3]`` filter counts of the three convolutions.
        stage: stage number, used in layer names.
        block: block label (``'a'``, ``'b'``, ...), used in layer names.
        use_bias: convolution biases (True as in keras.applications).
        epsilon: BatchNormalization epsilon.
        se_ratio, survival_probability, stochastic_depth_mode: as
            :func:`residual_block`.

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
    return residual_block(X, filters[2], names=(stage, block), block="bottleneck", stride=1,
                          kernel_size=f, shortcut="B", reduce_filters=filters[0],
                          bottleneck_filters=filters[1], stride_in="1x1", use_bias=use_bias,
                          epsilon=epsilon, se_ratio=se_ratio,
                          survival_probability=survival_probability,
                          stochastic_depth_mode=stochastic_depth_mode)


def convolutional_block(X, f, filters, stage, block, s=2, *, use_bias=True, epsilon=BN_EPSILON,
                        se_ratio=None, survival_probability=None, stochastic_depth_mode="batch"):
    """Bottleneck block with a 1x1 stride-``s`` projection on the shortcut.

    The first 1x1 convolution carries the stride (the original v1 placement,
    as keras.applications).

    Args:
        X: input tensor.
        f: kernel size of the middle convolution.
        filters: ``[F1, F2, F3]`` filter counts of the three convolutions.
        stage: stage number, used in layer names.
        block: block label, used in layer names.
        s: stride of the first 1x1 convolution and of the shortcut.
        use_bias: convolution biases.
        epsilon: BatchNormalization epsilon.
        se_ratio, survival_probability, stochastic_depth_mode: as
            :func:`residual_block`.

    Returns:
        Output tensor with ``F3`` channels, spatially downsampled by ``s``.
    """
    _check(f, filters, stage, block, s)
    return residual_block(X, filters[2], names=(stage, block), block="bottleneck", stride=s,
                          kernel_size=f, shortcut="C", reduce_filters=filters[0],
                          bottleneck_filters=filters[1], stride_in="1x1", use_bias=use_bias,
                          epsilon=epsilon, se_ratio=se_ratio,
                          survival_probability=survival_probability,
                          stochastic_depth_mode=stochastic_depth_mode)


def depth_schedule(stochastic_depth, num_blocks):
    """Survival probability of each of ``num_blocks`` residual blocks.

    Args:
        stochastic_depth: None (off: every entry None), True (``p_L = 0.5``,
            the paper's default) or ``p_L`` in (0, 1]; the probabilities decay
            linearly, ``p_l = 1 - l / L * (1 - p_L)``.
        num_blocks: ``L``.

    Returns:
        A list of ``num_blocks`` entries.
    """
    if stochastic_depth is None:
        return [None] * num_blocks
    if stochastic_depth is True:
        stochastic_depth = 0.5
    return survival_probabilities(num_blocks, stochastic_depth)
