"""Residual networks for 32x32 images: the CIFAR ResNets of He et al. ("Deep
Residual Learning for Image Recognition", 2015, section 4.2), their
pre-activation versions (He et al., "Identity Mappings in Deep Residual
Networks", 2016), Wide ResNets (Zagoruyko & Komodakis, "Wide Residual
Networks", 2016) and ResNeXt-29 (Xie et al., 2017), all one constructor:
the Lasagne CIFAR recipe's ``model(shape, n, num_filters, num_classes, width, block)``.

A 3x3 convolution of ``num_filters`` filters + BN + ReLU, then three stages of
``n`` residual blocks (the second and third start with a stride-2 transition),
then (pre-activation only) BN + ReLU, global average pooling and the classifier.
Stage widths follow the Lasagne CIFAR recipe's ``n_filters`` table, ``num_filters * width *
(1, 2, 4)``; a bottleneck block outputs 4x that width around a 3x3 of the
table's width (or ``cardinality * bottleneck_width * (1, 2, 4)`` grouped
channels, ResNeXt).

Registered names (10 classes, 32x32x3 input):

============================ ===================================== ============
name                          configuration                         trainable
============================ ===================================== ============
resnet{6n+2}_cifar            post-activation basic, option A       resnet20: 269,722; resnet56: 853,018; resnet110: 1,727,962; resnet1202: 19,421,274
resnet{6n+2}_cifar_b          post-activation basic, option B       resnet20: 272,474; resnet110: 1,730,714
preact_resnet{6n+2}_cifar     pre-activation basic, option B
preact_resnet164_cifar        pre-activation bottleneck, n=18, B    1,703,258
preact_resnet1001_cifar       pre-activation bottleneck, n=111, B   10,328,602
wrn{6n+4}_{k}_cifar           pre-activation basic, width k, B      wrn28_10: 36,479,194
resnext29_8x64d_cifar         post-activation bottleneck, 64 stem,
                              C=8, d=64, option B                   34,426,698
============================ ===================================== ============
"""

from __future__ import annotations

import sys

from keras import layers

from kerascnn.blocks.residual import depth_schedule, residual_block
from kerascnn.layers.conv import Conv2D
from kerascnn.models.common import (
    build_input,
    channel_axis,
    check_arguments,
    check_positive_int,
    check_positive_ints,
    classifier_head,
    finish_model,
)
from kerascnn.models.resnet.model import check_family_arguments
from kerascnn.models.variants import Variant, pattern_member, register_variants
from kerascnn.registry import register_family_recipe, register_pattern

__all__ = ["CifarResNet", "PreActResNet164CIFAR", "PreActResNet1001CIFAR", "ResNeXt29_8x64dCIFAR",
           "ResNet20CIFAR_B", "ResNet56CIFAR_B", "ResNet110CIFAR_B", "WideResNet28_10CIFAR"]

PAPER = ("Deep Residual Learning for Image Recognition", 2015)
PREACT_PAPER = ("Identity Mappings in Deep Residual Networks", 2016)
WRN_PAPER = ("Wide Residual Networks", 2016)
RESNEXT_PAPER = ("Aggregated Residual Transformations for Deep Neural Networks", 2017)

_BLOCKS = {"normal": "basic", "basic": "basic", "bottleneck": "bottleneck"}

# PyTorch's BatchNormalization epsilon: that of the published CIFAR checkpoints
# (pytorchcv), which these networks load exactly.
TORCH_BN_EPSILON = 1e-5


def CifarResNet(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name="cifar_resnet",
    n=18,
    num_filters=16,
    width=1,
    block="normal",
    preact=False,
    shortcut="A",
    cardinality=1,
    bottleneck_width=None,
    se_ratio=None,
    stochastic_depth=None,
    stochastic_depth_mode="batch",
    bn_epsilon=TORCH_BN_EPSILON,
):
    """Instantiates a three-stage residual network for small images.

    The depth is ``6n + 2`` with basic blocks and ``9n + 2`` with bottleneck
    blocks. the Lasagne CIFAR recipe's ``train.py --n=18 --num_filters=16 --width=4
    --block=bottleneck`` is ``CifarResNet(n=18, num_filters=16, width=4,
    block="bottleneck", preact=True, shortcut="B")``.

    Args:
        include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation, name: as keras.applications (default input
            (32, 32, 3), 10 classes; any input of at least 8x8 works).
        n: residual blocks per stage.
        num_filters: filters of the first convolution and of the first stage.
        width: widening factor of the three stages (Wide ResNet ``k``).
        block: ``"normal"`` (two 3x3 convolutions) or ``"bottleneck"`` (1x1,
            3x3, 1x1 with 4x wider outputs).
        preact: False for He et al. 2015 post-activation blocks, True for full
            pre-activation blocks and a final BN-ReLU (He et al. 2016).
        shortcut: ``"A"`` (zero-padding identity, He et al.'s CIFAR nets),
            ``"B"`` (projection on transitions) or ``"C"``.
        cardinality: groups of the bottleneck's 3x3 (ResNeXt ``C``).
        bottleneck_width: ResNeXt ``d``, channels per group at the first stage
            (None: ``num_filters * width``, one group).
        se_ratio: None or a squeeze-and-excitation ratio for every block.
        stochastic_depth: None (off), True (0.5) or ``p_L`` (linear decay).
        stochastic_depth_mode: ``"batch"`` or ``"sample"`` (drop path).
        bn_epsilon: BatchNormalization epsilon (1e-5: PyTorch's, that of the published
            CIFAR checkpoints; keras.applications uses 1.001e-5).

    Returns:
        A ``keras.Model``.
    """
    check_arguments(weights, include_top, classes, pooling, classifier_activation)
    if isinstance(bn_epsilon, bool) or not isinstance(bn_epsilon, (int, float)) or \
            bn_epsilon <= 0:
        raise ValueError(f"`bn_epsilon` must be a positive number; got bn_epsilon={bn_epsilon!r}.")
    check_positive_ints(n=n, num_filters=num_filters, width=width, cardinality=cardinality)
    if block not in _BLOCKS:
        raise ValueError(f"`block` must be 'normal' or 'bottleneck'; got block={block!r}.")
    kind = _BLOCKS[block]
    if bottleneck_width is not None:
        check_positive_int(bottleneck_width, "bottleneck_width")
    if kind == "basic" and (cardinality != 1 or bottleneck_width is not None):
        raise ValueError("`cardinality` and `bottleneck_width` need block='bottleneck'.")
    if not isinstance(preact, bool):
        raise ValueError(f"`preact` must be True or False; got preact={preact!r}.")
    check_family_arguments(shortcut, se_ratio, stochastic_depth, stochastic_depth_mode)
    img_input = build_input(input_tensor, input_shape, default_shape=(32, 32, 3), min_size=8,
                            include_top=include_top, weights=weights)

    # Keras walks the functional graph recursively: ResNet-1202 needs a deeper stack.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 2000 + 60 * 3 * n))
    axis = channel_axis()
    x = Conv2D(num_filters, 3, padding="same", use_bias=False, name="conv1")(img_input)
    x = layers.BatchNormalization(axis=axis, epsilon=bn_epsilon, name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)

    schedule = iter(depth_schedule(stochastic_depth, 3 * n))
    for stage in range(3):
        base = num_filters * width * 2 ** stage
        if kind == "basic":
            filters, middle = base, None
        else:
            filters = 4 * base
            middle = cardinality * bottleneck_width * 2 ** stage if bottleneck_width else base
        for j in range(n):
            x = residual_block(
                x, filters, names=f"stage{stage + 1}_block{j + 1}", block=kind,
                stride=2 if (j == 0 and stage > 0) else 1, preact=preact,
                preactivated=preact and stage == 0 and j == 0, shortcut=shortcut,
                bottleneck_filters=middle, groups=cardinality, stride_in="3x3",
                use_bias=False, se_ratio=se_ratio, survival_probability=next(schedule),
                stochastic_depth_mode=stochastic_depth_mode, epsilon=bn_epsilon,
            )
    if preact:
        x = layers.BatchNormalization(axis=axis, epsilon=bn_epsilon, name="post_bn")(x)
        x = layers.Activation("relu", name="post_relu")(x)
    x = classifier_head(x, include_top, pooling, classes, classifier_activation)
    return finish_model(img_input, input_tensor, x, name, weights)


_CIFAR = dict(default_input=(32, 32, 3), min_size=8)


def _basic_depth(depth_text, offset=2):
    depth = int(depth_text)
    if depth < 6 + offset or (depth - offset) % 6:
        return None
    return (depth - offset) // 6


def _resnet_cifar(match):
    n = _basic_depth(match.group(1))
    if n is None:
        return None
    option = "B" if match.group(2) else "A"
    return pattern_member(
        match.group(0), CifarResNet, family="resnet_cifar", paper=PAPER,
        convention=f"post-activation basic blocks, 6n+2 with n={n}, filters 16/32/64, "
                   f"option {option}, no conv bias",
        n=n, num_filters=16, block="normal", preact=False, shortcut=option, **_CIFAR)


def _preact_cifar(match):
    n = _basic_depth(match.group(1))
    if n is None:
        return None
    return pattern_member(
        match.group(0), CifarResNet, family="preact_resnet_cifar", paper=PREACT_PAPER,
        convention=f"pre-activation basic blocks, 6n+2 with n={n}, option B",
        n=n, num_filters=16, block="normal", preact=True, shortcut="B", **_CIFAR)


def _wrn_cifar(match):
    n = _basic_depth(match.group(1), offset=4)
    k = int(match.group(2))
    if n is None or k < 1:
        return None
    return pattern_member(
        match.group(0), CifarResNet, family="wide_resnet_cifar", paper=WRN_PAPER,
        convention=f"WRN-{match.group(1)}-{k}: pre-activation basic blocks, n={n}, "
                   f"widths {16 * k}/{32 * k}/{64 * k}, projections where the shape changes",
        n=n, num_filters=16, width=k, block="normal", preact=True, shortcut="B", **_CIFAR)


register_pattern(r"resnet([1-9][0-9]*)_cifar(_b)?", _resnet_cifar,
                 examples=("resnet20_cifar", "resnet32_cifar", "resnet44_cifar",
                           "resnet56_cifar", "resnet110_cifar", "resnet1202_cifar",
                           "resnet20_cifar_b", "resnet56_cifar_b", "resnet110_cifar_b"))
register_pattern(r"preact_resnet([1-9][0-9]*)_cifar", _preact_cifar,
                 examples=("preact_resnet20_cifar", "preact_resnet110_cifar"))
register_pattern(r"wrn([1-9][0-9]*)_([1-9][0-9]*)_cifar", _wrn_cifar,
                 examples=("wrn16_8_cifar", "wrn28_10_cifar", "wrn40_4_cifar"))

# The open-ended families above (any 6n+2 depth, any WRN depth and width) stay patterns; the
# fixed names below are a Variant table. Their arguments are also the registry entry's kwargs
# (model_info reports n, block, ...), and every CifarResNet argument stays an option, as when
# these names were plain registry entries over CifarResNet.
_OPTIONS = ("n", "num_filters", "width", "block", "preact", "shortcut", "cardinality",
            "bottleneck_width", "se_ratio", "stochastic_depth", "stochastic_depth_mode",
            "bn_epsilon")
_CIFAR_INPUT = dict(default_input=(32, 32, 3), min_size=8, classes=10)

_DOC = """Instantiates {summary}.

    {title} ({year}): {arguments}.

    Args:
        include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation, name: as keras.applications (no ImageNet
            weights; default input {input}, {classes} classes; any input of at
            least {min_size}x{min_size} works).
        n, num_filters, width, block, preact, shortcut, cardinality,
        bottleneck_width, se_ratio, stochastic_depth, stochastic_depth_mode: as
            :func:`CifarResNet` (the defaults are this network's).

    Returns:
        A ``keras.Model``.
    """

# The pre-activation paper's bottleneck CIFAR networks (its tables 2 and 3): 9n+2 layers.
VARIANTS = tuple(
    Variant(f"preact_resnet{depth}_cifar", f"PreActResNet{depth}CIFAR",
            dict(n=(depth - 2) // 9, num_filters=16, block="bottleneck", preact=True,
                 shortcut="B"), PREACT_PAPER,
            f"pre-activation bottleneck, 9n+2 with n={(depth - 2) // 9}, outputs 64/128/256, "
            "projection where the shape changes",
            summary=f"the pre-activation paper's {depth}-layer CIFAR network (bottleneck "
                    "blocks)", **_CIFAR_INPUT)
    for depth in (164, 1001)
) + (
    Variant("resnext29_8x64d_cifar", "ResNeXt29_8x64dCIFAR",
            dict(n=3, num_filters=64, block="bottleneck", cardinality=8, bottleneck_width=64,
                 preact=False, shortcut="B"), RESNEXT_PAPER,
            "ResNeXt-29 (8x64d): 64-filter stem, post-activation bottlenecks, outputs "
            "256/512/1024, grouped widths 512/1024/2048, option B",
            summary="ResNeXt-29 (8x64d) for CIFAR", **_CIFAR_INPUT),
)

# Members of the open-ended families above that have published checkpoints (pytorchcv's
# CIFAR-10 networks): registered rows, so that their constructors load them; the arguments
# and conventions are the patterns' own.
VARIANTS += tuple(
    Variant(f"resnet{6 * n + 2}_cifar_b", f"ResNet{6 * n + 2}CIFAR_B",
            dict(n=n, num_filters=16, block="normal", preact=False, shortcut="B"), PAPER,
            f"post-activation basic blocks, 6n+2 with n={n}, filters 16/32/64, option B, "
            "no conv bias",
            summary=f"the ResNet paper's {6 * n + 2}-layer CIFAR network with option B "
                    "projections", **_CIFAR_INPUT)
    for n in (3, 9, 18)
) + (
    Variant("wrn28_10_cifar", "WideResNet28_10CIFAR",
            dict(n=4, num_filters=16, width=10, block="normal", preact=True, shortcut="B"),
            WRN_PAPER,
            "WRN-28-10: pre-activation basic blocks, n=4, widths 160/320/640, projections "
            "where the shape changes",
            summary="WRN-28-10 for CIFAR", **_CIFAR_INPUT),
)


def _family(variant):
    for key, family in (("resnext", "resnext_cifar"), ("wrn", "wide_resnet_cifar"),
                        ("preact", "preact_resnet_cifar")):
        if key in variant.name:
            return family
    return "resnet_cifar"


REGISTERED = {}
REGISTERED.update(register_variants(CifarResNet, VARIANTS, doc=_DOC, options=_OPTIONS,
                  family=_family, record_arguments=True,
                  module=__name__))
PreActResNet164CIFAR = REGISTERED["preact_resnet164_cifar"]
PreActResNet1001CIFAR = REGISTERED["preact_resnet1001_cifar"]
ResNeXt29_8x64dCIFAR = REGISTERED["resnext29_8x64d_cifar"]
ResNet20CIFAR_B = REGISTERED["resnet20_cifar_b"]
ResNet56CIFAR_B = REGISTERED["resnet56_cifar_b"]
ResNet110CIFAR_B = REGISTERED["resnet110_cifar_b"]
WideResNet28_10CIFAR = REGISTERED["wrn28_10_cifar"]

for _family_name, _paper in (("resnet_cifar", "cifar_resnet"),
                             ("preact_resnet_cifar", "cifar_resnet"),
                             ("wide_resnet_cifar", "wrn_cifar"),
                             ("resnext_cifar", "resnext_cifar")):
    register_family_recipe(_family_name, "cifar_resnet", _paper)
