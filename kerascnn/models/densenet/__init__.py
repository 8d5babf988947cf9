"""DenseNet (Huang et al., "Densely Connected Convolutional Networks", CVPR
2017; arXiv 1608.06993).

The family's folder: ``model.py`` (builder, variant table), ``blocks.py`` (its own
blocks), its weight sets (``weights_<publisher>.py``).
"""

from kerascnn.models.densenet import (  # noqa: F401  (registers the family's weight sets)
    weights_pytorchcv,
    weights_torchvision,
)
from kerascnn.models.densenet.blocks import (
    dense_block,
    dense_fast_block,
    dense_features,
    norm_relu,
    transition,
)
from kerascnn.models.densenet.model import (
    DenseNet,
    DenseNet121,
    DenseNet121TV,
    DenseNet161,
    DenseNet161TV,
    DenseNet169,
    DenseNet169TV,
    DenseNet201,
    DenseNet201TV,
    DenseNet264,
    DenseNetBC100CIFARCV,
    DenseNetBC190CIFARCV,
    DenseNetCIFAR,
    copy_weights_by_name,
)

__all__ = ["DenseNet", "DenseNetCIFAR", "copy_weights_by_name", "DenseNet121", "DenseNet169",
           "DenseNet201", "DenseNet161", "DenseNet264", "DenseNet121TV", "DenseNet169TV",
           "DenseNet201TV", "DenseNet161TV", "DenseNetBC100CIFARCV", "DenseNetBC190CIFARCV",
           "dense_block", "dense_fast_block", "transition", "dense_features", "norm_relu"]
