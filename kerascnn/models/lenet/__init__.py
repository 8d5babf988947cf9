"""LeNet-5 (LeCun et al., "Gradient-Based Learning Applied to Document
Recognition", Proc. IEEE 1998).

The family's folder: ``model.py`` (builder, variant table), its weight sets
(``weights_<publisher>.py``).
"""

from kerascnn.models.lenet.model import (
    LeNet5,
)

__all__ = ["LeNet5"]
