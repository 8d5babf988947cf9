"""Functional-API block builders (``tensor -> tensor``), one module per idea."""

from kerascnn.blocks.residual import convolutional_block, identity_block

__all__ = ["identity_block", "convolutional_block"]
from kerascnn.blocks.dense import dense_block, dense_fast_block, transition  # noqa: E402

__all__ += ["dense_block", "dense_fast_block", "transition"]
from kerascnn.blocks.conv_variants import (  # noqa: E402
    asymmetric_conv,
    depthwise_separable_conv,
    small_kernel_stack,
)
from kerascnn.blocks.fire import fire_module  # noqa: E402

__all__ += ["fire_module", "asymmetric_conv", "small_kernel_stack", "depthwise_separable_conv"]
