"""ImageNet residual networks with post-activation blocks: ResNet v1 (He et al.,
"Deep Residual Learning for Image Recognition", CVPR 2016; arXiv 1512.03385),
Wide ResNet (Zagoruyko & Komodakis, "Wide Residual Networks", 2016), ResNeXt
(Xie et al., "Aggregated Residual Transformations for Deep Neural Networks",
CVPR 2017) and SENet (Hu et al., "Squeeze-and-Excitation Networks", CVPR 2018).

The family's folder: ``model.py`` (builder, variant table), its weight sets
(``weights_<publisher>.py``).
"""

from kerascnn.models.resnet import (  # noqa: F401  (registers the family's weight sets)
    weights_timm,
    weights_torchvision,
)
from kerascnn.models.resnet.model import (
    ResNet,
    ResNet18,
    ResNet34,
    ResNet50,
    ResNet50TV,
    ResNet101,
    ResNet101TV,
    ResNet152,
    ResNet152TV,
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

__all__ = ["ResNet", "ResNet18", "ResNet34", "ResNet50", "ResNet101", "ResNet152", "ResNet50TV",
           "ResNet101TV", "ResNet152TV", "WideResNet50_2", "WideResNet101_2", "ResNeXt50_32x4d",
           "ResNeXt101_32x8d", "ResNeXt101_64x4d", "SEResNet50", "SEResNet101", "SEResNet152",
           "SEResNeXt50_32x4d", "SENet154"]
