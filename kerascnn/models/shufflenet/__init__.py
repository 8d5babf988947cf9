"""ShuffleNet v1 (Zhang et al., "ShuffleNet: An Extremely Efficient
Convolutional Neural Network for Mobile Devices", CVPR 2018).

The family's folder: ``model.py`` (builder, variant table), ``blocks.py`` (its own
blocks), its weight sets (``weights_<publisher>.py``).
"""

from kerascnn.models.shufflenet import (  # noqa: F401  (registers the family's weight sets)
    weights_pytorchcv,
)
from kerascnn.models.shufflenet.blocks import (
    shufflenet_unit,
)
from kerascnn.models.shufflenet.model import (
    ShuffleNet,
    ShuffleNetG1,
    ShuffleNetG2,
    ShuffleNetG3,
    ShuffleNetG4,
    ShuffleNetG8,
)

__all__ = ["ShuffleNet", "ShuffleNetG1", "ShuffleNetG2", "ShuffleNetG3",
           "ShuffleNetG4", "ShuffleNetG8", "shufflenet_unit"]
