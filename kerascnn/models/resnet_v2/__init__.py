"""ResNet v2, full pre-activation (He et al., "Identity Mappings in Deep Residual
Networks", ECCV 2016).

The family's folder: ``model.py`` (builder, variant table), its weight sets
(``weights_<publisher>.py``).
"""

from kerascnn.models.resnet_v2.model import (
    ResNet50V2,
    ResNet101V2,
    ResNet152V2,
    ResNet200V2,
    ResNetV2,
)

__all__ = ["ResNetV2", "ResNet50V2", "ResNet101V2", "ResNet152V2", "ResNet200V2"]
