"""Functional-API block builders (``tensor -> tensor``), one module per idea."""

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

__all__ = ["identity_block", "convolutional_block"]
from kerascnn.blocks.auxiliary import googlenet_aux_head, inception_v3_aux_head  # noqa: E402
from kerascnn.blocks.common import conv_bn  # noqa: E402
from kerascnn.blocks.googlenet import (  # noqa: E402
    bn_inception_module,
    inception_naive,
    inception_v1,
)
from kerascnn.blocks.inception_v3 import (  # noqa: E402
    inception_v3_a,
    inception_v3_b,
    inception_v3_c,
    inception_v3_reduction_a,
    inception_v3_reduction_b,
    inception_v3_stem,
)
from kerascnn.blocks.inception_v4 import (  # noqa: E402
    inception_resnet_a,
    inception_resnet_b,
    inception_resnet_c,
    inception_resnet_reduction_b,
    inception_v4_a,
    inception_v4_b,
    inception_v4_c,
    inception_v4_reduction_b,
    inception_v4_stem,
    reduction_a,
)
from kerascnn.blocks.nin import nin_block  # noqa: E402
from kerascnn.blocks.vgg import vgg_block  # noqa: E402
from kerascnn.blocks.xception import (  # noqa: E402
    xception_entry_flow,
    xception_exit_flow,
    xception_middle_flow,
)

__all__ += ["vgg_block", "nin_block", "conv_bn", "inception_naive", "inception_v1",
            "bn_inception_module", "inception_v3_stem", "inception_v3_a", "inception_v3_reduction_a", "inception_v3_b",
            "inception_v3_reduction_b", "inception_v3_c", "inception_v4_stem", "inception_v4_a",
            "reduction_a", "inception_v4_b", "inception_v4_reduction_b", "inception_v4_c",
            "inception_resnet_a", "inception_resnet_b", "inception_resnet_c",
            "inception_resnet_reduction_b", "xception_entry_flow", "xception_middle_flow",
            "xception_exit_flow", "googlenet_aux_head", "inception_v3_aux_head"]
from kerascnn.blocks.dense import dense_block, dense_fast_block, transition  # noqa: E402

__all__ += ["dense_block", "dense_fast_block", "transition"]
from kerascnn.blocks.conv_variants import (  # noqa: E402
    asymmetric_conv,
    depthwise_separable_conv,
    small_kernel_stack,
)
from kerascnn.blocks.fire import fire_module  # noqa: E402

__all__ += ["fire_module", "asymmetric_conv", "small_kernel_stack", "depthwise_separable_conv"]
__all__ += ["residual_block", "basic_block", "bottleneck_block", "preact_block", "BlockOptions",
            "se_block"]
from kerascnn.blocks.shufflenet import shufflenet_unit  # noqa: E402

__all__ += ["shufflenet_unit"]
