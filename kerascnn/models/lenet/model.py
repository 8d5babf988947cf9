"""LeNet-5 (LeCun et al., "Gradient-Based Learning Applied to Document
Recognition", Proc. IEEE 1998).

The paper's layer table on a 32x32x1 input:

====== ========= ====== ====== ========== ==========
layer   kernel    maps   stride  input      output
====== ========= ====== ====== ========== ==========
C1      5x5       6      1       1@32x32    6@28x28
S2      2x2       -      2       6@28x28    6@14x14
C3      5x5       16     1       6@14x14    16@10x10
S4      2x2       -      2       16@10x10   16@5x5
C5      5x5       120    1       16@5x5     120@1x1
F6      -         84     -       120        84
OUTPUT  -         10     -       84         10
====== ========= ====== ====== ========== ==========

C3 is fully connected to S2 (no connection table), S2/S4 are average pooling
without weights, the activation is the paper's sigmoid (``activation=`` to change,
e.g. ``"relu"`` or ``"tanh"``) and the output a softmax instead of the original
Euclidean RBF units: 61,706 parameters with 10 classes.
"""

from __future__ import annotations

from keras import layers

from kerascnn.layers.conv import Conv2D
from kerascnn.models.common import (
    build_input,
    check_arguments,
    classifier_head,
    finish_model,
)
from kerascnn.models.variants import Variant, register_variants

__all__ = ["LeNet5"]

PAPER = ("Gradient-Based Learning Applied to Document Recognition", 1998)
DEFAULT_SHAPE = (32, 32, 1)
MIN_SIZE = 32  # C5's 5x5 kernel needs S4's 5x5 map


def _lenet5(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None,
            classes=10, classifier_activation="softmax", name="lenet5", activation="sigmoid"):
    check_arguments(weights, include_top, classes, pooling, classifier_activation)
    img_input = build_input(input_tensor, input_shape, default_shape=DEFAULT_SHAPE,
                            min_size=MIN_SIZE, include_top=include_top, weights=weights,
                            fixed_size=True)
    x = Conv2D(6, 5, activation=activation, name="c1")(img_input)
    x = layers.AveragePooling2D(2, strides=2, name="s2")(x)
    x = Conv2D(16, 5, activation=activation, name="c3")(x)
    x = layers.AveragePooling2D(2, strides=2, name="s4")(x)
    x = Conv2D(120, 5, activation=activation, name="c5")(x)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(84, activation=activation, name="f6")(x)
        x = layers.Dense(classes, activation=classifier_activation, name="output")(x)
    else:
        x = classifier_head(x, False, pooling, classes, classifier_activation)
    return finish_model(img_input, input_tensor, x, name, weights)


_DOC = """Instantiates {summary}.

    {title} ({year}).

    Args:
        include_top: include F6 and the output layer (the input must then be
            32x32: C5's output is flattened).
        weights: {weights} (no ImageNet weights).
        input_tensor: optional Keras tensor to use as image input.
        input_shape: optional (height, width, channels); default {input},
            at least {min_size}x{min_size}.
        pooling: None, ``"avg"`` or ``"max"`` over C5's map when
            ``include_top=False``.
        classes: number of output units ({classes} digits by default).
        classifier_activation: activation of the output layer (None for logits).
        name: model name.
        activation: activation of C1, C3, C5 and F6 (``"sigmoid"`` as the paper).

    Returns:
        A ``keras.Model``.
    """

VARIANTS = (
    Variant("lenet5", "LeNet5", {}, PAPER,
            "paper table: C3 fully connected, average-pooling S2/S4 without weights, sigmoid "
            "activations, softmax output", default_input=DEFAULT_SHAPE, min_size=MIN_SIZE,
            classes=10, summary="LeNet-5"),
)


REGISTERED = {}
REGISTERED.update(register_variants(_lenet5, VARIANTS, family="lenet", doc=_DOC,
                  options=("activation",), recipe="lenet", paper_recipe="lenet",
                  module=__name__))
LeNet5 = REGISTERED["lenet5"]
