"""VGG (Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale
Image Recognition", ICLR 2015).

The family's folder: ``model.py`` (builder, variant table), ``blocks.py`` (its own
blocks), its weight sets (``weights_<publisher>.py``).
"""

from kerascnn.models.vgg import (  # noqa: F401  (registers the family's weight sets)
    weights_torchvision,
)
from kerascnn.models.vgg.blocks import (
    vgg_block,
)
from kerascnn.models.vgg.model import (
    VGG,
    VGG11,
    VGG11BN,
    VGG11LRN,
    VGG13,
    VGG13BN,
    VGG16,
    VGG16BN,
    VGG16C,
    VGG16TV,
    VGG19,
    VGG19BN,
    VGG19TV,
    dense_to_fully_convolutional,
)

__all__ = ["VGG", "dense_to_fully_convolutional", "VGG11", "VGG11LRN", "VGG13", "VGG16C", "VGG16",
           "VGG19", "VGG16TV", "VGG19TV", "VGG11BN", "VGG13BN", "VGG16BN", "VGG19BN", "vgg_block"]
