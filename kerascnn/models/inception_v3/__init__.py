"""Inception v3 (Szegedy et al., "Rethinking the Inception Architecture for
Computer Vision", CVPR 2016).

The family's folder: ``model.py`` (builder, variant table), its weight sets
(``weights_<publisher>.py``).
"""

from kerascnn.models.inception_v3 import (  # noqa: F401  (registers the family's weight sets)
    weights_torchvision,
)
from kerascnn.models.inception_v3.model import (
    InceptionV3,
    InceptionV3TV,
)

__all__ = ["InceptionV3", "InceptionV3TV"]
