"""ResNet v2, full pre-activation (He et al., "Identity Mappings in Deep Residual
Networks", ECCV 2016).

Blocks are BN-ReLU-conv (section 6.1.3 (e)); nothing follows the addition, and a
final BN-ReLU precedes the pooling. The layout is keras.applications' ResNetV2
(stem 7x7/2 convolution with bias and no BN, the first block of each stage
projects, the last block of each stage strides with a subsampling shortcut,
biases only on the convolutions no BN follows), so ``resnet50_v2``,
``resnet101_v2`` and ``resnet152_v2`` are identical to their keras twins.
``resnet200_v2`` is the paper's ResNet-200 (section 6.1.4) in the same layout.

============== ================ =====================================
name            blocks/stage     trainable (count_params), 1000 classes
============== ================ =====================================
resnet50_v2     3, 4, 6, 3       25,568,360 (25,613,800)
resnet101_v2    3, 4, 23, 3      44,577,896 (44,675,560)
resnet152_v2    3, 8, 36, 3      60,236,904 (60,380,648)
resnet200_v2    3, 24, 36, 3     64,726,120 (64,894,440)
============== ================ =====================================
"""

from __future__ import annotations

from keras import layers

from kerascnn.blocks.residual import depth_schedule, residual_block
from kerascnn.layers.conv import Conv2D
from kerascnn.models.common import (
    BN_EPSILON,
    build_input,
    channel_axis,
    check_arguments,
    classifier_head,
    finish_model,
    keras_twin_loader,
)
from kerascnn.models.resnet.model import check_family_arguments
from kerascnn.models.variants import KerasTwin, Variant, register_variants

__all__ = ["ResNetV2", "ResNet50V2", "ResNet101V2", "ResNet152V2", "ResNet200V2"]

PAPER = ("Identity Mappings in Deep Residual Networks", 2016)

_CONVENTION = ("full pre-activation bottleneck in keras.applications' ResNetV2 layout "
               "(biases on the convolutions no BN follows)")

VARIANTS = (
    Variant("resnet50_v2", "ResNet50V2", dict(blocks_per_stage=(3, 4, 6, 3)), PAPER, _CONVENTION,
            keras_twin=KerasTwin("ResNet50V2", "resnet50v2", "resnet", top1=76.0, license="keras", mode="tf",
                                 md5="3ef43a0b657b3be2300d5770ece849e0",
                                 md5_notop="fac2f116257151a9d068a22e544a4917")),
    Variant("resnet101_v2", "ResNet101V2", dict(blocks_per_stage=(3, 4, 23, 3)), PAPER,
            _CONVENTION, keras_twin=KerasTwin("ResNet101V2", "resnet101v2", "resnet", top1=77.2, license="keras", mode="tf",
                                              md5="6343647c601c52e1368623803854d971",
                                              md5_notop="c0ed64b8031c3730f411d2eb4eea35b5")),
    Variant("resnet152_v2", "ResNet152V2", dict(blocks_per_stage=(3, 8, 36, 3)), PAPER,
            _CONVENTION, keras_twin=KerasTwin("ResNet152V2", "resnet152v2", "resnet", top1=78.0, license="keras", mode="tf",
                                              md5="a49b44d1979771252814e80f8ec446f9",
                                              md5_notop="ed17cf2e0169df9d443503ef94b23b33")),
    Variant("resnet200_v2", "ResNet200V2", dict(blocks_per_stage=(3, 24, 36, 3)), PAPER,
            _CONVENTION + "; the paper's ResNet-200"),
)


def ResNetV2(
    blocks_per_stage,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnetv2",
    shortcut="B",
    se_ratio=None,
    stochastic_depth=None,
    stochastic_depth_mode="batch",
    keras_twin=None,
    weights_file=None,
):
    """Builds a pre-activation bottleneck ResNet in keras.applications' layout.

    Args:
        blocks_per_stage: four integers, blocks in stages conv2 .. conv5.
        include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation, name: as keras.applications.
        shortcut: ``"B"`` (keras: projection where the width changes,
            subsampling where only the size does), ``"A"`` (zero padding
            instead of projections) or ``"C"`` (projection in every block).
        se_ratio: None or a squeeze-and-excitation ratio for every block.
        stochastic_depth: None (off), True (0.5) or ``p_L`` (linear decay).
        stochastic_depth_mode: ``"batch"`` or ``"sample"`` (drop path).
        keras_twin: the identical keras.applications constructor (ImageNet file).
        weights_file: keras' ImageNet file prefix.

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
    check_family_arguments(shortcut, se_ratio, stochastic_depth, stochastic_depth_mode, weights)
    img_input = build_input(input_tensor, input_shape, default_shape=(224, 224, 3), min_size=32,
                            include_top=include_top, weights=weights)

    x = layers.ZeroPadding2D(padding=3, name="conv1_pad")(img_input)
    x = Conv2D(64, 7, strides=2, use_bias=True, name="conv1_conv")(x)
    x = layers.ZeroPadding2D(padding=1, name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)

    schedule = iter(depth_schedule(stochastic_depth, sum(blocks_per_stage)))
    last_stage = len(blocks_per_stage) - 1
    for i, num_blocks in enumerate(blocks_per_stage):
        planes = 64 * 2 ** i
        for j in range(num_blocks):
            last = j == num_blocks - 1
            stride = 2 if (last and i < last_stage) else 1
            x = residual_block(
                x, 4 * planes, names=f"conv{i + 2}_block{j + 1}", block="bottleneck",
                stride=stride, preact=True,
                shortcut=shortcut if (j == 0 or shortcut == "C") else "A",
                bottleneck_filters=planes, stride_in="3x3", use_bias="unnormalized",
                explicit_padding=True, se_ratio=se_ratio,
                survival_probability=next(schedule),
                stochastic_depth_mode=stochastic_depth_mode,
            )

    x = layers.BatchNormalization(axis=channel_axis(), epsilon=BN_EPSILON, name="post_bn")(x)
    x = layers.Activation("relu", name="post_relu")(x)
    x = classifier_head(x, include_top, pooling, classes, classifier_activation)

    imagenet_loader = keras_twin_loader(keras_twin, weights_file, include_top, classes=classes,
                                        classifier_activation=classifier_activation,
                                        pooling=pooling)

    return finish_model(img_input, input_tensor, x, name, weights, imagenet_loader)


_DOC = """Instantiates {constructor}, pre-activation ResNet ({title}, {year}).

    Blocks per stage {arguments}; see :func:`ResNetV2` for the layout.

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
        shortcut: ``"A"``, ``"B"`` or ``"C"``.
        se_ratio: None or a squeeze-and-excitation ratio for every block.
        stochastic_depth: None (off), True (0.5) or ``p_L``.
        stochastic_depth_mode: ``"batch"`` or ``"sample"`` (drop path).

    Returns:
        A ``keras.Model``.
    """


REGISTERED = {}
REGISTERED.update(register_variants(ResNetV2, VARIANTS, family="resnet_v2", doc=_DOC,
                  twin_arguments=True,
                  options=("shortcut", "se_ratio", "stochastic_depth", "stochastic_depth_mode"),
                  recipe="resnet_v2", paper_recipe="imagenet_resnet",
                  module=__name__))
ResNet50V2 = REGISTERED["resnet50_v2"]
ResNet101V2 = REGISTERED["resnet101_v2"]
ResNet152V2 = REGISTERED["resnet152_v2"]
ResNet200V2 = REGISTERED["resnet200_v2"]
