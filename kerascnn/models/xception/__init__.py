"""Xception (Chollet, "Xception: Deep Learning with Depthwise Separable
Convolutions", CVPR 2017).

The family's folder: ``model.py`` (builder, variant table), ``blocks.py`` (its own
blocks), its weight sets (``weights_<publisher>.py``).
"""

from kerascnn.models.xception.blocks import (
    xception_entry_flow,
    xception_exit_flow,
    xception_middle_flow,
)
from kerascnn.models.xception.model import (
    Xception,
)

__all__ = ["Xception", "xception_entry_flow", "xception_middle_flow", "xception_exit_flow"]
