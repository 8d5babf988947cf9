"""ResNet v1 for ImageNet (He et al., "Deep Residual Learning for Image
Recognition", CVPR 2016; arXiv 1512.03385).

Seed 001's Keras ResNet-50, built from ``identity_block`` and
``convolutional_block``: a 7x7/2 convolution with 64 filters, BN, ReLU, 3x3/2
max pooling, then four stages of bottleneck blocks, global average pooling and
the classifier. The stem's padding, the stride on the first 1x1 convolution,
the convolution biases and BN epsilon follow keras.applications, so the models
are identical to their keras twins (same parameter counts, same outputs after
:func:`kerascnn.transfer_weights`).

Variants are a table of blocks per stage:

========== =============== ====================
name        blocks/stage    count_params (1000)
========== =============== ====================
resnet50    3, 4, 6, 3      25,636,712
resnet101   3, 4, 23, 3     44,707,176
resnet152   3, 8, 36, 3     60,419,944
========== =============== ====================
"""

from __future__ import annotations

import keras
from keras import layers

from kerascnn.applications.common import (
    BN_EPSILON,
    build_input,
    channel_axis,
    check_arguments,
    classifier_head,
    finish_model,
    load_keras_twin_weights,
)
from kerascnn.blocks.residual import block_letters, convolutional_block, identity_block
from kerascnn.registry import register_model

__all__ = ["ResNet", "ResNet50", "ResNet101", "ResNet152"]

PAPER = ("Deep Residual Learning for Image Recognition", 2015)

# Bottleneck blocks per stage (conv2_x .. conv5_x) and the three filter counts.
STAGE_FILTERS = ([64, 64, 256], [128, 128, 512], [256, 256, 1024], [512, 512, 2048])
BLOCKS = {
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
}


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
    use_bias=True,
    keras_twin=None,
    weights_file=None,
):
    """Builds a bottleneck ResNet v1 from the number of blocks of each stage.

    Args:
        blocks_per_stage: four integers, blocks in stages 2..5.
        include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation, name: as keras.applications.
        use_bias: convolution biases (True as keras.applications and seed 001).
        keras_twin: the identical keras.applications constructor, used to read
            its ImageNet weights file.
        weights_file: keras' ImageNet file name (without ``_notop``/``.h5``).

    Returns:
        A ``keras.Model``.
    """
    check_arguments(weights, include_top, classes, pooling, classifier_activation,
                    imagenet_available=keras_twin is not None)
    if len(blocks_per_stage) != 4 or not all(isinstance(b, int) and b >= 1
                                             for b in blocks_per_stage):
        raise ValueError(
            f"`blocks_per_stage` must be four positive integers; got {blocks_per_stage!r}."
        )
    img_input = build_input(input_tensor, input_shape, default_shape=(224, 224, 3), min_size=32,
                            include_top=include_top, weights=weights)

    # Stage 1
    x = layers.ZeroPadding2D(padding=3, name="conv1_pad")(img_input)
    x = layers.Conv2D(64, 7, strides=2, use_bias=use_bias, name="conv1")(x)
    x = layers.BatchNormalization(axis=channel_axis(), epsilon=BN_EPSILON, name="bn_conv1")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=1, name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)

    # Stages 2..5
    for stage, (num_blocks, filters) in enumerate(zip(blocks_per_stage, STAGE_FILTERS), start=2):
        labels = block_letters(num_blocks)
        x = convolutional_block(x, 3, filters, stage, labels[0], s=1 if stage == 2 else 2,
                                use_bias=use_bias)
        for label in labels[1:]:
            x = identity_block(x, 3, filters, stage, label, use_bias=use_bias)

    x = classifier_head(x, include_top, pooling, classes, classifier_activation,
                        name=f"fc{classes}")

    def imagenet_loader(model):
        suffix = "" if include_top else "_notop"
        load_keras_twin_weights(model, keras_twin,
                                f"{weights_file}_weights_tf_dim_ordering_tf_kernels{suffix}.h5",
                                include_top, classes=classes,
                                classifier_activation=classifier_activation, pooling=pooling)

    return finish_model(img_input, input_tensor, x, name, weights, imagenet_loader)


def _variant(depth, twin, weights_file, doc_name):
    def constructor(include_top=True, weights=None, input_tensor=None, input_shape=None,
                    pooling=None, classes=1000, classifier_activation="softmax",
                    name=f"resnet{depth}"):
        return ResNet(BLOCKS[depth], include_top=include_top, weights=weights,
                      input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
                      classes=classes, classifier_activation=classifier_activation, name=name,
                      keras_twin=twin, weights_file=weights_file)

    constructor.__name__ = doc_name
    constructor.__qualname__ = doc_name
    constructor.__doc__ = f"""Instantiates ResNet-{depth} (v1, bottleneck, keras.applications layout).

    Args:
        include_top: whether to include the global-pool + Dense classifier.
        weights: None (random), a weights file path, or ``"imagenet"``
            (keras.applications' file, read from the Keras cache; never downloaded).
        input_tensor: optional Keras tensor to use as image input.
        input_shape: optional (height, width, channels); default (224, 224, 3),
            minimum 32x32.
        pooling: None, ``"avg"`` or ``"max"`` when ``include_top=False``.
        classes: number of classes of the classifier.
        classifier_activation: activation of the classifier (None for logits).
        name: model name.

    Returns:
        A ``keras.Model`` ({BLOCKS[depth]} bottleneck blocks per stage).
    """
    return constructor


ResNet50 = _variant(50, keras.applications.ResNet50, "resnet50", "ResNet50")
ResNet101 = _variant(101, keras.applications.ResNet101, "resnet101", "ResNet101")
ResNet152 = _variant(152, keras.applications.ResNet152, "resnet152", "ResNet152")

for _depth, _ctor, _twin in ((50, ResNet50, "ResNet50"), (101, ResNet101, "ResNet101"),
                             (152, ResNet152, "ResNet152")):
    register_model(
        f"resnet{_depth}", _ctor, family="resnet", paper=PAPER,
        default_input_shape=(224, 224, 3), min_input_size=32, keras_twin=_twin,
        convention="bottleneck v1 as keras.applications (conv biases, option B projections, "
                   "stride on the first 1x1)",
    )
