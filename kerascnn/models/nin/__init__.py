"""Network in Network (Lin, Chen & Yan, "Network In Network", ICLR 2014).

The family's folder: ``model.py`` (builder, variant table), ``blocks.py`` (its own
blocks), its weight sets (``weights_<publisher>.py``).
"""

from kerascnn.models.nin import (  # noqa: F401  (registers the family's weight sets)
    weights_pytorchcv,
)
from kerascnn.models.nin.blocks import (
    nin_block,
)
from kerascnn.models.nin.model import (
    NiN,
    NiNCIFAR,
    NiNCIFARCV,
)

__all__ = ["NiN", "NiNCIFAR", "NiNCIFARCV", "nin_block"]
