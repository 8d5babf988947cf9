"""VGG (Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale
Image Recognition", ICLR 2015).

Five ``vgg_block``s of 3x3 convolutions (64, 128, 256, 512, 512 filters), each
closed by 2x2/2 max pooling, then three fully connected layers 4096-4096-classes.
Configurations (convolutions per block):

========== ============= ======================================= ===============
name        config        convolutions per block                  trainable
========== ============= ======================================= ===============
vgg11       A             1, 1, 2, 2, 2                            132,863,336
vgg11_lrn   A-LRN         A + LRN after the first convolution      132,863,336
vgg13       B             2, 2, 2, 2, 2                            133,047,848
vgg16_c     C             2, 2, 3, 3, 3 (third conv of 3-5 is 1x1) 133,638,952
vgg16       D             2, 2, 3, 3, 3                            138,357,544
vgg19       E             2, 2, 4, 4, 4                            143,667,240
========== ============= ======================================= ===============

``*_bn`` adds BatchNormalization after every convolution (which keeps its bias).
``vgg16`` and ``vgg19`` are keras.applications.VGG16 / VGG19 (same layers, names
and graph; ``weights="imagenet"`` reads keras' file); so that the graphs are
identical they default to ``dropout=0.0`` like keras, the other configurations to
the paper's 0.5 after fc1 and fc2.

The configurations torchvision publishes weights for are torchvision's layout:
``vgg11``, ``vgg13`` and every ``*_bn`` (BatchNorm epsilon 1e-5, PyTorch's), and
``vgg16_tv`` / ``vgg19_tv`` (configurations D and E with dropout 0.5, beside the keras
twins). Their dense top starts with torchvision's adaptive average pooling to 7x7
(``adaptive_pooling=True``, a layer named ``avgpool``), so like torchvision's models they
take any input of at least 32x32 (the identity at 224); fc1 flattens the 7x7x512 map.

``fully_convolutional=True`` is the paper's dense evaluation: fc1 becomes a 7x7
convolution and fc2 / predictions 1x1 convolutions with the same weights
(:func:`dense_to_fully_convolutional` copies them), so the model takes any image
of at least 224x224 and returns a map of class scores (1x1 at 224, 6x6 at 384).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from kerascnn.blocks.common import BN_EPSILON, TORCH_BN_EPSILON
from kerascnn.layers.conv import Conv2D
from kerascnn.layers.pooling import AdaptiveAveragePooling2D
from kerascnn.models.common import (
    build_input,
    check_arguments,
    check_rate,
    classifier_head,
    dense_classifier,
    finish_model,
    keras_weights_file,
)
from kerascnn.models.variants import KerasTwin, Variant, register_variants
from kerascnn.models.vgg.blocks import vgg_block

__all__ = ["VGG", "dense_to_fully_convolutional", "VGG11", "VGG11LRN", "VGG13", "VGG16C", "VGG16",
           "VGG19", "VGG16TV", "VGG19TV", "VGG11BN", "VGG13BN", "VGG16BN", "VGG19BN"]

PAPER = ("Very Deep Convolutional Networks for Large-Scale Image Recognition", 2014)
FILTERS = (64, 128, 256, 512, 512)
CONFIGS = {
    "A": (1, 1, 2, 2, 2),
    "B": (2, 2, 2, 2, 2),
    "C": (2, 2, 3, 3, 3),
    "D": (2, 2, 3, 3, 3),
    "E": (2, 2, 4, 4, 4),
}
DEFAULT_SHAPE = (224, 224, 3)
MIN_SIZE = 32  # five 2x2/2 poolings


def VGG(config, include_top=True, weights=None, input_tensor=None, input_shape=None,
        pooling=None, classes=1000, classifier_activation="softmax", name="vgg",
        batch_norm=False, lrn=False, dropout=0.5, fully_convolutional=False,
        adaptive_pooling=False, bn_epsilon=BN_EPSILON, keras_twin=None, weights_file=None):
    """Builds a VGG configuration.

    Args:
        config: ``"A"``, ``"B"``, ``"C"``, ``"D"`` or ``"E"``.
        include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation, name: as keras.applications. With the dense top
            the input must be 224x224 (fc1 flattens a 7x7x512 map) unless
            ``adaptive_pooling``.
        batch_norm: BN after every convolution.
        lrn: LRN after the first convolution (A-LRN).
        dropout: dropout rate after fc1 and fc2 (0 removes the layers).
        fully_convolutional: fc1/fc2/predictions as 7x7/1x1/1x1 convolutions;
            any input of at least 224x224, output a (rows, cols, classes) map.
        adaptive_pooling: the dense top starts with an adaptive average pooling to
            7x7 (torchvision's ``AdaptiveAvgPool2d((7, 7))``): any input size of at
            least 32x32 with the top (not used by ``fully_convolutional``).
        bn_epsilon: BatchNormalization epsilon (1e-5, PyTorch's, in the ``*_bn``
            variants).
        keras_twin, weights_file: the identical keras constructor and its ImageNet
            file stem (VGG16 and VGG19 only).

    Returns:
        A ``keras.Model``.
    """
    if config not in CONFIGS:
        raise ValueError(f"`config` must be one of A, B, C, D, E; got config={config!r}.")
    check_arguments(weights, include_top, classes, pooling, classifier_activation,
                    imagenet_available=keras_twin is not None)
    check_rate(dropout, "dropout")
    for flag, value in (("fully_convolutional", fully_convolutional),
                        ("adaptive_pooling", adaptive_pooling)):
        if not isinstance(value, bool):
            raise ValueError(f"`{flag}` must be True or False; got {flag}={value!r}.")
    if isinstance(bn_epsilon, bool) or not isinstance(bn_epsilon, (int, float)) or \
            bn_epsilon <= 0:
        raise ValueError(f"`bn_epsilon` must be a positive number; got bn_epsilon={bn_epsilon!r}.")
    dense_eval = fully_convolutional and include_top
    adaptive = adaptive_pooling and include_top and not fully_convolutional
    if dense_eval and input_shape is None and input_tensor is None:
        input_shape = (None, None, 3)
    img_input = build_input(input_tensor, input_shape, default_shape=DEFAULT_SHAPE,
                            min_size=224 if dense_eval else MIN_SIZE, include_top=include_top,
                            weights=weights, fixed_size=not (fully_convolutional or adaptive))
    spatial = img_input.shape[1:3] if keras.config.image_data_format() == "channels_last" \
        else img_input.shape[2:4]
    if adaptive and None in tuple(spatial):
        raise ValueError("With include_top=True the adaptive pooling needs a known input "
                         f"size; got input_shape={tuple(img_input.shape[1:])}.")
    x = img_input
    for block, (num_convs, filters) in enumerate(zip(CONFIGS[config], FILTERS), start=1):
        kernels = [3] * num_convs
        if config == "C" and block >= 3:
            kernels[-1] = 1
        x = vgg_block(x, num_convs, filters, name=f"block{block}", kernel_sizes=kernels,
                      batch_norm=batch_norm, lrn_after_first=lrn and block == 1,
                      bn_epsilon=bn_epsilon)
    if dense_eval:
        x = Conv2D(4096, 7, activation="relu", name="fc1")(x)
        if dropout:
            x = layers.Dropout(dropout, name="fc1_dropout")(x)
        x = Conv2D(4096, 1, activation="relu", name="fc2")(x)
        if dropout:
            x = layers.Dropout(dropout, name="fc2_dropout")(x)
        x = Conv2D(classes, 1, activation=classifier_activation, name="predictions")(x)
    elif include_top:
        if adaptive:
            x = AdaptiveAveragePooling2D((7, 7), name="avgpool")(x)
        x = dense_classifier(x, classes, classifier_activation, names=("fc1", "fc2"),
                             dropout=dropout)
    else:
        x = classifier_head(x, False, pooling, classes, classifier_activation)

    def imagenet_loader(model):
        suffix = "" if include_top else "_notop"
        file_name = f"{weights_file}_weights_tf_dim_ordering_tf_kernels{suffix}.h5"
        path = keras_weights_file(file_name)
        if dense_eval:
            twin = keras_twin(include_top=True, weights=path,
                              classifier_activation=classifier_activation)
            dense_to_fully_convolutional(twin, model)
        else:
            from kerascnn.models.common import load_keras_twin_weights

            load_keras_twin_weights(model, keras_twin, file_name, include_top,
                                    classes=classes, pooling=pooling,
                                    classifier_activation=classifier_activation)

    return finish_model(img_input, input_tensor, x, name, weights, imagenet_loader)


def dense_to_fully_convolutional(src, dst):
    """Copies a dense-top VGG's weights into its fully convolutional twin.

    Layers are matched by name; the fully connected kernels are reshaped into
    convolution kernels (fc1: 25088x4096 -> 7x7x512x4096; fc2 and predictions:
    1x1 convolutions). Channels-last flattening order is assumed.

    Returns:
        The number of layers copied.
    """
    src_layers = {layer.name: layer for layer in src.layers if layer.weights}
    copied = 0
    for layer in dst.layers:
        if not layer.weights:
            continue
        if layer.name not in src_layers:
            raise ValueError(f"Cannot convert: {src.name} has no layer named {layer.name!r}.")
        values = src_layers[layer.name].get_weights()
        shapes = [tuple(w.shape) for w in layer.weights]
        layer.set_weights([np.reshape(v, s) for v, s in zip(values, shapes)])
        copied += 1
    return copied


# torchvision's layout: adaptive average pooling to 7x7 before fc1; PyTorch's BN epsilon.
_TV = dict(adaptive_pooling=True)
_TV_BN = dict(adaptive_pooling=True, bn_epsilon=TORCH_BN_EPSILON)
_TV_NOTE = "; torchvision's adaptive 7x7 pooling before fc1"
_TV_BN_NOTE = _TV_NOTE + ", BN eps 1e-5"

VARIANTS = (
    Variant("vgg11", "VGG11", dict(config="A", **_TV), PAPER,
            "config A; conv/dense biases; dropout 0.5" + _TV_NOTE, summary="configuration A"),
    Variant("vgg11_lrn", "VGG11LRN", dict(config="A", lrn=True), PAPER,
            "config A-LRN (LRN after conv1, no weights); dropout 0.5",
            summary="configuration A-LRN (LRN after the first convolution)"),
    Variant("vgg13", "VGG13", dict(config="B", **_TV), PAPER, "config B; dropout 0.5" + _TV_NOTE,
            summary="configuration B"),
    Variant("vgg16_c", "VGG16C", dict(config="C"), PAPER,
            "config C: 1x1 third convolution in blocks 3-5; dropout 0.5",
            summary="configuration C (1x1 third convolution in blocks 3-5)"),
    Variant("vgg16", "VGG16", dict(config="D", dropout=0.0), PAPER,
            "config D = keras.applications.VGG16 (no dropout)", keras_twin=KerasTwin("VGG16", "vgg16", "vgg16", top1=71.3, license="vgg", mode="caffe",
                                                                                     md5="64373286793e3c8b2b4e3219cbf3544b",
                                                                                     md5_notop="6d6bbae143d832006294945121d1f1fc"), summary="configuration D (keras.applications.VGG16)"),
    Variant("vgg19", "VGG19", dict(config="E", dropout=0.0), PAPER,
            "config E = keras.applications.VGG19 (no dropout)", keras_twin=KerasTwin("VGG19", "vgg19", "vgg19", top1=71.3, license="vgg", mode="caffe",
                                                                                     md5="cbe5617147190e668d6c5d5026f83318",
                                                                                     md5_notop="253f8cb515780f3b799900260a226db6"), summary="configuration E (keras.applications.VGG19)"),
    Variant("vgg16_tv", "VGG16TV", dict(config="D", **_TV), PAPER,
            "config D in torchvision's layout (dropout 0.5)" + _TV_NOTE,
            summary="configuration D in torchvision's layout (adaptive pooling, dropout 0.5)"),
    Variant("vgg19_tv", "VGG19TV", dict(config="E", **_TV), PAPER,
            "config E in torchvision's layout (dropout 0.5)" + _TV_NOTE,
            summary="configuration E in torchvision's layout (adaptive pooling, dropout 0.5)"),
    Variant("vgg11_bn", "VGG11BN", dict(config="A", batch_norm=True, **_TV_BN), PAPER,
            "config A, BN after each conv (conv keeps bias); dropout 0.5" + _TV_BN_NOTE,
            summary="configuration A, BN after every convolution"),
    Variant("vgg13_bn", "VGG13BN", dict(config="B", batch_norm=True, **_TV_BN), PAPER,
            "config B with BN; dropout 0.5" + _TV_BN_NOTE, summary="configuration B, BN after every convolution"),
    Variant("vgg16_bn", "VGG16BN", dict(config="D", batch_norm=True, **_TV_BN), PAPER,
            "config D with BN; dropout 0.5" + _TV_BN_NOTE, summary="configuration D, BN after every convolution"),
    Variant("vgg19_bn", "VGG19BN", dict(config="E", batch_norm=True, **_TV_BN), PAPER,
            "config E with BN; dropout 0.5" + _TV_BN_NOTE, summary="configuration E, BN after every convolution"),
)

_DOC = """Instantiates VGG {summary} ({name}).

    Args:
        include_top: include fc1, fc2 and the classifier (dense top: 224x224 input,
            any size of at least 32x32 with ``adaptive_pooling``).
        weights: {weights}.
        input_tensor: optional Keras tensor to use as image input.
        input_shape: optional (height, width, channels); at least 32x32 without the
            top, at least 224x224 with ``fully_convolutional``.
        pooling: None, ``"avg"`` or ``"max"`` when ``include_top=False``.
        classes: number of classes.
        classifier_activation: activation of the classifier (None for logits).
        name: model name.
        dropout: dropout after fc1 and fc2 (0.5; 0 in the keras twins vgg16, vgg19).
        fully_convolutional: dense evaluation (7x7 and 1x1 convolutions as the top).
        adaptive_pooling: torchvision's adaptive average pooling to 7x7 before fc1
            (True in torchvision's layouts: vgg11, vgg13, ``*_bn``, ``*_tv``).
        bn_epsilon: BatchNormalization epsilon of the ``*_bn`` variants (1e-5).

    Returns:
        A ``keras.Model``.
    """


REGISTERED = {}
REGISTERED.update(register_variants(VGG, VARIANTS, family="vgg", doc=_DOC,
                  twin_arguments=True,
                  options=("dropout", "fully_convolutional", "adaptive_pooling", "bn_epsilon"),
                  recipe="vgg", paper_recipe="vgg",
                  module=__name__))
VGG11 = REGISTERED["vgg11"]
VGG11LRN = REGISTERED["vgg11_lrn"]
VGG13 = REGISTERED["vgg13"]
VGG16C = REGISTERED["vgg16_c"]
VGG16 = REGISTERED["vgg16"]
VGG19 = REGISTERED["vgg19"]
VGG16TV = REGISTERED["vgg16_tv"]
VGG19TV = REGISTERED["vgg19_tv"]
VGG11BN = REGISTERED["vgg11_bn"]
VGG13BN = REGISTERED["vgg13_bn"]
VGG16BN = REGISTERED["vgg16_bn"]
VGG19BN = REGISTERED["vgg19_bn"]
