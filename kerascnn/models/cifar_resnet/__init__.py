"""Residual networks for 32x32 images: the CIFAR ResNets of He et al. ("Deep
Residual Learning for Image Recognition", 2015, section 4.2), their
pre-activation versions (He et al., "Identity Mappings in Deep Residual
Networks", 2016), Wide ResNets (Zagoruyko & Komodakis, "Wide Residual
Networks", 2016) and ResNeXt-29 (Xie et al., 2017), all one constructor:
the Lasagne CIFAR recipe's ``model(shape, n, num_filters, num_classes, width, block)``.

The family's folder: ``model.py`` (builder, variant table), its weight sets
(``weights_<publisher>.py``).
"""

from kerascnn.models.cifar_resnet import (  # noqa: F401  (registers the family's weight sets)
    weights_pytorchcv,
)
from kerascnn.models.cifar_resnet.model import (
    CifarResNet,
    PreActResNet164CIFAR,
    PreActResNet1001CIFAR,
    ResNet20CIFAR_B,
    ResNet56CIFAR_B,
    ResNet110CIFAR_B,
    ResNeXt29_8x64dCIFAR,
    WideResNet28_10CIFAR,
)

__all__ = ["CifarResNet", "PreActResNet164CIFAR", "PreActResNet1001CIFAR", "ResNeXt29_8x64dCIFAR",
           "ResNet20CIFAR_B", "ResNet56CIFAR_B", "ResNet110CIFAR_B", "WideResNet28_10CIFAR"]
