"""AlexNet (Krizhevsky, Sutskever & Hinton, "ImageNet Classification with Deep
Convolutional Neural Networks", NIPS 2012), its one-weird-trick variant and
ZFNet (Zeiler & Fergus, "Visualizing and Understanding Convolutional Networks",
ECCV 2014).

The family's folder: ``model.py`` (builder, variant table), its weight sets
(``weights_<publisher>.py``).
"""

from kerascnn.models.alexnet import (  # noqa: F401  (registers the family's weight sets)
    weights_pytorchcv,
    weights_torchvision,
)
from kerascnn.models.alexnet.model import (
    AlexNet,
    AlexNetCV,
    AlexNetFamily,
    AlexNetOWT,
    ZFNet,
    ZFNetCV,
)

__all__ = ["AlexNetFamily", "AlexNet", "AlexNetOWT", "ZFNet", "AlexNetCV", "ZFNetCV"]
