"""Custom layers that Keras itself lacks."""

__all__ = []
from kerascnn.layers.affine import Affine  # noqa: E402
from kerascnn.layers.dense import ConcatNormReLUConv  # noqa: E402

__all__ += ["Affine", "ConcatNormReLUConv"]
