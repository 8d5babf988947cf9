"""AlexNet (Krizhevsky, Sutskever & Hinton, "ImageNet Classification with Deep
Convolutional Neural Networks", NIPS 2012), its one-weird-trick variant and
ZFNet (Zeiler & Fergus, "Visualizing and Understanding Convolutional Networks",
ECCV 2014).

Five convolutions and three fully connected layers; ReLU everywhere, 3x3/2
overlapping max pooling, local response normalization (AlexNet's constants
``k=2, n=5, alpha=1e-4, beta=0.75``) on the first two convolutions, dropout 0.5
before the second and third fully connected layers.

Where the normalization sits is each paper's own (``lrn_order``): AlexNet's
section 3.5 applies it before pooling ("max-pooling layers ... follow both
response-normalization layers"), so ``alexnet`` is conv, LRN, pool by default;
ZFNet's figure 3 normalizes the pooled maps, so ``zfnet`` is conv, pool, LRN (the
order of Caffe's CaffeNet, also offered for AlexNet with
``lrn_order="after_pool"``). The order changes no parameter count.

============ ======= ===================================== ========= ==============
name          input   convolutions (filters kernel/stride)  LRN       trainable
============ ======= ===================================== ========= ==============
alexnet       227     96 11/4, 256 5, 384 3, 384 3, 256 3    yes       62,378,344
alexnet_owt   224     64 11/4 (pad 2), 192 5, 384, 256, 256  no        61,100,840
zfnet         224     96 7/2 (pad 1), 256 5/2, 384, 384, 256 yes       62,357,608
alexnet_cv    224     as alexnet                            yes (1)   62,378,344
zfnet_cv      224     as zfnet                              yes (1)   62,357,608
============ ======= ===================================== ========= ==============

``alexnet_owt`` is torchvision's ``alexnet`` exactly: its top starts with an adaptive
average pooling to 6x6 (``adaptive_pooling``, a layer named ``avgpool``; the identity at
224), so it takes any input of at least 63x63 like torchvision's model, and its dropout
layers precede fc6 and fc7 (``dropout6``, ``dropout7``) where torchvision puts them,
instead of following fc6 and fc7 as in the paper.

(1) pytorchcv's layouts, which its ImageNet weights need: LRN before pooling with alpha
divided by the window (PyTorch's ``local_response_norm``, Caffe's convention), 3x3/2 max
pooling in ceil mode (:class:`kerascnn.layers.CeilPooling2D`); the classifier takes any
input size that gives the 6x6 map it flattens (224 and 227 for ``alexnet_cv``).

``groups=2`` splits conv2, conv4 and conv5 of ``alexnet`` into the paper's two
GPU halves (grouped convolutions: 1,413,120 fewer parameters, 60,965,224).
"""

from __future__ import annotations

from keras import layers

from kerascnn.layers.conv import Conv2D
from kerascnn.layers.lrn import ALEXNET_LRN, LocalResponseNormalization
from kerascnn.layers.pooling import AdaptiveAveragePooling2D, CeilPooling2D
from kerascnn.models.common import (
    build_input,
    channel_axis,
    check_arguments,
    check_rate,
    classifier_head,
    dense_classifier,
    finish_model,
)
from kerascnn.models.variants import Variant, register_variants

__all__ = ["AlexNetFamily", "AlexNet", "AlexNetOWT", "ZFNet", "AlexNetCV", "ZFNetCV"]

_LRN_ORDERS = ("before_pool", "after_pool")

PAPER = ("ImageNet Classification with Deep Convolutional Neural Networks", 2012)
OWT_PAPER = ("One weird trick for parallelizing convolutional neural networks", 2014)
ZF_PAPER = ("Visualizing and Understanding Convolutional Networks", 2013)

# (filters, kernel, stride, explicit zero padding or "same", max-pool padding after
# it or None, LRN on this convolution, grouped by the two-GPU split)
CONFIGS = {
    "alexnet": dict(
        input=(227, 227, 3), min_size=67, lrn=True, lrn_order="before_pool",
        convs=[(96, 11, 4, 0, "valid", True, False), (256, 5, 1, "same", "valid", True, True),
               (384, 3, 1, "same", None, False, False), (384, 3, 1, "same", None, False, True),
               (256, 3, 1, "same", "valid", False, True)]),
    "alexnet_owt": dict(
        input=(224, 224, 3), min_size=63, lrn=False, lrn_order="after_pool", torchvision=True,
        convs=[(64, 11, 4, 2, "valid", False, False), (192, 5, 1, "same", "valid", False, False),
               (384, 3, 1, "same", None, False, False), (256, 3, 1, "same", None, False, False),
               (256, 3, 1, "same", "valid", False, False)]),
    "zfnet": dict(
        input=(224, 224, 3), min_size=53, lrn=True, lrn_order="after_pool",
        convs=[(96, 7, 2, 1, "same", True, False), (256, 5, 2, 0, "same", True, False),
               (384, 3, 1, "same", None, False, False), (384, 3, 1, "same", None, False, False),
               (256, 3, 1, "same", "valid", False, False)]),
}
# pytorchcv's ``alexnet`` and ``zfnet`` (the layouts of its ImageNet weights): the papers'
# channels at 224x224, LRN before pooling with PyTorch's ``local_response_norm`` (Caffe's
# convention: alpha divided by the window, k=2), 3x3/2 max pooling in ceil mode; the head
# takes any input size that gives the 6x6 map it flattens (as pytorchcv's does).
CONFIGS["alexnet_cv"] = dict(CONFIGS["alexnet"], input=(224, 224, 3), pool_ceil_mode=True,
                             lrn_alpha_per_window=True, flexible_top=True)
CONFIGS["zfnet_cv"] = dict(CONFIGS["zfnet"], lrn_order="before_pool", pool_ceil_mode=True,
                           lrn_alpha_per_window=True, flexible_top=True)


def AlexNetFamily(include_top=True, weights=None, input_tensor=None, input_shape=None,
                  pooling=None, classes=1000, classifier_activation="softmax", name="alexnet",
                  variant="alexnet", groups=1, dropout=0.5, lrn=None, lrn_order=None,
                  adaptive_pooling=None, pool_ceil_mode=None, lrn_alpha_per_window=None):
    """Builds AlexNet, its one-weird-trick variant or ZFNet (``variant``, a CONFIGS key).

    ``adaptive_pooling``: None (the variant's: True for ``alexnet_owt``, torchvision's
    ``AdaptiveAvgPool2d((6, 6))`` before the flatten), True or False.
    """
    if variant not in CONFIGS:
        raise ValueError(f"`variant` must be one of {', '.join(CONFIGS)}; got variant={variant!r}.")
    config = CONFIGS[variant]
    check_arguments(weights, include_top, classes, pooling, classifier_activation)
    if groups not in (1, 2):
        raise ValueError(f"`groups` must be 1 or 2; got groups={groups!r}.")
    check_rate(dropout, "dropout")
    use_lrn = config["lrn"] if lrn is None else bool(lrn)
    if lrn_order is None:
        lrn_order = config["lrn_order"]
    if lrn_order not in _LRN_ORDERS:
        raise ValueError("`lrn_order` must be None, 'before_pool' or 'after_pool'; "
                         f"got lrn_order={lrn_order!r}.")
    torchvision = config.get("torchvision", False)
    if adaptive_pooling is None:
        adaptive_pooling = torchvision
    if not isinstance(adaptive_pooling, bool):
        raise ValueError("`adaptive_pooling` must be None, True or False; "
                         f"got adaptive_pooling={adaptive_pooling!r}.")
    if pool_ceil_mode is None:
        pool_ceil_mode = config.get("pool_ceil_mode", False)
    if lrn_alpha_per_window is None:
        lrn_alpha_per_window = config.get("lrn_alpha_per_window", False)
    lrn_args = dict(ALEXNET_LRN, alpha_per_window=bool(lrn_alpha_per_window))
    flexible_top = config.get("flexible_top", False) and not adaptive_pooling
    img_input = build_input(input_tensor, input_shape, default_shape=config["input"],
                            min_size=config["min_size"], include_top=include_top,
                            weights=weights, fixed_size=not (adaptive_pooling or flexible_top))
    x = img_input
    for i, (filters, kernel, stride, pad, pool, norm, grouped) in enumerate(config["convs"], 1):
        if isinstance(pad, int):
            if pad:
                x = layers.ZeroPadding2D(pad, name=f"conv{i}_pad")(x)
            pad = "valid"
        x = Conv2D(filters, kernel, strides=stride, padding=pad,
                   groups=groups if grouped else 1, activation="relu",
                   name=f"conv{i}")(x)
        if norm and use_lrn and lrn_order == "before_pool":
            x = LocalResponseNormalization(**lrn_args, axis=channel_axis(), name=f"lrn{i}")(x)
        if pool is not None and pool_ceil_mode:
            x = CeilPooling2D("max", 3, strides=2, ceil_mode=True, name=f"pool{i}")(x)
        elif pool is not None:
            x = layers.MaxPooling2D(3, strides=2, padding=pool, name=f"pool{i}")(x)
        if norm and use_lrn and lrn_order == "after_pool":
            x = LocalResponseNormalization(**lrn_args, axis=channel_axis(), name=f"lrn{i}")(x)
    if include_top and adaptive_pooling:
        if None in tuple(x.shape[1:3] if channel_axis() == -1 else x.shape[2:4]):
            raise ValueError("With include_top=True the adaptive pooling needs a known input "
                             f"size; got input_shape={tuple(img_input.shape[1:])}.")
        x = AdaptiveAveragePooling2D((6, 6), name="avgpool")(x)
    if include_top and flexible_top:
        spatial = tuple(x.shape[1:3] if channel_axis() == -1 else x.shape[2:4])
        if spatial != (6, 6):
            raise ValueError("With include_top=True the input must give the 6x6 map the "
                             f"classifier flattens (e.g. {config['input']}); got "
                             f"input_shape={tuple(img_input.shape[1:])}, a {spatial} map.")
    if include_top and torchvision:
        # torchvision's classifier: dropout, fc6, ReLU, dropout, fc7, ReLU, classifier.
        x = layers.Flatten(name="flatten")(x)
        for i in (6, 7):
            if dropout:
                x = layers.Dropout(dropout, name=f"dropout{i}")(x)
            x = layers.Dense(4096, activation="relu", name=f"fc{i}")(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    elif include_top:
        x = dense_classifier(x, classes, classifier_activation, names=("fc6", "fc7"),
                             dropout=dropout)
    else:
        x = classifier_head(x, False, pooling, classes, classifier_activation)
    return finish_model(img_input, input_tensor, x, name, weights)


_DOC = """Instantiates {summary}.

    {title} ({year}).

    Args:
        include_top: include the three fully connected layers (the input must then
            have the default size: the last pooled map is flattened; any size with
            ``adaptive_pooling``, the default of ``alexnet_owt``; any size giving a 6x6
            map for the ``_cv`` layouts).
        weights: {weights}; ``alexnet_owt`` reads torchvision's ImageNet weights, the
            ``_cv`` layouts pytorchcv's.
        input_tensor: optional Keras tensor to use as image input.
        input_shape: optional (height, width, channels); default {input}, minimum
            {min_size}x{min_size} without the top.
        pooling: None, ``"avg"`` or ``"max"`` when ``include_top=False``.
        classes: number of classes.
        classifier_activation: activation of the classifier (None for logits).
        name: model name.
        groups: 2 for the two-GPU grouped conv2/4/5 (1: full connectivity; AlexNet).
        dropout: dropout rate (0.5; 0 removes it): after fc6 and fc7 (before fc6 and
            fc7 in ``alexnet_owt``, as torchvision).
        lrn: override the variant's local response normalization (None keeps it).
        lrn_order: ``"before_pool"`` (conv, LRN, pool: AlexNet's paper, the
            ``alexnet`` default) or ``"after_pool"`` (conv, pool, LRN: ZFNet's paper,
            the ``zfnet`` default); None keeps the variant's.
        adaptive_pooling: average pooling to 6x6 before the flatten (torchvision's
            ``AdaptiveAvgPool2d``); None keeps the variant's (True in ``alexnet_owt``).
        pool_ceil_mode: 3x3/2 max pooling with PyTorch's ``ceil_mode`` (None keeps the
            variant's: True for the ``_cv`` layouts).
        lrn_alpha_per_window: LRN ``alpha`` divided by the window (Caffe's and PyTorch's
            ``local_response_norm`` convention; None keeps the variant's: True for the
            ``_cv`` layouts).

    Returns:
        A ``keras.Model``.
    """

VARIANTS = (
    Variant("alexnet", "AlexNet", dict(variant="alexnet"), PAPER,
            "paper channels 96-256-384-384-256, full connectivity (groups=2 for the two-GPU "
            "split), LRN before pooling (section 3.5), biases, no BN",
            default_input=CONFIGS["alexnet"]["input"], min_size=CONFIGS["alexnet"]["min_size"],
            summary="AlexNet (96-256-384-384-256, 227x227 input)"),
    Variant("alexnet_owt", "AlexNetOWT", dict(variant="alexnet_owt"), OWT_PAPER,
            "torchvision's alexnet: 64-192-384-256-256, no LRN, adaptive 6x6 pooling and "
            "dropout before fc6 and fc7",
            default_input=CONFIGS["alexnet_owt"]["input"],
            min_size=CONFIGS["alexnet_owt"]["min_size"],
            summary='the single-tower AlexNet of "One weird trick" (64-192-384-256-256, no LRN)'),
    Variant("zfnet", "ZFNet", dict(variant="zfnet"), ZF_PAPER,
            "paper: 7x7/2 and 5x5/2 first convolutions, LRN after pooling (figure 3), biases",
            default_input=CONFIGS["zfnet"]["input"], min_size=CONFIGS["zfnet"]["min_size"],
            summary="ZFNet (7x7/2 first convolution, 5x5/2 second)"),
)


_CV_NOTE = ("pytorchcv's {} layout: LRN before pooling with alpha per window (PyTorch's "
            "local_response_norm, k=2), 3x3/2 max pooling in ceil mode, biases, no BN")
VARIANTS += (
    Variant("alexnet_cv", "AlexNetCV", dict(variant="alexnet_cv"), PAPER,
            _CV_NOTE.format("alexnet") + ", 224x224 input (any size giving a 6x6 map)",
            default_input=CONFIGS["alexnet_cv"]["input"],
            min_size=CONFIGS["alexnet_cv"]["min_size"],
            summary="AlexNet in pytorchcv's layout (96-256-384-384-256, ceil-mode pooling, "
                    "Caffe's LRN convention)"),
    Variant("zfnet_cv", "ZFNetCV", dict(variant="zfnet_cv"), ZF_PAPER,
            _CV_NOTE.format("zfnet") + ", 224x224 input (any size giving a 6x6 map)",
            default_input=CONFIGS["zfnet_cv"]["input"], min_size=CONFIGS["zfnet_cv"]["min_size"],
            summary="ZFNet in pytorchcv's layout (LRN before ceil-mode pooling, Caffe's LRN "
                    "convention)"),
)

_OPTIONS = ("dropout", "lrn", "lrn_order", "adaptive_pooling", "pool_ceil_mode",
            "lrn_alpha_per_window")
REGISTERED = {}
REGISTERED.update(register_variants(AlexNetFamily, VARIANTS[:1], family="alexnet", doc=_DOC,
                  options=("groups",) + _OPTIONS, recipe="alexnet",
                  paper_recipe="alexnet",
                  module=__name__))
REGISTERED.update(register_variants(AlexNetFamily, VARIANTS[1:], family="alexnet", doc=_DOC,
                  options=_OPTIONS, recipe="alexnet",
                  paper_recipe="alexnet",
                  module=__name__))
AlexNet = REGISTERED["alexnet"]
AlexNetOWT = REGISTERED["alexnet_owt"]
ZFNet = REGISTERED["zfnet"]
AlexNetCV = REGISTERED["alexnet_cv"]
ZFNetCV = REGISTERED["zfnet_cv"]
