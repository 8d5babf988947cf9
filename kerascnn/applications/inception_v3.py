"""Inception v3 (Szegedy et al., "Rethinking the Inception Architecture for
Computer Vision", CVPR 2016).

The stem's 7x7 convolution becomes three 3x3 (and a 1x1 80 / 3x3 192 pair), then
three 35x35 modules A (5x5 and a factorised double 3x3), a grid reduction to
17x17 (stride-2 convolutions beside a stride-2 pooling), four 17x17 modules B
(7x7 factorised into 1x7 and 7x1), a grid reduction to 8x8 and two 8x8 modules
C (parallel 1x3 / 3x1): 2048 channels, global average pooling, classifier.
Convolutions have no bias and are followed by BN without scale (epsilon 1e-3),
exactly as keras.applications.InceptionV3 (23,851,784 ``count_params()``,
23,817,352 trainable); ``weights="imagenet"`` reads keras' file.

``aux_logits=True`` adds the auxiliary classifier on the 17x17 grid (after
mixed7) and the model returns ``[main, aux]``.
"""

from __future__ import annotations

import keras

from kerascnn.applications.common import (
    build_input,
    check_arguments,
    classifier_head,
    finish_model,
    keras_twin_loader,
)
from kerascnn.applications.googlenet import RECIPE  # the family's default recipe
from kerascnn.applications.variants import Variant, register_variants
from kerascnn.blocks.auxiliary import inception_v3_aux_head
from kerascnn.blocks.inception_v3 import (
    inception_v3_a,
    inception_v3_b,
    inception_v3_c,
    inception_v3_reduction_a,
    inception_v3_reduction_b,
    inception_v3_stem,
)

__all__ = []  # one constructor per row of VARIANTS (register_variants)

PAPER = ("Rethinking the Inception Architecture for Computer Vision", 2015)
MIN_SIZE = 75
AUX_MIN_SIZE = 299  # the auxiliary 5x5/3 pooling + 5x5 convolution need the full 17x17 grid


def _inception_v3(include_top=True, weights=None, input_tensor=None, input_shape=None,
                  pooling=None, classes=1000, classifier_activation="softmax",
                  name="inception_v3", aux_logits=False):
    check_arguments(weights, include_top, classes, pooling, classifier_activation,
                    imagenet_available=True)
    if aux_logits and not include_top:
        raise ValueError("`aux_logits=True` needs include_top=True (the auxiliary head is a "
                         "classifier).")
    if aux_logits and weights == "imagenet":
        raise ValueError("keras' ImageNet file has no auxiliary head: use aux_logits=False "
                         "with weights='imagenet'.")
    img_input = build_input(input_tensor, input_shape, default_shape=(299, 299, 3),
                            min_size=AUX_MIN_SIZE if aux_logits else MIN_SIZE,
                            include_top=include_top, weights=weights)
    x = inception_v3_stem(img_input)

    x = inception_v3_a(x, 32, name="mixed0")
    x = inception_v3_a(x, 64, name="mixed1")
    x = inception_v3_a(x, 64, name="mixed2")
    x = inception_v3_reduction_a(x, name="mixed3")
    for i, f7 in enumerate((128, 160, 160, 192)):
        x = inception_v3_b(x, f7, name=f"mixed{4 + i}")
    aux = inception_v3_aux_head(x, classes, classifier_activation) if aux_logits else None
    x = inception_v3_reduction_b(x, name="mixed8")
    x = inception_v3_c(x, name="mixed9")
    x = inception_v3_c(x, name="mixed10")

    x = classifier_head(x, include_top, pooling, classes, classifier_activation)

    imagenet_loader = keras_twin_loader(
        keras.applications.InceptionV3, "inception_v3", include_top, classes=classes,
        pooling=pooling, classifier_activation=classifier_activation)

    return finish_model(img_input, input_tensor, [x, aux] if aux_logits else x, name, weights,
                        imagenet_loader)


_DOC = """Instantiates {summary}.

    {title} ({year}).

    Args:
        include_top: include the global average pooling and the classifier.
        weights: {weights}.
        input_tensor: optional Keras tensor to use as image input.
        input_shape: optional (height, width, channels); default {input},
            at least {min_size}x{min_size} (299x299 with ``aux_logits``).
        pooling: None, ``"avg"`` or ``"max"`` when ``include_top=False``.
        classes: number of classes.
        classifier_activation: activation of the classifiers (None for logits).
        name: model name.
        aux_logits: add the auxiliary classifier after mixed7; the model then
            returns ``[main, aux]``.

    Returns:
        A ``keras.Model``.
    """

VARIANTS = (
    Variant("inception_v3", "InceptionV3", {}, PAPER,
            "= keras.applications.InceptionV3 (no conv bias, BN scale=False, eps 1e-3); "
            "aux_logits=True adds the 17x17 auxiliary head", keras_twin="InceptionV3",
            weights="inception_v3", default_input=(299, 299, 3), min_size=MIN_SIZE,
            summary="Inception v3 (keras.applications layout)"),
)

register_variants(_inception_v3, VARIANTS, family="inception", doc=_DOC, namespace=globals(),
                  options=("aux_logits",), recipe=RECIPE, paper_recipe="inception")
