"""MobileNet v1 (Howard et al., "MobileNets: Efficient Convolutional Neural
Networks for Mobile Vision Applications", 2017), built from depthwise
separable convolutions (Howard et al., "MobileNets", 2017).

The family's folder: ``model.py`` (builder, variant table), its weight sets
(``weights_<publisher>.py``).
"""

from kerascnn.models.mobilenet.model import (
    MobileNet,
)

__all__ = ["MobileNet"]
