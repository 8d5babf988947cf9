"""Functional-API block builders (``tensor -> tensor``) that two or more families share, one
module per idea.

A block only one family uses lives in that family's folder
(``kerascnn/models/<family>/blocks.py``: ``fire_module`` in ``kerascnn.models.squeezenet``,
``dense_block`` in ``kerascnn.models.densenet``, ...).
"""

from kerascnn.blocks.auxiliary import googlenet_aux_head, inception_v3_aux_head
from kerascnn.blocks.common import conv_bn
from kerascnn.blocks.conv_variants import (
    asymmetric_conv,
    depthwise_separable_conv,
    small_kernel_stack,
)
from kerascnn.blocks.inception_v3 import (
    inception_v3_a,
    inception_v3_b,
    inception_v3_c,
    inception_v3_reduction_a,
    inception_v3_reduction_b,
    inception_v3_stem,
)
from kerascnn.blocks.residual import (
    BlockOptions,
    basic_block,
    bottleneck_block,
    convolutional_block,
    identity_block,
    preact_block,
    residual_block,
)
from kerascnn.blocks.se import se_block

__all__ = [
    "identity_block", "convolutional_block", "residual_block", "basic_block",
    "bottleneck_block", "preact_block", "BlockOptions", "se_block", "conv_bn",
    "asymmetric_conv", "small_kernel_stack", "depthwise_separable_conv",
    "googlenet_aux_head", "inception_v3_aux_head",
    "inception_v3_stem", "inception_v3_a", "inception_v3_reduction_a", "inception_v3_b",
    "inception_v3_reduction_b", "inception_v3_c",
]
