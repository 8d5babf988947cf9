"""Network in Network (Lin, Chen & Yan, "Network In Network", ICLR 2014).

``nin``: d2l's ImageNet model, four NiN blocks (96 11x11/4, 256 5x5 pad 2,
384 3x3 pad 1, then ``classes`` 3x3 pad 1), 3x3/2 max pooling after the first
three, dropout 0.5 before the last and global average pooling of the class maps
(no fully connected layer).

``nin_cifar``: the CIFAR model of the paper (pytorchcv's ``nin_cifar10``): three
mlpconv stages 192-160-96 (5x5), 192-192-192 (5x5), 192-192 (3x3), 3x3/2 max
then average pooling with dropout 0.5 between them, a final 1x1 convolution to
``classes`` with ReLU and global average pooling: 966,986 parameters for 10
classes. It pools with Keras' ``"same"`` padding; ``nin_cifar_cv`` is pytorchcv's exact
layout (``padding="symmetric"``: both poolings pad one pixel each side, the average
counting it), whose CIFAR-10 weights load into it.
"""

from __future__ import annotations

from keras import layers

from kerascnn.layers.conv import Conv2D
from kerascnn.layers.pooling import CeilPooling2D, SameAveragePooling2D
from kerascnn.models.common import (
    build_input,
    check_arguments,
    classifier_head,
    finish_model,
)
from kerascnn.models.nin.blocks import nin_block
from kerascnn.models.variants import Variant, register_variants

__all__ = ["NiN", "NiNCIFAR", "NiNCIFARCV"]

PAPER = ("Network In Network", 2013)
NIN_MIN_SIZE = 67
NIN_CIFAR_MIN_SIZE = 1


def _nin(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None,
         classes=1000, classifier_activation="softmax", name="nin", dropout=0.5):
    check_arguments(weights, include_top, classes, pooling, classifier_activation)
    img_input = build_input(input_tensor, input_shape, default_shape=(224, 224, 3),
                            min_size=NIN_MIN_SIZE, include_top=include_top, weights=weights)
    x = nin_block(img_input, 96, 11, 4, padding=0, name="nin1")
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    x = nin_block(x, 256, 5, 1, padding=2, name="nin2")
    x = layers.MaxPooling2D(3, strides=2, name="pool2")(x)
    x = nin_block(x, 384, 3, 1, padding=1, name="nin3")
    x = layers.MaxPooling2D(3, strides=2, name="pool3")(x)
    if include_top:
        if dropout:
            x = layers.Dropout(dropout, name="dropout")(x)
        x = nin_block(x, classes, 3, 1, padding=1, name="nin4")
    x = classifier_head(x, include_top, pooling, classes, classifier_activation, dense=False)
    return finish_model(img_input, input_tensor, x, name, weights)


def _nin_cifar(include_top=True, weights=None, input_tensor=None, input_shape=None,
               pooling=None, classes=10, classifier_activation="softmax", name="nin_cifar",
               dropout=0.5, padding="same"):
    check_arguments(weights, include_top, classes, pooling, classifier_activation)
    if padding not in ("same", "symmetric"):
        raise ValueError(f"`padding` must be 'same' or 'symmetric'; got padding={padding!r}.")
    img_input = build_input(input_tensor, input_shape, default_shape=(32, 32, 3),
                            min_size=NIN_CIFAR_MIN_SIZE, include_top=include_top,
                            weights=weights)
    x = nin_block(img_input, 192, 5, mlp_filters=(160, 96), name="stage1")
    if padding == "symmetric":
        x = CeilPooling2D("max", 3, strides=2, padding=1, ceil_mode=False, name="pool1")(x)
    else:
        x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout1")(x)
    x = nin_block(x, 192, 5, mlp_filters=(192, 192), name="stage2")
    if padding == "symmetric":
        x = CeilPooling2D("avg", 3, strides=2, padding=1, ceil_mode=False,
                          count_include_pad=True, name="pool2")(x)
    else:
        x = SameAveragePooling2D(3, strides=2, padding="same", name="pool2")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout2")(x)
    x = nin_block(x, 192, 3, mlp_filters=(192,), name="stage3")
    if include_top:
        x = Conv2D(classes, 1, activation="relu", name="final_conv")(x)
    x = classifier_head(x, include_top, pooling, classes, classifier_activation, dense=False)
    return finish_model(img_input, input_tensor, x, name, weights)


_DOC = """Instantiates {summary}.

    {title} ({year}).

    Args:
        include_top: include the class layers and the global average pooling (NiN: the
            dropout, the class NiN block and the pooling, else the output is the third
            pooled map, 384 channels; CIFAR NiN: the final 1x1 class convolution and the
            pooling).
        weights: {weights}.
        input_tensor: optional Keras tensor to use as image input.
        input_shape: optional (height, width, channels); default {input},
            at least {min_size}x{min_size}.
        pooling: None, ``"avg"`` or ``"max"`` when ``include_top=False``.
        classes: number of classes ({classes} by default; NiN: filters of the last
            NiN block).
        classifier_activation: activation after the average pooling (None for logits).
        name: model name.
        dropout: dropout rate (NiN: before the class block; CIFAR NiN: after the two
            poolings).
        padding: (CIFAR NiN) ``"same"`` (Keras' pooling) or ``"symmetric"`` (pytorchcv's:
            one pixel each side, the average pooling counting it; ``nin_cifar_cv``'s).

    Returns:
        A ``keras.Model``.
    """

VARIANTS = (
    Variant("nin", "NiN", {}, PAPER,
            "d2l ImageNet NiN: 4 NiN blocks, max pooling, dropout 0.5, GAP; biases",
            min_size=NIN_MIN_SIZE, builder=_nin, summary="d2l's ImageNet NiN"),
    Variant("nin_cifar", "NiNCIFAR", {}, PAPER,
            "three mlpconv blocks 192-160-96 / 192-192-192 / 192-192 + 1x1 to classes with "
            "ReLU, GAP; biases; no BN", default_input=(32, 32, 3),
            min_size=NIN_CIFAR_MIN_SIZE, classes=10, builder=_nin_cifar,
            summary="the CIFAR NiN (three mlpconv stages, global average pooling; every "
                    "layer keeps or halves the size)", options=("dropout", "padding")),
    Variant("nin_cifar_cv", "NiNCIFARCV", dict(padding="symmetric"), PAPER,
            "pytorchcv's nin_cifar10 layout: nin_cifar with 3x3/2 poolings padded one pixel "
            "each side (the average counting it)", default_input=(32, 32, 3),
            min_size=NIN_CIFAR_MIN_SIZE, classes=10, builder=_nin_cifar,
            summary="the CIFAR NiN in pytorchcv's layout (symmetric pooling padding)",
            options=("dropout", "padding")),
)


REGISTERED = {}
REGISTERED.update(register_variants(None, VARIANTS, family="nin", doc=_DOC,
                  options=("dropout",), recipe="nin", paper_recipe="nin",
                  module=__name__))
NiN = REGISTERED["nin"]
NiNCIFAR = REGISTERED["nin_cifar"]
NiNCIFARCV = REGISTERED["nin_cifar_cv"]
