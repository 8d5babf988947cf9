"""GoogLeNet / Inception v1 (Szegedy et al., "Going Deeper with Convolutions",
CVPR 2015) and BN-Inception / Inception v2 (Ioffe & Szegedy, "Batch
Normalization: Accelerating Deep Network Training by Reducing Internal Covariate
Shift", ICML 2015).

The family's folder: ``model.py`` (builder, variant table), ``blocks.py`` (its own
blocks), its weight sets (``weights_<publisher>.py``).
"""

from kerascnn.models.googlenet import (  # noqa: F401  (registers the family's weight sets)
    weights_pytorchcv,
)
from kerascnn.models.googlenet.blocks import (
    bn_inception_module,
    inception_naive,
    inception_v1,
)
from kerascnn.models.googlenet.model import (
    BNInception,
    BNInceptionCV,
    GoogLeNet,
)

__all__ = ["GoogLeNet", "BNInception", "BNInceptionCV", "inception_naive", "inception_v1",
           "bn_inception_module"]
