"""ImageNet residual networks with post-activation blocks: ResNet v1 (He et al.,
"Deep Residual Learning for Image Recognition", CVPR 2016; arXiv 1512.03385),
Wide ResNet (Zagoruyko & Komodakis, "Wide Residual Networks", 2016), ResNeXt
(Xie et al., "Aggregated Residual Transformations for Deep Neural Networks",
CVPR 2017) and SENet (Hu et al., "Squeeze-and-Excitation Networks", CVPR 2018).

One builder, :func:`ResNet`: a 7x7/2 convolution with 64 filters, BN, ReLU,
3x3/2 max pooling (SENet-154: three 3x3 convolutions), four stages of residual
blocks (:func:`kerascnn.blocks.residual_block`), global average pooling and the
classifier. Stage ``i`` (0..3) has ``planes = 64 * 2**i``; a basic block outputs
``planes`` channels, a bottleneck block ``4 * planes`` with a middle width of
``planes * width_per_group / 64 * groups`` (torchvision's parameterisation:
Wide ResNet-50-2 doubles it, ResNeXt 32x4d has 32 groups of 4 channels at
stage 0).

ResNet-50 (the network of the Keras ResNet-50 tutorial) and its deeper siblings keep
keras.applications' layout (convolution biases, stride on the first 1x1, Caffe
layer names ``res2a_branch2a``), so they are identical to their keras twins.
The other variants follow the torch convention of the reference table (no
convolution bias, stride on the 3x3). ``resnet50_tv``, ``resnet101_tv`` and
``resnet152_tv`` are torchvision's ResNet v1.5 layout of the same depths (no
convolution bias, stride on the 3x3), the layout torchvision's ImageNet weights need.
The torchvision-layout variants (``resnet18``, ``resnet34``, ``*_tv``, ``wide_*``,
``resnext*``) use PyTorch's BatchNorm epsilon 1e-5 (``bn_epsilon``; keras' 1.001e-5
elsewhere), so torchvision's weights give torchvision's outputs.
The SE networks are the SENet authors' released
models (timm's ``legacy_se*``): BN epsilon 1e-5 and the stem's 3x3/2 max pooling with
Caffe's ceil rounding and no padding (:class:`kerascnn.layers.CeilMaxPooling2D`), the
SE excitation as two Dense layers (the release's 1x1 convolutions on a 1x1 map).

========================= ================ ===================================
name                       blocks/stage     trainable parameters (1000 classes)
========================= ================ ===================================
resnet18                   2, 2, 2, 2       11,689,512
resnet34                   3, 4, 6, 3       21,797,672
resnet50                   3, 4, 6, 3       25,583,592 (count_params 25,636,712)
resnet101                  3, 4, 23, 3      44,601,832 (count_params 44,707,176)
resnet152                  3, 8, 36, 3      60,268,520 (count_params 60,419,944)
resnet50_tv                3, 4, 6, 3       25,557,032
resnet101_tv               3, 4, 23, 3      44,549,160
resnet152_tv               3, 8, 36, 3      60,192,808
wide_resnet50_2            3, 4, 6, 3       68,883,240
wide_resnet101_2           3, 4, 23, 3      126,886,696
resnext50_32x4d            3, 4, 6, 3       25,028,904
resnext101_32x8d           3, 4, 23, 3      88,791,336
resnext101_64x4d           3, 4, 23, 3      83,455,272
se_resnet50                3, 4, 6, 3       28,088,024
se_resnet101               3, 4, 23, 3      49,326,872
se_resnet152               3, 8, 36, 3      66,821,848
se_resnext50_32x4d         3, 4, 6, 3       27,559,896
senet154                   3, 8, 36, 3      115,088,984
========================= ================ ===================================
"""

from __future__ import annotations

from keras import layers

from kerascnn.blocks.common import TORCH_BN_EPSILON
from kerascnn.blocks.residual import (
    BLOCK_TYPES,
    SHORTCUTS,
    block_letters,
    depth_schedule,
    residual_block,
)
from kerascnn.layers.conv import Conv2D
from kerascnn.layers.pooling import CeilMaxPooling2D
from kerascnn.models.common import (
    BN_EPSILON,
    build_input,
    channel_axis,
    check_arguments,
    classifier_head,
    finish_model,
    keras_twin_loader,
)
from kerascnn.models.variants import KerasTwin, Variant, register_variants
from kerascnn.registry import register_family_recipe

__all__ = ["ResNet", "ResNet18", "ResNet34", "ResNet50", "ResNet101", "ResNet152", "ResNet50TV",
           "ResNet101TV", "ResNet152TV", "WideResNet50_2", "WideResNet101_2", "ResNeXt50_32x4d",
           "ResNeXt101_32x8d", "ResNeXt101_64x4d", "SEResNet50", "SEResNet101", "SEResNet152",
           "SEResNeXt50_32x4d", "SENet154"]

PAPER = ("Deep Residual Learning for Image Recognition", 2015)
WRN_PAPER = ("Wide Residual Networks", 2016)
RESNEXT_PAPER = ("Aggregated Residual Transformations for Deep Neural Networks", 2017)
SENET_PAPER = ("Squeeze-and-Excitation Networks", 2018)

# The Keras ResNet-50 tutorial's stage table (F1, F2, F3 of the bottleneck blocks).
STAGE_FILTERS = ([64, 64, 256], [128, 128, 512], [256, 256, 1024], [512, 512, 2048])

_KERAS_V1 = dict(block="bottleneck", use_bias=True, stride_in="1x1")
_TORCH_BOTTLENECK = dict(block="bottleneck", use_bias=False, stride_in="3x3")
# torchvision's layouts: PyTorch's BatchNorm epsilon.
_TV = dict(bn_epsilon=TORCH_BN_EPSILON)
_TV_NOTE = ", BN eps 1e-5 (torchvision)"

_KERAS = "bottleneck v1 as keras.applications"
# The SENet authors' released (Caffe) models: BN epsilon 1e-5 and the stem's max pooling
# with ceil rounding and no padding (timm's legacy_se* weights have this layout).
_SENET_RELEASE = dict(bn_epsilon=1e-5, pool_ceil_mode=True)
_SE = "SE r=16, no conv bias, BN eps 1e-5, ceil-mode stem pool (as the authors' release)"

VARIANTS = (
    Variant("resnet18", "ResNet18", dict(blocks_per_stage=(2, 2, 2, 2), block="basic", **_TV),
            PAPER,
            "basic blocks, no conv bias, option B projections" + _TV_NOTE),
    Variant("resnet34", "ResNet34", dict(blocks_per_stage=(3, 4, 6, 3), block="basic", **_TV),
            PAPER,
            "basic blocks, no conv bias, option B projections" + _TV_NOTE),
    Variant("resnet50", "ResNet50", dict(blocks_per_stage=(3, 4, 6, 3), **_KERAS_V1), PAPER,
            _KERAS + " (conv biases, option B projections, stride on the first 1x1)",
            keras_twin=KerasTwin("ResNet50", "resnet50", "resnet", top1=74.9, license="caffe_resnet", mode="caffe",
                                 md5="2cb95161c43110f7111970584f804107",
                                 md5_notop="4d473c1dd8becc155b73f8504c6f6626")),
    Variant("resnet101", "ResNet101", dict(blocks_per_stage=(3, 4, 23, 3), **_KERAS_V1), PAPER,
            _KERAS, keras_twin=KerasTwin("ResNet101", "resnet101", "resnet", top1=76.4, license="caffe_resnet", mode="caffe",
                                         md5="f1aeb4b969a6efcfb50fad2f0c20cfc5",
                                         md5_notop="88cf7a10940856eca736dc7b7e228a21")),
    Variant("resnet152", "ResNet152", dict(blocks_per_stage=(3, 8, 36, 3), **_KERAS_V1), PAPER,
            _KERAS, keras_twin=KerasTwin("ResNet152", "resnet152", "resnet", top1=76.6, license="caffe_resnet", mode="caffe",
                                         md5="100835be76be38e30d865e96f2aaae62",
                                         md5_notop="ee4c566cf9a93f14d82f913c2dc6dd0c")),
    Variant("resnet50_tv", "ResNet50TV",
            dict(blocks_per_stage=(3, 4, 6, 3), **_TORCH_BOTTLENECK, **_TV), PAPER,
            "torchvision's ResNet v1.5: no conv bias, stride on the 3x3" + _TV_NOTE,
            summary="ResNet-50 in torchvision's v1.5 layout (stride on the 3x3, no conv bias)"),
    Variant("resnet101_tv", "ResNet101TV",
            dict(blocks_per_stage=(3, 4, 23, 3), **_TORCH_BOTTLENECK, **_TV), PAPER,
            "torchvision's ResNet v1.5: no conv bias, stride on the 3x3" + _TV_NOTE,
            summary="ResNet-101 in torchvision's v1.5 layout (stride on the 3x3, no conv bias)"),
    Variant("resnet152_tv", "ResNet152TV",
            dict(blocks_per_stage=(3, 8, 36, 3), **_TORCH_BOTTLENECK, **_TV), PAPER,
            "torchvision's ResNet v1.5: no conv bias, stride on the 3x3" + _TV_NOTE,
            summary="ResNet-152 in torchvision's v1.5 layout (stride on the 3x3, no conv bias)"),
    Variant("wide_resnet50_2", "WideResNet50_2",
            dict(blocks_per_stage=(3, 4, 6, 3), width_per_group=128, **_TORCH_BOTTLENECK,
                 **_TV), WRN_PAPER, "bottleneck width x2, no conv bias" + _TV_NOTE),
    Variant("wide_resnet101_2", "WideResNet101_2",
            dict(blocks_per_stage=(3, 4, 23, 3), width_per_group=128, **_TORCH_BOTTLENECK,
                 **_TV), WRN_PAPER, "bottleneck width x2, no conv bias" + _TV_NOTE),
    Variant("resnext50_32x4d", "ResNeXt50_32x4d",
            dict(blocks_per_stage=(3, 4, 6, 3), groups=32, width_per_group=4,
                 **_TORCH_BOTTLENECK, **_TV), RESNEXT_PAPER,
            "C=32, d=4, grouped 3x3" + _TV_NOTE),
    Variant("resnext101_32x8d", "ResNeXt101_32x8d",
            dict(blocks_per_stage=(3, 4, 23, 3), groups=32, width_per_group=8,
                 **_TORCH_BOTTLENECK, **_TV), RESNEXT_PAPER, "C=32, d=8" + _TV_NOTE),
    Variant("resnext101_64x4d", "ResNeXt101_64x4d",
            dict(blocks_per_stage=(3, 4, 23, 3), groups=64, width_per_group=4,
                 **_TORCH_BOTTLENECK, **_TV), RESNEXT_PAPER, "C=64, d=4" + _TV_NOTE),
    Variant("se_resnet50", "SEResNet50",
            dict(blocks_per_stage=(3, 4, 6, 3), se_ratio=16, block="bottleneck",
                 stride_in="1x1", **_SENET_RELEASE), SENET_PAPER,
            "SE r=16 on every bottleneck, no conv bias, stride on the first 1x1, BN eps 1e-5, "
            "ceil-mode stem pool (as the authors' release)"),
    Variant("se_resnet101", "SEResNet101",
            dict(blocks_per_stage=(3, 4, 23, 3), se_ratio=16, block="bottleneck",
                 stride_in="1x1", **_SENET_RELEASE), SENET_PAPER, _SE),
    Variant("se_resnet152", "SEResNet152",
            dict(blocks_per_stage=(3, 8, 36, 3), se_ratio=16, block="bottleneck",
                 stride_in="1x1", **_SENET_RELEASE), SENET_PAPER, _SE),
    Variant("se_resnext50_32x4d", "SEResNeXt50_32x4d",
            dict(blocks_per_stage=(3, 4, 6, 3), se_ratio=16, groups=32, width_per_group=4,
                 **_TORCH_BOTTLENECK, **_SENET_RELEASE), SENET_PAPER,
            "SE r=16, C=32, d=4, BN eps 1e-5, ceil-mode stem pool (as the authors' release)"),
    Variant("senet154", "SENet154",
            dict(blocks_per_stage=(3, 8, 36, 3), se_ratio=16, groups=64, width_per_group=4,
                 first_width_ratio=0.5, stem="deep", downsample_kernel_size=3, dropout=0.2,
                 **_TORCH_BOTTLENECK, **_SENET_RELEASE), SENET_PAPER,
            "SE r=16, C=64, 3-conv stem, 3x3 projections, first 1x1 at half the grouped "
            "width, dropout 0.2, BN eps 1e-5, ceil-mode stem pool (as the authors' released "
            "model)"),
)


def _stem(x, kind, use_bias, epsilon=BN_EPSILON, pool_ceil_mode=False):
    axis = channel_axis()
    if kind == "deep":
        for i, (filters, stride) in enumerate(((64, 2), (64, 1), (128, 1)), start=1):
            if stride > 1:
                x = layers.ZeroPadding2D(padding=1, name=f"conv1_{i}_pad")(x)
            x = Conv2D(filters, 3, strides=stride, padding="valid" if stride > 1
                       else "same", use_bias=use_bias, name=f"conv1_{i}")(x)
            x = layers.BatchNormalization(axis=axis, epsilon=epsilon, name=f"bn_conv1_{i}")(x)
            x = layers.Activation("relu", name=f"conv1_{i}_relu")(x)
        if pool_ceil_mode:
            return CeilMaxPooling2D(3, strides=2, name="pool1")(x)
        # 3x3/2 max pooling, "same" (the windows of ceil rounding at even sizes only).
        return layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
    x = layers.ZeroPadding2D(padding=3, name="conv1_pad")(x)
    x = Conv2D(64, 7, strides=2, use_bias=use_bias, name="conv1")(x)
    x = layers.BatchNormalization(axis=axis, epsilon=epsilon, name="bn_conv1")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    if pool_ceil_mode:
        # Caffe's rounding (the SENet authors' released models): no padding, the last
        # window may hang over the bottom/right edge.
        return CeilMaxPooling2D(3, strides=2, name="pool1")(x)
    x = layers.ZeroPadding2D(padding=1, name="pool1_pad")(x)
    return layers.MaxPooling2D(3, strides=2, name="pool1")(x)


def check_family_arguments(shortcut, se_ratio, stochastic_depth, stochastic_depth_mode,
                           weights=None):
    """One-line ValueErrors for the residual options every residual model takes."""
    if shortcut not in SHORTCUTS:
        raise ValueError(f"`shortcut` must be 'A', 'B' or 'C'; got shortcut={shortcut!r}.")
    if se_ratio is not None and (isinstance(se_ratio, bool) or
                                 not isinstance(se_ratio, (int, float)) or se_ratio <= 0):
        raise ValueError(f"`se_ratio` must be None or a positive number; got se_ratio={se_ratio!r}.")
    if stochastic_depth is not None and stochastic_depth is not True:
        depth_schedule(stochastic_depth, 1)  # validates
    if stochastic_depth_mode not in ("batch", "sample"):
        raise ValueError("`stochastic_depth_mode` must be 'batch' or 'sample'; "
                         f"got stochastic_depth_mode={stochastic_depth_mode!r}.")
    if weights == "imagenet" and (stochastic_depth is not None or se_ratio is not None or
                                  shortcut != "B"):
        raise ValueError(
            "weights='imagenet' needs the released architecture: shortcut='B', se_ratio=None "
            "and stochastic_depth=None."
        )


def ResNet(
    blocks_per_stage,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet",
    block="bottleneck",
    shortcut="B",
    groups=1,
    width_per_group=64,
    se_ratio=None,
    stochastic_depth=None,
    stochastic_depth_mode="batch",
    use_bias=False,
    stride_in="3x3",
    first_width_ratio=1.0,
    stem="standard",
    downsample_kernel_size=1,
    dropout=None,
    bn_epsilon=BN_EPSILON,
    pool_ceil_mode=False,
    keras_twin=None,
    weights_file=None,
):
    """Builds an ImageNet post-activation residual network.

    Args:
        blocks_per_stage: four integers, blocks in stages conv2_x .. conv5_x.
        include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation, name: as keras.applications.
        block: ``"basic"`` or ``"bottleneck"``.
        shortcut: ``"A"``, ``"B"`` or ``"C"`` (He et al. 2015, section 3.3).
        groups: cardinality of the bottleneck's 3x3 (ResNeXt).
        width_per_group: bottleneck width per group at stage 0 (64: ResNet,
            128: Wide ResNet-2, 4 with 32 groups: ResNeXt 32x4d).
        se_ratio: None or the squeeze-and-excitation reduction ratio.
        stochastic_depth: None (off), True (``p_L = 0.5``) or ``p_L``, the
            survival probability of the last block (linear decay from 1).
        stochastic_depth_mode: ``"batch"`` or ``"sample"`` (drop path).
        use_bias: convolution biases (True in keras.applications).
        stride_in: ``"1x1"`` (Caffe/keras v1) or ``"3x3"`` (torchvision).
        first_width_ratio: width of the first 1x1 relative to the 3x3 (0.5 in
            SENet-154).
        stem: ``"standard"`` (7x7/2) or ``"deep"`` (three 3x3, SENet-154).
        downsample_kernel_size: projection kernel in stages 3..5 (3 in SENet-154).
        dropout: dropout rate before the classifier (SENet-154: 0.2).
        bn_epsilon: BatchNormalization epsilon (keras.applications' 1.001e-5; 1e-5 in
            the SENet authors' released models and in PyTorch).
        pool_ceil_mode: the stem's 3x3/2 max pooling without padding and with ceil
            rounding (Caffe's, the SENet authors' released models:
            :class:`kerascnn.layers.CeilMaxPooling2D`) instead of 1-pixel padding
            and floor rounding (keras.applications).
        keras_twin: the identical keras.applications constructor, used to read
            its ImageNet weights file.
        weights_file: keras' ImageNet file name (without ``_notop``/``.h5``).

    Returns:
        A ``keras.Model``.
    """
    check_arguments(weights, include_top, classes, pooling, classifier_activation,
                    imagenet_available=keras_twin is not None)
    if (not isinstance(blocks_per_stage, (tuple, list)) or len(blocks_per_stage) != 4 or
            not all(isinstance(b, int) and b >= 1 for b in blocks_per_stage)):
        raise ValueError(
            f"`blocks_per_stage` must be four positive integers; got {blocks_per_stage!r}."
        )
    if block not in BLOCK_TYPES:
        raise ValueError(f"`block` must be 'basic' or 'bottleneck'; got block={block!r}.")
    if block == "basic" and (groups != 1 or width_per_group != 64):
        raise ValueError("Basic blocks have no groups or width_per_group: use block='bottleneck'.")
    check_family_arguments(shortcut, se_ratio, stochastic_depth, stochastic_depth_mode, weights)
    img_input = build_input(input_tensor, input_shape, default_shape=(224, 224, 3), min_size=32,
                            include_top=include_top, weights=weights)

    if isinstance(bn_epsilon, bool) or not isinstance(bn_epsilon, (int, float)) or \
            bn_epsilon <= 0:
        raise ValueError(f"`bn_epsilon` must be a positive number; got bn_epsilon={bn_epsilon!r}.")
    x = _stem(img_input, stem, use_bias, bn_epsilon, pool_ceil_mode)
    schedule = iter(depth_schedule(stochastic_depth, sum(blocks_per_stage)))
    for i, num_blocks in enumerate(blocks_per_stage):
        stage = i + 2
        planes = 64 * 2 ** i
        if block == "basic":
            filters, width = planes, None
        else:
            filters = 4 * planes
            width = int(planes * width_per_group / 64) * groups
        for j, label in enumerate(block_letters(num_blocks)):
            stride = 2 if (j == 0 and i > 0) else 1
            x = residual_block(
                x, filters, names=(stage, label), block=block, stride=stride,
                shortcut=shortcut, bottleneck_filters=width,
                reduce_filters=int(width * first_width_ratio) if width else None,
                groups=groups, stride_in=stride_in, se_ratio=se_ratio,
                survival_probability=next(schedule),
                stochastic_depth_mode=stochastic_depth_mode, use_bias=use_bias,
                shortcut_kernel_size=downsample_kernel_size if i > 0 else 1,
                epsilon=bn_epsilon,
            )

    x = classifier_head(x, include_top, pooling, classes, classifier_activation,
                        name=f"fc{classes}", dropout=dropout)

    imagenet_loader = keras_twin_loader(keras_twin, weights_file, include_top, classes=classes,
                                        classifier_activation=classifier_activation,
                                        pooling=pooling)

    return finish_model(img_input, input_tensor, x, name, weights, imagenet_loader)


_DOC = """Instantiates {constructor} ({title}, {year}).

    {summary}; see :func:`ResNet` for the layout.

    Args:
        include_top: whether to include the global-pool + Dense classifier.
        weights: {weights}.
        input_tensor: optional Keras tensor to use as image input.
        input_shape: optional (height, width, channels); default {input},
            minimum {min_size}x{min_size}.
        pooling: None, ``"avg"`` or ``"max"`` when ``include_top=False``.
        classes: number of classes of the classifier.
        classifier_activation: activation of the classifier (None for logits).
        name: model name.
        shortcut: ``"A"`` (zero padding), ``"B"`` (projections where the shape
            changes) or ``"C"`` (projections everywhere).
        se_ratio: None, or a squeeze-and-excitation ratio for every block.
        stochastic_depth: None (off), True (0.5) or ``p_L``, the survival
            probability of the last block.
        stochastic_depth_mode: ``"batch"`` or ``"sample"`` (drop path).

    Returns:
        A ``keras.Model``.
    """


def _family(name):
    for prefix, family in (("wide_resnet", "wide_resnet"), ("resnext", "resnext"),
                           ("se", "senet")):
        if name.startswith(prefix):
            return family
    return "resnet"


PAPER_RECIPES = {"resnet": "imagenet_resnet", "resnext": "imagenet_resnet",
                 "wide_resnet": "imagenet_resnet", "senet": "senet"}

REGISTERED = {}
REGISTERED.update(register_variants(ResNet, VARIANTS, family=lambda v: _family(v.name), doc=_DOC,
                  twin_arguments=True,
                  options=("shortcut", "se_ratio", "stochastic_depth", "stochastic_depth_mode",
                           "bn_epsilon"),
                  module=__name__))
ResNet18 = REGISTERED["resnet18"]
ResNet34 = REGISTERED["resnet34"]
ResNet50 = REGISTERED["resnet50"]
ResNet101 = REGISTERED["resnet101"]
ResNet152 = REGISTERED["resnet152"]
ResNet50TV = REGISTERED["resnet50_tv"]
ResNet101TV = REGISTERED["resnet101_tv"]
ResNet152TV = REGISTERED["resnet152_tv"]
WideResNet50_2 = REGISTERED["wide_resnet50_2"]
WideResNet101_2 = REGISTERED["wide_resnet101_2"]
ResNeXt50_32x4d = REGISTERED["resnext50_32x4d"]
ResNeXt101_32x8d = REGISTERED["resnext101_32x8d"]
ResNeXt101_64x4d = REGISTERED["resnext101_64x4d"]
SEResNet50 = REGISTERED["se_resnet50"]
SEResNet101 = REGISTERED["se_resnet101"]
SEResNet152 = REGISTERED["se_resnet152"]
SEResNeXt50_32x4d = REGISTERED["se_resnext50_32x4d"]
SENet154 = REGISTERED["senet154"]
for _name, _paper in PAPER_RECIPES.items():
    register_family_recipe(_name, "resnet", _paper)
