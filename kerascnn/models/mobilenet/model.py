"""MobileNet v1 (Howard et al., "MobileNets: Efficient Convolutional Neural
Networks for Mobile Vision Applications", 2017), built from depthwise
separable convolutions (Howard et al., "MobileNets", 2017).

A 3x3/2 convolution, then 13 blocks depthwise 3x3 -> BN -> ReLU6 -> pointwise
1x1 -> BN -> ReLU6 (filters 64, 128, 128, 256, 256, 512 x6, 1024, 1024 times
``alpha``; stride 2 in blocks 2, 4, 6, 12), global average pooling, dropout
and a 1x1-convolution classifier. The graph (padding of the stride-2 blocks,
BN epsilon 1e-3, no convolution biases, the head) is keras.applications', so
``mobilenet`` (alpha=1.0: 4,253,864 count_params) is identical to
``keras.applications.MobileNet``.
"""

from __future__ import annotations

import keras
from keras import layers

from kerascnn.blocks.mobilenet import KERAS_MOBILENET_NAMES, depthwise_separable_conv
from kerascnn.layers.conv import Conv2D
from kerascnn.models.common import (
    build_input,
    channel_axis,
    check_arguments,
    check_positive_int,
    classifier_head,
    finish_model,
    load_keras_twin_weights,
)
from kerascnn.models.variants import KerasTwin, Variant, register_variants

__all__ = ["MobileNet"]

PAPER = ("MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications",
         2017)

# (pointwise filters, stride) of the 13 depthwise separable blocks.
BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1),
          (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))
_IMAGENET_ALPHAS = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}


def _depthwise_separable(x, filters, alpha, depth_multiplier, strides, block_id):
    """keras.applications.MobileNet's block: ReLU6, BN epsilon 1e-3, keras' names."""
    return depthwise_separable_conv(
        x, int(filters * alpha), 3, strides=strides, depth_multiplier=depth_multiplier,
        activation="relu6", bn_epsilon=1e-3, pad_bottom_right=True,
        names={part: form.format(id=block_id) for part, form in KERAS_MOBILENET_NAMES.items()})


def _mobilenet(include_top=True, weights=None, input_tensor=None, input_shape=None,
               pooling=None, classes=1000, classifier_activation="softmax", name="mobilenet",
               alpha=1.0, depth_multiplier=1, dropout=1e-3):
    check_arguments(weights, include_top, classes, pooling, classifier_activation,
                    imagenet_available=True)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or alpha <= 0:
        raise ValueError(f"`alpha` must be a positive number; got alpha={alpha!r}.")
    check_positive_int(depth_multiplier, "depth_multiplier")
    if weights == "imagenet" and (alpha not in _IMAGENET_ALPHAS or depth_multiplier != 1):
        raise ValueError("With weights='imagenet', `alpha` must be one of 0.25, 0.5, 0.75, 1.0 "
                         f"and depth_multiplier 1; got alpha={alpha!r}, "
                         f"depth_multiplier={depth_multiplier!r}.")
    img_input = build_input(input_tensor, input_shape, default_shape=(224, 224, 3), min_size=32,
                            include_top=include_top, weights=weights)
    x = Conv2D(int(32 * alpha), 3, padding="same", use_bias=False, strides=2,
               name="conv1")(img_input)
    x = layers.BatchNormalization(axis=channel_axis(), name="conv1_bn")(x)
    x = layers.ReLU(6.0, name="conv1_relu")(x)
    for block_id, (filters, strides) in enumerate(BLOCKS, start=1):
        x = _depthwise_separable(x, filters, alpha, depth_multiplier, strides, block_id)

    if include_top:
        x = layers.GlobalAveragePooling2D(keepdims=True, name="global_average_pooling2d")(x)
        x = layers.Dropout(dropout, name="dropout")(x)
        x = Conv2D(classes, 1, padding="same", name="conv_preds")(x)
        x = layers.Reshape((classes,), name="reshape_2")(x)
        x = layers.Activation(classifier_activation, name="predictions")(x)
    else:  # keras.applications.MobileNet's top above is its own (1x1 conv, reshape)
        x = classifier_head(x, False, pooling, classes, classifier_activation)

    def imagenet_loader(model):
        rows = model.input.shape[1]
        rows = rows if rows in (128, 160, 192, 224) else 224  # keras' files' sizes
        suffix = "" if include_top else "_no_top"
        load_keras_twin_weights(model, keras.applications.MobileNet,
                                f"mobilenet_{_IMAGENET_ALPHAS[alpha]}_{rows}_tf{suffix}.h5",
                                include_top, classes=classes, alpha=alpha,
                                classifier_activation=classifier_activation, pooling=pooling)

    return finish_model(img_input, input_tensor, x, name, weights, imagenet_loader)


_DOC = """Instantiates {summary}.

    {title} ({year}).

    Args:
        include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation, name: as keras.applications; ``weights=
            "imagenet"`` reads keras' file (alpha 0.25, 0.5, 0.75 or 1.0),
            downloaded once into the Keras cache.
        alpha: width multiplier of every layer.
        depth_multiplier: resolution multiplier of the depthwise convolutions.
        dropout: dropout rate before the classifier.

    Returns:
        A ``keras.Model``.
    """

# weights: keras' file is mobilenet_{alpha}_{rows}_tf[_no_top].h5, chosen by the builder's loader.
VARIANTS = (
    Variant("mobilenet", "MobileNet", {}, PAPER,
            "keras.applications.MobileNet alpha=1.0 (no conv biases, BN epsilon 1e-3, ReLU6, "
            "1x1-conv classifier with bias)", keras_twin=KerasTwin("MobileNet", None, "mobilenet", top1=70.4, license="slim", mode="tf",
                                                                   md5=None,
                                                                   md5_notop=None),
            summary="MobileNet v1 (keras.applications.MobileNet's graph)"),
)


REGISTERED = {}
REGISTERED.update(register_variants(_mobilenet, VARIANTS, family="mobilenet", doc=_DOC,
                  options=("alpha", "depth_multiplier", "dropout"), recipe="mobilenet",
                  paper_recipe="mobilenet",
                  module=__name__))
MobileNet = REGISTERED["mobilenet"]
