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

``inception_v3_tv`` is torchvision's Inception3: the same graph and branch order, BN with
gamma (``BasicConv2d``: conv without bias, BN eps 1e-3 with affine), 3x3/1 average pooling
in modules A, B and C that counts the zero padding (``F.avg_pool2d(x, 3, 1, 1)``,
``count_include_pad=True``: built as ``ZeroPadding2D(1)`` + valid pooling), and
``transform_input=True`` (an ImageNet mean/std-normalised input re-normalised to mean 0.5,
std 0.5, as torchvision does for its ImageNet weights): 23,834,568 trainable parameters
without the auxiliary head, 27,161,264 with it (torchvision's count).
"""

from __future__ import annotations

import keras

from kerascnn.blocks.auxiliary import inception_v3_aux_head
from kerascnn.blocks.inception_v3 import (
    inception_v3_a,
    inception_v3_b,
    inception_v3_c,
    inception_v3_reduction_a,
    inception_v3_reduction_b,
    inception_v3_stem,
)
from kerascnn.models.common import (
    build_input,
    channel_axis,
    check_arguments,
    classifier_head,
    finish_model,
    keras_twin_loader,
)
from kerascnn.models.variants import KerasTwin, Variant, register_variants

__all__ = ["InceptionV3", "InceptionV3TV"]

PAPER = ("Rethinking the Inception Architecture for Computer Vision", 2015)
MIN_SIZE = 75
# torchvision's ImageNet normalisation, undone by ``transform_input``.
TORCH_IMAGENET_MEAN = (0.485, 0.456, 0.406)
TORCH_IMAGENET_STD = (0.229, 0.224, 0.225)
AUX_MIN_SIZE = 299  # the auxiliary 5x5/3 pooling + 5x5 convolution need the full 17x17 grid


def _transform_input(x):
    """torchvision's ``transform_input``: an input normalised with ImageNet's mean and std
    becomes one normalised with mean 0.5 and std 0.5 (what the ported Google weights
    expect): ``x_c * std_c / 0.5 + (mean_c - 0.5) / 0.5`` per channel."""
    scale = [s / 0.5 for s in TORCH_IMAGENET_STD]
    offset = [(m - 0.5) / 0.5 for m in TORCH_IMAGENET_MEAN]
    if channel_axis() == 1:
        scale, offset = [[[v]] for v in scale], [[[v]] for v in offset]
    return keras.layers.Rescaling(scale, offset, name="transform_input")(x)


def _inception_v3(include_top=True, weights=None, input_tensor=None, input_shape=None,
                  pooling=None, classes=1000, classifier_activation="softmax",
                  name="inception_v3", aux_logits=False, bn_scale=False,
                  count_include_pad=False, transform_input=False):
    check_arguments(weights, include_top, classes, pooling, classifier_activation,
                    imagenet_available=not (bn_scale or count_include_pad or transform_input))
    if aux_logits and not include_top:
        raise ValueError("`aux_logits=True` needs include_top=True (the auxiliary head is a "
                         "classifier).")
    if aux_logits and weights == "imagenet":
        raise ValueError("keras' ImageNet file has no auxiliary head: use aux_logits=False "
                         "with weights='imagenet'.")
    for flag, value in (("bn_scale", bn_scale), ("count_include_pad", count_include_pad),
                        ("transform_input", transform_input)):
        if not isinstance(value, bool):
            raise ValueError(f"`{flag}` must be True or False; got {flag}={value!r}.")
    img_input = build_input(input_tensor, input_shape, default_shape=(299, 299, 3),
                            min_size=AUX_MIN_SIZE if aux_logits else MIN_SIZE,
                            include_top=include_top, weights=weights)
    x = _transform_input(img_input) if transform_input else img_input
    kw = dict(bn_scale=bn_scale)
    pool = dict(kw, count_include_pad=count_include_pad)
    x = inception_v3_stem(x, **kw)

    x = inception_v3_a(x, 32, name="mixed0", **pool)
    x = inception_v3_a(x, 64, name="mixed1", **pool)
    x = inception_v3_a(x, 64, name="mixed2", **pool)
    x = inception_v3_reduction_a(x, name="mixed3", **kw)
    for i, f7 in enumerate((128, 160, 160, 192)):
        x = inception_v3_b(x, f7, name=f"mixed{4 + i}", **pool)
    aux = inception_v3_aux_head(x, classes, classifier_activation, **kw) if aux_logits \
        else None
    x = inception_v3_reduction_b(x, name="mixed8", **kw)
    x = inception_v3_c(x, name="mixed9", **pool)
    x = inception_v3_c(x, name="mixed10", **pool)

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
        transform_input: (``inception_v3_tv``) re-normalise an input normalised with
            ImageNet's mean/std to mean 0.5, std 0.5 first, as torchvision's
            ``transform_input=True`` (its ImageNet weights expect it; default True there).

    Returns:
        A ``keras.Model``.
    """

VARIANTS = (
    Variant("inception_v3", "InceptionV3", {}, PAPER,
            "= keras.applications.InceptionV3 (no conv bias, BN scale=False, eps 1e-3); "
            "aux_logits=True adds the 17x17 auxiliary head", keras_twin=KerasTwin("InceptionV3", "inception_v3", "inception_v3", top1=77.9, license="keras", mode="tf",
                                                                                  md5="9a0d58056eeedaa3f26cb7ebd46da564",
                                                                                  md5_notop="bcbd6486424b2319ff4ef7d526e38f63"), default_input=(299, 299, 3), min_size=MIN_SIZE,
            summary="Inception v3 (keras.applications layout)"),
)

_TV = dict(bn_scale=True, count_include_pad=True, transform_input=True)
VARIANTS += (
    Variant("inception_v3_tv", "InceptionV3TV", _TV, PAPER,
            "= torchvision.models.inception_v3 (no conv bias, BN with scale, eps 1e-3; "
            "average pooling counts the padding; transform_input=True); without the "
            "auxiliary head (aux_logits=True adds it)",
            default_input=(299, 299, 3), min_size=MIN_SIZE,
            options=("aux_logits", "transform_input"),
            summary="Inception v3 in torchvision's layout (BN with scale, average pooling "
                    "counting the padding, ``transform_input``)"),
)

REGISTERED = {}
REGISTERED.update(register_variants(_inception_v3, VARIANTS, family="inception", doc=_DOC,
                  options=("aux_logits",), recipe="inception", paper_recipe="inception",
                  module=__name__))
InceptionV3 = REGISTERED["inception_v3"]
InceptionV3TV = REGISTERED["inception_v3_tv"]
