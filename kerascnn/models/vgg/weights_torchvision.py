"""torchvision's VGG-11/13/16/19 (with and without BN).

Layout. torchvision's VGG is ``features`` (3x3 "same" convolutions with biases, BN with
epsilon 1e-5 in the ``_bn`` models, 2x2/2 max pooling), ``AdaptiveAvgPool2d((7, 7))``,
a flatten in (channels, height, width) order and the classifier 25088-4096-4096-1000
with dropout 0.5 after fc1 and fc2. kerascnn builds it as ``vgg11``, ``vgg13``,
``vgg16_tv``, ``vgg19_tv`` and ``vgg11_bn`` .. ``vgg19_bn`` (``adaptive_pooling=True``;
``vgg16``/``vgg19`` stay keras.applications' twins, without the adaptive pooling and
the dropout). The first fully connected layer's rows are reordered from torch's
(C, H, W) flatten to keras' (H, W, C) (:func:`kerascnn.weights.core.set_dense`).

Files. The VGG sets are timm's safetensors copies of torchvision's files on the Hugging
Face hub (``vgg16.tv_in1k``); timm stores the classifier as convolutions
(``pre_logits.fc1``: a 7x7 convolution holding torchvision's ``classifier.0`` reshaped to
(4096, 512, 7, 7), ``pre_logits.fc2``: 1x1, ``head.fc``), which the converter reshapes
back: it reads both timm's keys and torchvision's own ``.pth`` keys (``classifier.0/3/6``).
Tags: ``"imagenet"`` = torchvision's ``IMAGENET1K_V1`` (their only classification sets),
top-1 as torchvision reports.
"""

from __future__ import annotations

import numpy as np

from kerascnn.blocks.common import TORCH_BN_EPSILON
from kerascnn.weights.core import (
    TIMM_HUB,
    WeightsError,
    WeightSet,
    layer,
    register_converter,
    register_weight_sets,
    set_bn,
    set_conv,
)
from kerascnn.weights.torchvision import (
    LICENSE,
    TORCHVISION,
    features_prefixes,
    published,
    set_dense_top,
)

__all__ = ["convert_vgg"]

# kerascnn name -> (torchvision name, torchvision file, top-1 of IMAGENET1K_V1).
_VGG_SETS = {
    "vgg11": ("vgg11", "vgg11-8a719046.pth", 69.02),
    "vgg13": ("vgg13", "vgg13-19584684.pth", 69.928),
    "vgg16_tv": ("vgg16", "vgg16-397923af.pth", 71.592),
    "vgg19_tv": ("vgg19", "vgg19-dcbb9e9d.pth", 72.376),
    "vgg11_bn": ("vgg11_bn", "vgg11_bn-6002323d.pth", 70.37),
    "vgg13_bn": ("vgg13_bn", "vgg13_bn-abd245e5.pth", 71.586),
    "vgg16_bn": ("vgg16_bn", "vgg16_bn-6c64b313.pth", 73.36),
    "vgg19_bn": ("vgg19_bn", "vgg19_bn-c79401a0.pth", 74.218),
}

for _name, (_tv, _file, _top1) in _VGG_SETS.items():
    register_weight_sets(_name, WeightSet(
        tag="imagenet", source=f"timm:{_tv}", url=TIMM_HUB.format(f"{_tv}.tv_in1k"),
        classes=1000, input_size=(224, 224, 3), interpolation="bilinear", license=LICENSE,
        **published(_file),
        note=(f"torchvision's {_tv} IMAGENET1K_V1 weights ({TORCHVISION.format(_file)}), from "
              f"timm's safetensors copy {_tv}.tv_in1k (classifier stored as convolutions; "
              "torchvision's .pth loads too)")))


def _reshape(sd, key, shape) -> None:
    """Gives a stored tensor another shape (timm's convolution classifier as a Linear)."""
    if key in sd:
        sd.tensors[key] = np.reshape(sd.tensors[key], shape)


def convert_vgg(sd, model, *, skip_classifier: bool = False) -> None:
    """Copies a torchvision (``features``, ``classifier.0/3/6``) or timm (``features``,
    ``pre_logits.fc1/fc2``, ``head.fc``) VGG state dict into a kerascnn VGG."""
    filled = []
    convs, bns = features_prefixes(sd)
    keras_convs = [lyr.name for lyr in model.layers if type(lyr).__name__ == "Conv2D"
                   and lyr.name.startswith("block")]
    keras_bns = [lyr.name for lyr in model.layers if type(lyr).__name__ == "BatchNormalization"]
    if len(convs) != len(keras_convs) or len(bns) != len(keras_bns):
        raise WeightsError(f"{sd.origin} has {len(convs)} convolutions and {len(bns)} BN "
                           f"layers, {model.name!r} {len(keras_convs)} and {len(keras_bns)}.")
    for name, prefix in zip(keras_convs, convs):
        set_conv(layer(model, name), sd, prefix)
        filled.append(name)
    for name, prefix in zip(keras_bns, bns):
        set_bn(layer(model, name), sd, prefix, expect_epsilon=TORCH_BN_EPSILON)
        filled.append(name)

    if "pre_logits.fc1.weight" in sd:  # timm's copy: the classifier as convolutions
        fc1, fc2, fc3 = "pre_logits.fc1", "pre_logits.fc2", "head.fc"
        _reshape(sd, f"{fc1}.weight", (sd.tensors[f"{fc1}.weight"].shape[0], -1))
        _reshape(sd, f"{fc2}.weight", (sd.tensors[f"{fc2}.weight"].shape[0], -1))
    else:
        fc1, fc2, fc3 = "classifier.0", "classifier.3", "classifier.6"
    set_dense_top(sd, model, filled, (("fc1", fc1), ("fc2", fc2)), fc3, (512, 7, 7),
                  skip_classifier)


register_converter("torchvision:vgg", convert_vgg)
register_converter("timm:vgg", convert_vgg)
