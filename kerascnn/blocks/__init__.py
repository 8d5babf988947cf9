"""Functional-API block builders (``tensor -> tensor``), one module per idea."""

from kerascnn.blocks.residual import convolutional_block, identity_block, residual_block
from kerascnn.blocks.se import se_block

__all__ = ["identity_block", "convolutional_block"]
__all__ += ["residual_block", "se_block"]
