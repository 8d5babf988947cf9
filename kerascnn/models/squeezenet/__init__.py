"""SqueezeNet 1.0 and 1.1 (Iandola et al., "SqueezeNet: AlexNet-level accuracy
with 50x fewer parameters and <0.5MB model size", 2016).

The family's folder: ``model.py`` (builder, variant table), ``blocks.py`` (its own
blocks), its weight sets (``weights_<publisher>.py``).
"""

from kerascnn.models.squeezenet import (  # noqa: F401  (registers the family's weight sets)
    weights_torchvision,
)
from kerascnn.models.squeezenet.blocks import (
    fire_module,
)
from kerascnn.models.squeezenet.model import (
    SqueezeNet,
    SqueezeNet1_0,
    SqueezeNet1_1,
)

__all__ = ["SqueezeNet", "SqueezeNet1_0", "SqueezeNet1_1", "fire_module"]
