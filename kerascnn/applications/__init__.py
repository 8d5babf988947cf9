"""Architectures with the keras.applications signature, one module per family.

Importing a family module registers its variants in :mod:`kerascnn.registry`.
"""

from kerascnn.applications.resnet import ResNet50, ResNet101, ResNet152

__all__ = ["ResNet50", "ResNet101", "ResNet152"]

from kerascnn.applications.cifar_resnet import CifarResNet  # noqa: E402
from kerascnn.applications.resnet import (  # noqa: E402
    ResNet18,
    ResNet34,
    ResNeXt50_32x4d,
    ResNeXt101_32x8d,
    ResNeXt101_64x4d,
    SENet154,
    SEResNet50,
    SEResNet101,
    SEResNet152,
    SEResNeXt50_32x4d,
    WideResNet50_2,
    WideResNet101_2,
)
from kerascnn.applications.resnet_v2 import (  # noqa: E402
    ResNet50V2,
    ResNet101V2,
    ResNet152V2,
    ResNet200V2,
)

__all__ += ["ResNet18", "ResNet34", "WideResNet50_2", "WideResNet101_2", "ResNeXt50_32x4d",
            "ResNeXt101_32x8d", "ResNeXt101_64x4d", "SEResNet50", "SEResNet101", "SEResNet152",
            "SEResNeXt50_32x4d", "SENet154", "ResNet50V2", "ResNet101V2", "ResNet152V2",
            "ResNet200V2", "CifarResNet"]
