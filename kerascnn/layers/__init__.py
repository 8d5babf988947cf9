"""Custom layers that Keras itself lacks."""

from kerascnn.layers.affine import Affine
from kerascnn.layers.channels import ChannelConversion
from kerascnn.layers.conv import Conv2D, DepthwiseConv2D
from kerascnn.layers.conv_variants import ChannelShuffle, LocallyConnected2D, TiledConv2D
from kerascnn.layers.dense import ConcatNormReLUConv
from kerascnn.layers.info import DataInfo
from kerascnn.layers.lrn import LocalResponseNormalization
from kerascnn.layers.pooling import (
    AdaptiveAveragePooling2D,
    CeilMaxPooling2D,
    CeilPooling2D,
    SameAveragePooling2D,
)
from kerascnn.layers.resize import InferenceResizing, TrainEvalResizing
from kerascnn.layers.scale import CustomScaleLayer
from kerascnn.layers.standardize import ImageStandardization
from kerascnn.layers.stochastic_depth import StochasticDepth, survival_probabilities
from kerascnn.layers.zero_pad_shortcut import ZeroPadShortcut

__all__ = ["AdaptiveAveragePooling2D", "Affine", "CeilMaxPooling2D", "CeilPooling2D", "ChannelConversion", "ChannelShuffle", "ConcatNormReLUConv", "Conv2D", "DataInfo", "DepthwiseConv2D", "CustomScaleLayer",
           "ImageStandardization",
           "InferenceResizing", "LocalResponseNormalization", "LocallyConnected2D", "SameAveragePooling2D", "StochasticDepth",
           "TrainEvalResizing",
           "TiledConv2D", "ZeroPadShortcut", "survival_probabilities"]
