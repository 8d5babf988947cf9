"""Inception v4 and Inception-ResNet v1 / v2 (Szegedy, Ioffe, Vanhoucke & Alemi,
"Inception-v4, Inception-ResNet and the Impact of Residual Connections on
Learning", AAAI 2017).

The family's folder: ``model.py`` (builder, variant table), ``blocks.py`` (its own
blocks), its weight sets (``weights_<publisher>.py``).
"""

from kerascnn.models.inception_v4 import (  # noqa: F401  (registers the family's weight sets)
    weights_timm,
)
from kerascnn.models.inception_v4.blocks import (
    inception_resnet_a,
    inception_resnet_b,
    inception_resnet_c,
    inception_resnet_reduction_b,
    inception_v4_a,
    inception_v4_b,
    inception_v4_c,
    inception_v4_reduction_b,
    inception_v4_stem,
    reduction_a,
)
from kerascnn.models.inception_v4.model import (
    InceptionResNetV1,
    InceptionResNetV2,
    InceptionResNetV2Timm,
    InceptionV4,
    InceptionV4Timm,
)

__all__ = ["InceptionV4", "InceptionResNetV1", "InceptionResNetV2", "InceptionV4Timm",
           "InceptionResNetV2Timm", "inception_v4_stem", "inception_v4_a", "reduction_a",
           "inception_v4_b", "inception_v4_reduction_b", "inception_v4_c", "inception_resnet_a",
           "inception_resnet_b", "inception_resnet_c", "inception_resnet_reduction_b"]
