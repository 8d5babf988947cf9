"""Custom layers that Keras itself lacks."""

__all__ = []
from kerascnn.layers.affine import Affine  # noqa: E402
from kerascnn.layers.dense import ConcatNormReLUConv  # noqa: E402

__all__ += ["Affine", "ConcatNormReLUConv"]
from kerascnn.layers.conv_variants import ChannelShuffle, LocallyConnected2D, TiledConv2D  # noqa: E402,E501

__all__ += ["LocallyConnected2D", "TiledConv2D", "ChannelShuffle"]
