"""DenseNet (Huang et al., "Densely Connected Convolutional Networks", CVPR
2017; arXiv 1608.06993).

ImageNet models (DenseNet-BC, k=32 unless said, theta=0.5, 7x7/2 stem with 2k
channels, 3x3/2 max pooling, four dense blocks, BN-ReLU, global average
pooling, classifier), built with keras.applications' graph (same layers,
padding, BN epsilon 1.001e-5, no convolution biases) so that
densenet121/169/201 are identical to their keras twins:

=========== ==== ================ =====================
name          k   layers/block     count_params (1000)
=========== ==== ================ =====================
densenet121  32   6, 12, 24, 16    8,062,504
densenet169  32   6, 12, 32, 32    14,307,880
densenet201  32   6, 12, 48, 32    20,242,984
densenet161  48   6, 12, 36, 24    (trainable 28,681,000)
densenet264  32   6, 12, 64, 48    (trainable 33,337,704)
=========== ==== ================ =====================

CIFAR models (32x32 inputs, 10 classes by default): a 3x3 convolution, three
dense blocks with transitions (BN-ReLU-Conv1x1-AvgPool) between them, BN-ReLU,
global average pooling and the classifier.

* ``densenet{L}_cifar``: (L-4)/3 layers BN-ReLU-Conv3x3 per block, 16 initial
  channels, no compression;
* ``densenet_bc{L}_cifar``: (L-4)/6 bottleneck layers per block, 2k initial
  channels, theta=0.5;
* ``..._k{k}_cifar`` names any growth rate (``densenet100_k24_cifar``).

A name without ``_k`` is the network the paper's table 2 reports at that depth:

====================== ===== ==== ============== =============
name                    L     k    paper          trainable
====================== ===== ==== ============== =============
densenet40_cifar        40    12   1.0 M          1,019,722
densenet100_cifar       100   12   7.0 M          6,979,642
densenet100_k24_cifar   100   24   27.2 M         27,249,082
densenet_bc100_cifar    100   12   0.8 M          769,162
densenet_bc250_cifar    250   24   15.3 M         15,324,406
densenet_bc190_cifar    190   40   25.6 M         25,624,430
====================== ===== ==== ============== =============

``block="dense_fast"`` builds the Lasagne recipe's variant (Affine instead of the
consumers' BatchNormalization, one scale/offset-free BN per new feature map;
same trainable count). The Lasagne CIFAR recipe's command-line flags are accepted: ``n``
(depth L = 3n+1, so ``--n=13`` is DenseNet-40), ``num_filters`` (initial
channels), ``block`` and ``growth_rate``.

``memory_efficient=True`` (Pleiss et al., every DenseNet) recomputes each
layer's concatenation, BN and ReLU (and the bottleneck 1x1 convolution) during
backpropagation; outputs and gradients are those of the plain model with the
same weights (:func:`copy_weights_by_name` copies them between the two).
"""

from __future__ import annotations

from keras import layers

from kerascnn.layers.affine import Affine
from kerascnn.layers.conv import Conv2D
from kerascnn.layers.dense import ConcatNormReLUConv
from kerascnn.models.common import (
    BN_EPSILON,
    build_input,
    channel_axis,
    check_arguments,
    check_positive_int,
    check_rate,
    classifier_head,
    finish_model,
    keras_twin_loader,
)
from kerascnn.models.densenet.blocks import _as_list, dense_features, transition
from kerascnn.models.variants import KerasTwin, Variant, pattern_member, register_variants
from kerascnn.registry import register_pattern

# and one constructor per row of VARIANTS (register_variants)
__all__ = ["DenseNet", "DenseNetCIFAR", "copy_weights_by_name", "DenseNet121", "DenseNet169",
           "DenseNet201", "DenseNet161", "DenseNet264", "DenseNet121TV", "DenseNet169TV",
           "DenseNet201TV", "DenseNet161TV", "DenseNetBC100CIFARCV", "DenseNetBC190CIFARCV"]

PAPER = ("Densely Connected Convolutional Networks", 2017)

# name: (layers per block, growth rate, keras twin, keras weights file prefix)
IMAGENET = {
    121: ((6, 12, 24, 16), 32, KerasTwin("DenseNet121", "densenet121", "densenet", top1=75.0,
                                         license="densenet", mode="torch",
                                         md5="9d60b8095a5708f2dcce2bca79d332c7",
                                         md5_notop="30ee3e1110167f948a6b9946edeeb738")),
    169: ((6, 12, 32, 32), 32, KerasTwin("DenseNet169", "densenet169", "densenet", top1=76.2,
                                         license="densenet", mode="torch",
                                         md5="d699b8f76981ab1b30698df4c175e90b",
                                         md5_notop="b8c4d4c20dd625c148057b9ff1c1176b")),
    201: ((6, 12, 48, 32), 32, KerasTwin("DenseNet201", "densenet201", "densenet", top1=77.3,
                                         license="densenet", mode="torch",
                                         md5="1ceb130c1ea1b78c3bf6114dbdfd8807",
                                         md5_notop="c13680b51ded0fb44dff2d8f86ac8bb1")),
    161: ((6, 12, 36, 24), 48, None),
    264: ((6, 12, 64, 48), 32, None),
}
_BLOCKS = ("dense", "dense_fast")
# torchvision's ImageNet DenseNets (``densenet{depth}_tv``: BatchNorm2d's epsilon 1e-5).
TORCHVISION = (121, 161, 169, 201)
TORCH_BN_EPSILON = 1e-5


def _check_options(growth_rate, compression, block, memory_efficient, dropout_rate):
    check_positive_int(growth_rate, "growth_rate")
    if isinstance(compression, bool) or not isinstance(compression, (int, float)) or \
            not 0.0 < compression <= 1.0:
        raise ValueError(f"`compression` must be in (0, 1]; got compression={compression!r}.")
    if block not in _BLOCKS:
        raise ValueError(f"`block` must be 'dense' or 'dense_fast'; got block={block!r}.")
    if not isinstance(memory_efficient, bool):
        raise ValueError(f"`memory_efficient` must be True or False; got {memory_efficient!r}.")
    check_rate(dropout_rate, "dropout_rate")


def DenseNet(
    blocks,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="densenet",
    growth_rate=32,
    bottleneck=True,
    compression=0.5,
    init_channels=None,
    stem="imagenet",
    block="dense",
    memory_efficient=False,
    dropout_rate=0.0,
    bn_epsilon=BN_EPSILON,
    keras_twin=None,
    weights_file=None,
):
    """Builds a DenseNet from its number of layers per dense block.

    Args:
        blocks: layers per dense block (4 for ImageNet, 3 for CIFAR).
        include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation, name: as keras.applications.
        growth_rate: k.
        bottleneck: DenseNet-B layers (BN-ReLU-Conv1x1(4k)-BN-ReLU-Conv3x3).
        compression: theta of the transitions (1.0: no compression).
        init_channels: channels of the stem convolution (default 2k).
        stem: ``"imagenet"`` (7x7/2 conv, BN, ReLU, 3x3/2 max pool) or
            ``"cifar"`` (one 3x3 conv).
        block: ``"dense"`` or the Lasagne CIFAR recipe's ``"dense_fast"``.
        memory_efficient: recompute concat-BN-ReLU(-Conv1x1) in backward.
        dropout_rate: dropout after each convolution of the blocks/transitions.
        keras_twin: the identical keras.applications constructor (ImageNet
            weights), or None.
        weights_file: keras' weights file prefix.
        bn_epsilon: epsilon of every BatchNormalization (keras' 1.001e-5; PyTorch's 1e-5
            for the ``_tv`` and ``_cv`` layouts).

    Returns:
        A ``keras.Model``.
    """
    check_arguments(weights, include_top, classes, pooling, classifier_activation,
                    imagenet_available=keras_twin is not None)
    _check_options(growth_rate, compression, block, memory_efficient, dropout_rate)
    if stem not in ("imagenet", "cifar"):
        raise ValueError(f"`stem` must be 'imagenet' or 'cifar'; got stem={stem!r}.")
    if not isinstance(blocks, (list, tuple)) or not blocks or not all(
            isinstance(b, int) and not isinstance(b, bool) and b >= 1 for b in blocks):
        raise ValueError(f"`blocks` must be positive integers (layers per block); got {blocks!r}.")
    if weights == "imagenet" and (block != "dense" or dropout_rate):
        raise ValueError("weights='imagenet' needs block='dense' and dropout_rate=0.")
    if init_channels is None:
        init_channels = 2 * growth_rate
    check_positive_int(init_channels, "init_channels")
    if isinstance(bn_epsilon, bool) or not isinstance(bn_epsilon, (int, float)) or \
            not bn_epsilon > 0:
        raise ValueError(f"`bn_epsilon` must be a positive number; got bn_epsilon={bn_epsilon!r}.")
    fast = block == "dense_fast"
    axis = channel_axis()
    if stem == "imagenet":
        img_input = build_input(input_tensor, input_shape, default_shape=(224, 224, 3),
                                min_size=32, include_top=include_top, weights=weights)
        x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(img_input)
        x = Conv2D(init_channels, 7, strides=2, use_bias=False, name="conv1_conv")(x)
        x = layers.BatchNormalization(axis=axis, epsilon=bn_epsilon, name="conv1_bn")(x)
        x = layers.Activation("relu", name="conv1_relu")(x)
        x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
        x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    else:
        img_input = build_input(input_tensor, input_shape, default_shape=(32, 32, 3),
                                min_size=2 ** (len(blocks) - 1), include_top=include_top,
                                weights=weights)
        x = Conv2D(init_channels, 3, padding="same", use_bias=False,
                   name="conv1_conv")(img_input)
        if fast:
            x = layers.BatchNormalization(axis=axis, epsilon=bn_epsilon, center=False,
                                          scale=False, name="conv1_bn")(x)

    features = [x]
    for b, num_layers in enumerate(blocks):
        features = dense_features(
            features, num_layers, growth_rate, bottleneck, name=f"conv{b + 2}", fast=fast,
            memory_efficient=memory_efficient, dropout_rate=dropout_rate, epsilon=bn_epsilon)
        if b < len(blocks) - 1:
            features = [transition(features, compression, name=f"pool{b + 2}", fast=fast,
                                   memory_efficient=memory_efficient,
                                   dropout_rate=dropout_rate, epsilon=bn_epsilon)]

    final_norm = "scale" if fast else "bn"
    if memory_efficient:
        x = ConcatNormReLUConv(None, norm="affine" if fast else "batch", axis=axis,
                               epsilon=bn_epsilon, name="final_remat",
                               norm_name=final_norm)(features if len(features) > 1
                                                     else features[0])
    else:
        x = _as_list(features)[0]
        if fast:
            x = Affine(axis=axis, name=final_norm)(x)
        else:
            x = layers.BatchNormalization(axis=axis, epsilon=bn_epsilon, name=final_norm)(x)
        x = layers.Activation("relu", name="relu")(x)

    x = classifier_head(x, include_top, pooling, classes, classifier_activation)

    imagenet_loader = keras_twin_loader(
        keras_twin, weights_file, include_top, classes=classes,
        classifier_activation=classifier_activation, pooling=pooling)

    return finish_model(img_input, input_tensor, x, name, weights, imagenet_loader)


_TV_CONVENTION = ("DenseNet-BC k={k}, theta=0.5, torchvision.models.densenet layout (no conv "
                  "biases, BN epsilon 1e-5)")
_IMAGENET_CONVENTION = ("DenseNet-BC k={k}, theta=0.5, keras.applications graph (no conv biases, "
                        "BN epsilon 1.001e-5)")

VARIANTS = tuple(
    Variant(f"densenet{depth}", f"DenseNet{depth}",
            dict(blocks=blocks, growth_rate=k, bottleneck=True, compression=0.5,
                 stem="imagenet"),
            PAPER, _IMAGENET_CONVENTION.format(k=k), keras_twin=twin,
            summary=f"DenseNet-{depth} (DenseNet-BC, k={k}, theta=0.5, {blocks} layers per "
                    "dense block)")
    for depth, (blocks, k, twin) in IMAGENET.items()
) + tuple(
    # torchvision's DenseNets: the same graph (symmetric stem padding, zero-padded max
    # pooling after a ReLU, concatenation order, 2x2 average pooling transitions), BN
    # epsilon 1e-5 instead of keras' 1.001e-5.
    Variant(f"densenet{depth}_tv", f"DenseNet{depth}TV",
            dict(blocks=blocks, growth_rate=k, bottleneck=True, compression=0.5,
                 stem="imagenet", bn_epsilon=TORCH_BN_EPSILON),
            PAPER, _TV_CONVENTION.format(k=k),
            summary=f"DenseNet-{depth} in torchvision's layout (DenseNet-BC, k={k}, "
                    f"theta=0.5, {blocks} layers per dense block, BN epsilon 1e-5)")
    for depth, (blocks, k, _) in IMAGENET.items() if depth in TORCHVISION
)

_DOC = """Instantiates {summary}.

    Huang et al., "{title}", CVPR {year}.

    Args:
        include_top: whether to include the global-pool + Dense classifier.
        weights: {weights}.
        input_tensor: optional Keras tensor to use as image input.
        input_shape: optional (height, width, channels); default {input}.
        pooling: None, ``"avg"`` or ``"max"`` when ``include_top=False``.
        classes: number of classes of the classifier.
        classifier_activation: activation of the classifier (None for logits).
        name: model name.
        memory_efficient: recompute concat-BN-ReLU-Conv1x1 in backward (Pleiss et al.,
            "Memory-Efficient Implementation of DenseNets").
        block: ``"dense"`` or ``"dense_fast"`` (Affine-normalised consumers, one
            scale/offset-free BN per new feature map).
        dropout_rate: dropout after each convolution.

    Returns:
        A ``keras.Model``.
    """


REGISTERED = {}
REGISTERED.update(register_variants(DenseNet, VARIANTS, family="densenet", doc=_DOC,
                  twin_arguments=True, options=("memory_efficient", "block", "dropout_rate"),
                  recipe="densenet", paper_recipe="densenet_cifar",
                  module=__name__))


def DenseNetCIFAR(include_top=True, weights=None, input_tensor=None, input_shape=None,
                  pooling=None, classes=10, classifier_activation="softmax",
                  name="densenet_cifar", depth=40, growth_rate=12, bc=False,
                  compression=None, init_channels=None, block="dense",
                  memory_efficient=False, dropout_rate=0.0, n=None, num_filters=None,
                  width=1, bn_epsilon=BN_EPSILON):
    """DenseNet for CIFAR (three dense blocks on 32x32 inputs).

    Huang et al., "Densely Connected Convolutional Networks", CVPR 2017, §4.

    Args:
        include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation, name: as keras.applications (default input
            (32, 32, 3), 10 classes).
        depth: L; (L-4)/3 layers per block, or (L-4)/6 bottleneck layers with
            ``bc``.
        growth_rate: k (12).
        bc: DenseNet-BC (bottleneck layers, compression 0.5, 2k initial
            channels) instead of DenseNet (16 initial channels, no compression).
        compression: theta (default 0.5 with ``bc``, else 1.0).
        init_channels: channels of the first convolution.
        block: ``"dense"`` or the Lasagne CIFAR recipe's ``"dense_fast"``.
        memory_efficient: recompute concat-BN-ReLU(-Conv1x1) in backward (§8.4).
        dropout_rate: dropout after each convolution (0.2 in the paper without
            augmentation).
        n: the Lasagne CIFAR recipe's ``--n``: depth L = 3n+1 (``n=13``: DenseNet-40); overrides
            ``depth``.
        num_filters: the Lasagne CIFAR recipe's ``--num_filters``: the initial channels.
        width: the Lasagne CIFAR recipe's ``--width``; DenseNet's width is its growth rate, so
            only 1 is accepted.
        bn_epsilon: epsilon of every BatchNormalization (1.001e-5; the ``_cv`` layouts:
            PyTorch's 1e-5).

    Returns:
        A ``keras.Model``.
    """
    if width != 1:
        raise ValueError(f"DenseNet has no `width` multiplier (use growth_rate); "
                         f"width must be 1, got width={width!r}.")
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 2:
            raise ValueError(f"`n` must be an integer >= 2 (depth 3n+1); got n={n!r}.")
        depth = 3 * n + 1
    if num_filters is not None:
        init_channels = num_filters
    per = 6 if bc else 3
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 4 + per or \
            (depth - 4) % per:
        form = "6m+4" if bc else "3m+4"
        raise ValueError(f"`depth` must be {form} with m >= 1 for "
                         f"{'DenseNet-BC' if bc else 'DenseNet'}; got depth={depth!r}.")
    layers_per_block = (depth - 4) // per
    if compression is None:
        compression = 0.5 if bc else 1.0
    if init_channels is None:
        init_channels = 2 * growth_rate if bc else 16
    return DenseNet((layers_per_block,) * 3, include_top=include_top, weights=weights,
                    input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
                    classes=classes, classifier_activation=classifier_activation, name=name,
                    growth_rate=growth_rate, bottleneck=bc, compression=compression,
                    init_channels=init_channels, stem="cifar", block=block,
                    memory_efficient=memory_efficient, dropout_rate=dropout_rate,
                    bn_epsilon=bn_epsilon)


# pytorchcv's CIFAR DenseNet-BC layouts (its CIFAR-10 weights): the paper's networks with
# PyTorch's BN epsilon 1e-5. Named rows, so that ``weights=`` reads their checkpoints.
_CIFAR_CV_DOC = """Instantiates {summary}.

    Huang et al., "{title}", CVPR {year}, in pytorchcv's layout (BN epsilon 1e-5).

    Args:
        include_top, input_tensor, pooling, classifier_activation, name: as
            keras.applications.
        weights: {weights}.
        input_shape: optional (height, width, channels); default {input}.
        classes: number of classes ({classes}).
        dropout_rate: dropout after each convolution.
        bn_epsilon: epsilon of every BatchNormalization (1e-5).

    Returns:
        A ``keras.Model``.
    """

CIFAR_CV_VARIANTS = tuple(
    Variant(f"densenet_bc{depth}_cifar_cv", f"DenseNetBC{depth}CIFARCV",
            dict(depth=depth, growth_rate=k, bc=True, bn_epsilon=1e-5), PAPER,
            f"pytorchcv's densenet{depth}_k{k}_bc_cifar10 layout: DenseNet-BC, k={k}, "
            "theta=0.5, 2k initial channels, BN epsilon 1e-5",
            default_input=(32, 32, 3), min_size=4, classes=10, builder=DenseNetCIFAR,
            options=("dropout_rate", "bn_epsilon"),
            summary=f"DenseNet-BC (L={depth}, k={k}) for CIFAR in pytorchcv's layout")
    for depth, k in ((100, 12), (190, 40))
)
REGISTERED.update(register_variants(None, CIFAR_CV_VARIANTS, family="densenet", doc=_CIFAR_CV_DOC,
                  module=__name__))
DenseNet121 = REGISTERED["densenet121"]
DenseNet169 = REGISTERED["densenet169"]
DenseNet201 = REGISTERED["densenet201"]
DenseNet161 = REGISTERED["densenet161"]
DenseNet264 = REGISTERED["densenet264"]
DenseNet121TV = REGISTERED["densenet121_tv"]
DenseNet169TV = REGISTERED["densenet169_tv"]
DenseNet201TV = REGISTERED["densenet201_tv"]
DenseNet161TV = REGISTERED["densenet161_tv"]
DenseNetBC100CIFARCV = REGISTERED["densenet_bc100_cifar_cv"]
DenseNetBC190CIFARCV = REGISTERED["densenet_bc190_cifar_cv"]
VARIANTS = VARIANTS + CIFAR_CV_VARIANTS


def copy_weights_by_name(src, dst):
    """Copies weights between two DenseNets that differ only in ``memory_efficient``.

    The recomputed layers keep the names of the plain model's BN and
    convolution layers as sublayers, so every weighted layer is matched by
    name. Returns the number of layers copied; ValueError if any is missing.
    """
    from kerascnn.weights.transfer import copy_weights_by_name as copy

    return len(copy(src, dst, nested=True, same_layers=True))


# ---------------------------------------------------------------- registration
# The growth rate each CIFAR depth has in the paper's table 2, (bc, depth): k. A name
# without ``_k`` is the paper's network of that depth (the first row where a depth has
# two: DenseNet L=100 is k=12, its k=24 row is ``densenet100_k24_cifar``); a depth
# the table lacks uses the paper's base growth rate, 12.
CIFAR_GROWTH_RATES = {
    (False, 40): 12,
    (False, 100): 12,
    (True, 100): 12,
    (True, 250): 24,
    (True, 190): 40,
}
CIFAR_TABLE_NAMES = ("densenet40_cifar", "densenet100_cifar", "densenet100_k24_cifar",
                     "densenet_bc100_cifar", "densenet_bc250_cifar", "densenet_bc190_cifar")


def _cifar_factory(match):
    bc, depth = bool(match.group(1)), int(match.group(2))
    per = 6 if bc else 3
    if depth < 4 + per or (depth - 4) % per:
        return None
    k = int(match.group(3)) if match.group(3) else CIFAR_GROWTH_RATES.get((bc, depth), 12)
    if k < 1:
        return None
    convention = (f"DenseNet-BC: bottleneck layers, theta=0.5, 2k initial channels, k={k}"
                  if bc else "DenseNet: no bottleneck, no compression, 16 initial channels, "
                             f"k={k}")
    return pattern_member(match.group(0), DenseNetCIFAR, family="densenet", paper=PAPER,
                          default_input=(32, 32, 3), min_size=4, convention=convention,
                          depth=depth, bc=bc, growth_rate=k)


register_pattern(r"densenet(_bc)?([1-9][0-9]*)(?:_k([1-9][0-9]*))?_cifar", _cifar_factory,
                 examples=CIFAR_TABLE_NAMES)
