"""Architectures with the keras.applications signature, one module per family.

Importing a family module registers its variants in :mod:`kerascnn.registry`.
"""

from kerascnn.applications.resnet import ResNet50, ResNet101, ResNet152

__all__ = ["ResNet50", "ResNet101", "ResNet152"]
from kerascnn.applications.densenet import (  # noqa: E402
    DenseNet121,
    DenseNet161,
    DenseNet169,
    DenseNet201,
    DenseNet264,
    DenseNetCIFAR,
)

__all__ += ["DenseNet121", "DenseNet161", "DenseNet169", "DenseNet201", "DenseNet264",
            "DenseNetCIFAR"]
from kerascnn.applications.mobilenet import MobileNet  # noqa: E402
from kerascnn.applications.shufflenet import ShuffleNet  # noqa: E402
from kerascnn.applications.squeezenet import SqueezeNet1_0, SqueezeNet1_1  # noqa: E402

__all__ += ["MobileNet", "ShuffleNet", "SqueezeNet1_0", "SqueezeNet1_1"]
