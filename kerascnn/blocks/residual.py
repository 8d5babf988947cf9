"""Residual blocks: the builders of every residual family.

* :func:`basic_block` (two kxk convolutions) and :func:`bottleneck_block` (1x1, kxk,
  1x1; the kxk may be a grouped convolution of cardinality ``groups``, the ResNeXt
  block of Xie et al. 2017), post-activation (He et al., "Deep Residual Learning for
  Image Recognition", 2015: conv-BN-ReLU, addition, ReLU);
* :func:`preact_block`, either of them with full pre-activation (He et al., "Identity
  Mappings in Deep Residual Networks", 2016 (e): BN-ReLU-conv, addition, nothing after);
* :func:`residual_block`, which takes every option as a keyword and calls one of the
  three.

The options the blocks of one network share form a :class:`BlockOptions`: shortcut
options A (parameter-free: subsampling + zero channels), B (1x1 projection only where
the shape changes) and C (projection everywhere), a squeeze-and-excitation block on the
residual branch (``se_ratio``, Hu et al. 2018), the stochastic depth mode (with a block's
``survival_probability``, Huang et al. 2016, the branch becomes a sub-model run by
:class:`kerascnn.layers.StochasticDepth`, which skips it when the block is dropped),
biases, BatchNormalization epsilon and padding.

The Keras ResNet-50 tutorial's ``identity_block`` and ``convolutional_block`` are the
bottleneck block with the Caffe layer names ``res{stage}{block}_branch2a/2b/2c/1`` and
``bn{stage}{block}_branch...``.
"""

from __future__ import annotations

import dataclasses

import keras
from keras import layers

from kerascnn.blocks.common import BN_EPSILON, channel_axis, check_positive_int, check_positive_ints
from kerascnn.blocks.se import se_block
from kerascnn.layers.conv import Conv2D
from kerascnn.layers.stochastic_depth import (
    StochasticDepth,
    check_survival_probability,
    survival_probabilities,
)
from kerascnn.layers.zero_pad_shortcut import ZeroPadShortcut

__all__ = ["residual_block", "basic_block", "bottleneck_block", "preact_block", "BlockOptions",
           "identity_block", "convolutional_block", "block_letters", "block_namer",
           "depth_schedule", "SHORTCUTS", "BLOCK_TYPES"]

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
    return Conv2D(filters, kernel_size, strides=stride, padding=padding, groups=groups,
                  use_bias=use_bias, name=name)(x)


def _bn(x, epsilon, name):
    return layers.BatchNormalization(axis=channel_axis(), epsilon=epsilon, name=name)(x)


@dataclasses.dataclass(frozen=True)
class BlockOptions:
    """The options the residual blocks of one network share.

    Attributes:
        kernel_size: size of the spatial convolution(s).
        shortcut: ``"A"`` zero-padding identity, ``"B"`` projection where the shape
            changes, ``"C"`` projection in every block.
        shortcut_kernel_size: kernel of the projection (3 in SENet-154).
        groups: cardinality of the bottleneck's middle convolution (ResNeXt).
        stride_in: ``"3x3"`` (the bottleneck's stride on the spatial convolution) or
            ``"1x1"`` (on the first 1x1, the original Caffe/keras v1 placement).
        use_bias: convolution biases: True, False, or ``"unnormalized"`` (only the
            convolutions no BatchNormalization follows, as keras' ResNetV2).
        epsilon: BatchNormalization epsilon.
        explicit_padding: pad every spatial convolution with a ZeroPadding2D layer
            (keras' ResNetV2 layout) instead of ``padding="same"``; strided
            convolutions are always padded symmetrically by ``kernel_size // 2``.
        se_ratio: None, or the reduction ratio of a squeeze-and-excitation block
            applied to the branch before the addition.
        stochastic_depth_mode: ``"batch"`` (one draw per mini-batch, dropped branch
            not computed) or ``"sample"`` (per-sample drop path).
    """

    kernel_size: int = 3
    shortcut: str = "B"
    shortcut_kernel_size: int = 1
    groups: int = 1
    stride_in: str = "3x3"
    use_bias: bool | str = False
    epsilon: float = BN_EPSILON
    explicit_padding: bool = False
    se_ratio: float | None = None
    stochastic_depth_mode: str = "batch"

    def __post_init__(self):
        check_positive_ints(kernel_size=self.kernel_size, groups=self.groups)
        if self.shortcut not in SHORTCUTS:
            raise ValueError(f"`shortcut` must be 'A', 'B' or 'C'; got shortcut={self.shortcut!r}.")
        if self.stride_in not in ("3x3", "1x1"):
            raise ValueError(
                f"`stride_in` must be '3x3' or '1x1'; got stride_in={self.stride_in!r}.")
        if self.use_bias not in (True, False, "unnormalized"):
            raise ValueError("`use_bias` must be True, False or 'unnormalized'; "
                             f"got use_bias={self.use_bias!r}.")
        if self.stochastic_depth_mode not in ("batch", "sample"):
            raise ValueError("`stochastic_depth_mode` must be 'batch' or 'sample'; "
                             f"got stochastic_depth_mode={self.stochastic_depth_mode!r}.")

    def bias(self, followed_by_bn: bool) -> bool:
        """Whether a convolution (followed by BatchNormalization or not) has a bias."""
        return (not followed_by_bn) if self.use_bias == "unnormalized" else self.use_bias


def _start(x, filters, stride, names, survival_probability):
    """Checks a block's own arguments; returns its namer."""
    n = block_namer(names)
    check_positive_ints(filters=filters, stride=stride)
    if survival_probability is not None:
        check_survival_probability(survival_probability, allow_zero=True)
    return n


def _widths(filters, width, reduce_filters, groups):
    """(first 1x1, middle) channels of a bottleneck."""
    width = width or max(1, filters // 4)
    reduce_filters = reduce_filters or width
    check_positive_int(width, "bottleneck_filters")
    check_positive_int(reduce_filters, "reduce_filters")
    if width % groups or reduce_filters % groups:
        raise ValueError(
            f"`groups`={groups} must divide the bottleneck widths ({reduce_filters}, {width})."
        )
    return reduce_filters, width


def _shortcut_kind(x, filters, stride, shortcut) -> str:
    changes_shape = stride != 1 or x.shape[channel_axis()] != filters
    if shortcut == "C" or (shortcut == "B" and changes_shape):
        return "projection"
    return "zero_pad" if changes_shape else "identity"


def _shortcut(source, filters, stride, kind, options, n, preact):
    if kind == "projection":
        short = _conv(source, filters, options.shortcut_kernel_size, stride,
                      use_bias=options.bias(not preact), explicit_padding=True,
                      name=n("short_conv"), pad_name=n("short_pad"))
        return short if preact else _bn(short, options.epsilon, n("short_bn"))
    if kind == "zero_pad":
        return ZeroPadShortcut(filters, stride, name=n("short_a"))(source)
    return source


def _pre_activation(t, options, n):
    t = _bn(t, options.epsilon, n("preact_bn"))
    return layers.Activation("relu", name=n("preact_relu"))(t)


def _basic_branch(t, filters, stride, options, n, last_bn):
    """Two ``kernel_size`` convolutions; BN-ReLU after the first, BN after the second
    where ``last_bn``."""
    o = options
    t = _conv(t, filters, o.kernel_size, stride, use_bias=o.bias(True),
              explicit_padding=o.explicit_padding, name=n("conv1"), pad_name=n("pad1"))
    t = _bn(t, o.epsilon, n("bn1"))
    t = layers.Activation("relu", name=n("relu1"))(t)
    t = _conv(t, filters, o.kernel_size, 1, use_bias=o.bias(last_bn),
              explicit_padding=o.explicit_padding, name=n("conv2"), pad_name=n("pad2"))
    return _bn(t, o.epsilon, n("bn2")) if last_bn else t


def _bottleneck_branch(t, filters, stride, widths, options, n, last_bn):
    """1x1 to ``widths[0]``, ``kernel_size`` to ``widths[1]`` in ``groups`` groups, 1x1 to
    ``filters``; BN-ReLU after the first two, BN after the last where ``last_bn``."""
    o = options
    s1, s2 = (stride, 1) if o.stride_in == "1x1" else (1, stride)
    t = _conv(t, widths[0], 1, s1, use_bias=o.bias(True), explicit_padding=False,
              name=n("conv1"), pad_name=n("pad1"))
    t = _bn(t, o.epsilon, n("bn1"))
    t = layers.Activation("relu", name=n("relu1"))(t)
    t = _conv(t, widths[1], o.kernel_size, s2, groups=o.groups, use_bias=o.bias(True),
              explicit_padding=o.explicit_padding, name=n("conv2"), pad_name=n("pad2"))
    t = _bn(t, o.epsilon, n("bn2"))
    t = layers.Activation("relu", name=n("relu2"))(t)
    t = _conv(t, filters, 1, 1, use_bias=o.bias(last_bn), explicit_padding=False,
              name=n("conv3"), pad_name=None)
    return _bn(t, o.epsilon, n("bn3")) if last_bn else t


def _merge(short, branch, branch_input, name, options, n, survival_probability):
    """``short`` plus ``branch(branch_input)`` (then the SE block): an Add named ``name``,
    or with ``survival_probability`` a StochasticDepth running the branch as a sub-model."""
    def full_branch(t):
        t = branch(t)
        return t if options.se_ratio is None else se_block(t, options.se_ratio, name=n("se"))

    if survival_probability is None:
        return layers.Add(name=name)([full_branch(branch_input), short])
    branch_in = keras.Input(shape=tuple(branch_input.shape[1:]), name=n("branch") + "_input")
    sub_model = keras.Model(branch_in, full_branch(branch_in), name=n("branch"))
    return StochasticDepth(sub_model, survival_probability,
                           mode=options.stochastic_depth_mode, name=n("sd"))([short, branch_input])


def basic_block(x, filters, *, names, stride=1, options=BlockOptions(),
                survival_probability=None):
    """The post-activation basic block: two convolutions, addition, ReLU.

    Args:
        x: input tensor.
        filters: output channels (of both convolutions).
        names: ``(stage, block)`` (Caffe names) or a string prefix (keras names); see
            :func:`block_namer`.
        stride: spatial stride (of the first convolution and the shortcut).
        options: the network's :class:`BlockOptions` (``groups`` must be 1).
        survival_probability: None (always kept), or the probability of keeping the
            branch in training (stochastic depth).

    Returns:
        The block's output tensor (``filters`` channels).
    """
    n = _start(x, filters, stride, names, survival_probability)
    if options.groups != 1:
        raise ValueError(
            f"Grouped convolutions need block='bottleneck'; got groups={options.groups}.")
    short = _shortcut(x, filters, stride, _shortcut_kind(x, filters, stride, options.shortcut),
                      options, n, preact=False)
    y = _merge(short, lambda t: _basic_branch(t, filters, stride, options, n, True), x,
               n("add"), options, n, survival_probability)
    return layers.Activation("relu", name=n("out"))(y)


def bottleneck_block(x, filters, *, names, stride=1, width=None, reduce_filters=None,
                     options=BlockOptions(), survival_probability=None):
    """The post-activation bottleneck block: 1x1, kxk (grouped), 1x1, addition, ReLU.

    Args:
        x, filters, names, stride, options, survival_probability: as :func:`basic_block`
            (the stride goes where ``options.stride_in`` puts it).
        width: channels of the middle convolution (default ``filters // 4``); with
            ``options.groups`` it is ``C x d``.
        reduce_filters: channels of the first 1x1 convolution (default ``width``).

    Returns:
        The block's output tensor (``filters`` channels).
    """
    n = _start(x, filters, stride, names, survival_probability)
    widths = _widths(filters, width, reduce_filters, options.groups)
    short = _shortcut(x, filters, stride, _shortcut_kind(x, filters, stride, options.shortcut),
                      options, n, preact=False)
    y = _merge(short, lambda t: _bottleneck_branch(t, filters, stride, widths, options, n, True),
               x, n("add"), options, n, survival_probability)
    return layers.Activation("relu", name=n("out"))(y)


def preact_block(x, filters, *, names, stride=1, bottleneck=False, width=None,
                 reduce_filters=None, preactivated=False, options=BlockOptions(),
                 survival_probability=None):
    """The full pre-activation block: BN-ReLU, the basic or bottleneck convolutions
    without their last BN, addition, nothing after.

    The pre-activation feeds both the branch and a projection shortcut; an identity
    or zero-padding shortcut takes the block's input as it is.

    Args:
        x, filters, names, stride, options, survival_probability: as :func:`basic_block`.
        bottleneck: the bottleneck's convolutions (``width``, ``reduce_filters`` as
            :func:`bottleneck_block`) instead of the basic block's.
        preactivated: the input already went through BN-ReLU (the first block after a
            conv-BN-ReLU stem), so the block adds no pre-activation of its own.

    Returns:
        The block's output tensor (``filters`` channels).
    """
    n = _start(x, filters, stride, names, survival_probability)
    if bottleneck:
        widths = _widths(filters, width, reduce_filters, options.groups)
    elif options.groups != 1:
        raise ValueError(
            f"Grouped convolutions need block='bottleneck'; got groups={options.groups}.")
    kind = _shortcut_kind(x, filters, stride, options.shortcut)
    if kind == "projection":
        source = branch_input = x if preactivated else _pre_activation(x, options, n)
        branch_preact = False
    else:
        source = branch_input = x
        branch_preact = not preactivated
    short = _shortcut(source, filters, stride, kind, options, n, preact=True)

    def branch(t):
        if branch_preact:
            t = _pre_activation(t, options, n)
        if bottleneck:
            return _bottleneck_branch(t, filters, stride, widths, options, n, False)
        return _basic_branch(t, filters, stride, options, n, False)

    return _merge(short, branch, branch_input, n("out"), options, n, survival_probability)


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
    """One residual block, ``tensor -> tensor``: :func:`basic_block`,
    :func:`bottleneck_block` or :func:`preact_block`, with every option a keyword.

    Args:
        x: input tensor.
        filters: output channels of the block.
        names: ``(stage, block)`` (Caffe names) or a string prefix (keras
            names); see :func:`block_namer`.
        block: ``"basic"`` (two ``kernel_size`` convolutions of ``filters``) or
            ``"bottleneck"`` (1x1 to ``reduce_filters``, ``kernel_size`` to
            ``bottleneck_filters`` in ``groups`` groups, 1x1 to ``filters``).
        stride: spatial stride of the block.
        preact: False for post-activation (v1), True for full pre-activation (v2).
        preactivated: with ``preact``, the input already went through BN-ReLU.
        bottleneck_filters: channels of the bottleneck's middle convolution
            (default ``filters // 4``); with ``groups`` it is ``C x d``.
        reduce_filters: channels of the bottleneck's first 1x1 convolution
            (default ``bottleneck_filters``).
        survival_probability: None (always kept), or the probability of keeping
            the branch in training (stochastic depth).
        kernel_size, shortcut, groups, stride_in, se_ratio, stochastic_depth_mode,
            use_bias, epsilon, explicit_padding, shortcut_kernel_size: the fields of
            :class:`BlockOptions`.

    Returns:
        The block's output tensor (``filters`` channels).
    """
    block_namer(names)
    check_positive_ints(filters=filters, stride=stride)
    if block not in BLOCK_TYPES:
        raise ValueError(f"`block` must be 'basic' or 'bottleneck'; got block={block!r}.")
    options = BlockOptions(
        kernel_size=kernel_size, shortcut=shortcut, shortcut_kernel_size=shortcut_kernel_size,
        groups=groups, stride_in=stride_in, use_bias=use_bias, epsilon=epsilon,
        explicit_padding=explicit_padding, se_ratio=se_ratio,
        stochastic_depth_mode=stochastic_depth_mode)
    common = dict(names=names, stride=stride, options=options,
                  survival_probability=survival_probability)
    widths = dict(width=bottleneck_filters, reduce_filters=reduce_filters)
    if preact:
        return preact_block(x, filters, bottleneck=block == "bottleneck",
                            preactivated=preactivated, **widths, **common)
    if block == "basic":
        return basic_block(x, filters, **common)
    return bottleneck_block(x, filters, **widths, **common)


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
    options = BlockOptions(kernel_size=f, shortcut="B", stride_in="1x1", use_bias=use_bias,
                           epsilon=epsilon, se_ratio=se_ratio,
                           stochastic_depth_mode=stochastic_depth_mode)
    return bottleneck_block(X, filters[2], names=(stage, block), stride=1, width=filters[1],
                            reduce_filters=filters[0], options=options,
                            survival_probability=survival_probability)


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
    options = BlockOptions(kernel_size=f, shortcut="C", stride_in="1x1", use_bias=use_bias,
                           epsilon=epsilon, se_ratio=se_ratio,
                           stochastic_depth_mode=stochastic_depth_mode)
    return bottleneck_block(X, filters[2], names=(stage, block), stride=s, width=filters[1],
                            reduce_filters=filters[0], options=options,
                            survival_probability=survival_probability)


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
