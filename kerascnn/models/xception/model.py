"""Xception (Chollet, "Xception: Deep Learning with Depthwise Separable
Convolutions", CVPR 2017).

Inception taken to the extreme: depthwise separable convolutions decouple the
spatial and cross-channel correlations. Entry flow (two convolutions, three
residual blocks of separable convolutions that halve the resolution), middle
flow (eight residual blocks of three separable 3x3 convolutions at 728
channels), exit flow (a residual block to 1024, separable 1536 and 2048), global
average pooling and the classifier. Exactly keras.applications.Xception:
22,910,480 ``count_params()``, 22,855,952 trainable (the Xception paper's figure);
``weights="imagenet"`` reads keras' file.
"""

from __future__ import annotations

import keras

from kerascnn.models.common import (
    build_input,
    check_arguments,
    classifier_head,
    finish_model,
    keras_twin_loader,
)
from kerascnn.models.variants import KerasTwin, Variant, register_variants
from kerascnn.models.xception.blocks import (
    xception_entry_flow,
    xception_exit_flow,
    xception_middle_flow,
)

__all__ = ["Xception"]

PAPER = ("Xception: Deep Learning with Depthwise Separable Convolutions", 2016)
MIN_SIZE = 71


def _xception(include_top=True, weights=None, input_tensor=None, input_shape=None,
              pooling=None, classes=1000, classifier_activation="softmax", name="xception"):
    check_arguments(weights, include_top, classes, pooling, classifier_activation,
                    imagenet_available=True)
    img_input = build_input(input_tensor, input_shape, default_shape=(299, 299, 3),
                            min_size=MIN_SIZE, include_top=include_top, weights=weights)
    x = xception_entry_flow(img_input)
    x = xception_middle_flow(x)
    x = xception_exit_flow(x)
    x = classifier_head(x, include_top, pooling, classes, classifier_activation)

    imagenet_loader = keras_twin_loader(
        keras.applications.Xception, "xception", include_top, classes=classes, pooling=pooling,
        classifier_activation=classifier_activation)

    return finish_model(img_input, input_tensor, x, name, weights, imagenet_loader)


_DOC = """Instantiates {summary}.

    {title} ({year}).

    Args:
        include_top: include the global average pooling and the classifier.
        weights: {weights}.
        input_tensor: optional Keras tensor to use as image input.
        input_shape: optional (height, width, channels); default {input},
            at least {min_size}x{min_size}.
        pooling: None, ``"avg"`` or ``"max"`` when ``include_top=False``.
        classes: number of classes.
        classifier_activation: activation of the classifier (None for logits).
        name: model name.

    Returns:
        A ``keras.Model``.
    """

VARIANTS = (
    Variant("xception", "Xception", {}, PAPER, "= keras.applications.Xception",
            keras_twin=KerasTwin("Xception", "xception", "xception", top1=79.0, license="keras", mode="tf",
                                 md5="0a58e3b7378bc2990ea3b43d5981f1f6",
                                 md5_notop="b0042744bf5b25fce3cb969f33bebb97"), default_input=(299, 299, 3),
            min_size=MIN_SIZE, summary="Xception (keras.applications layout)"),
)

REGISTERED = {}
REGISTERED.update(register_variants(_xception, VARIANTS, family="inception", doc=_DOC,
                  recipe="inception", paper_recipe="inception",
                  module=__name__))
Xception = REGISTERED["xception"]
