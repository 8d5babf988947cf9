"""Custom layers that Keras itself lacks."""

from kerascnn.layers.stochastic_depth import StochasticDepth, survival_probabilities
from kerascnn.layers.zero_pad_shortcut import ZeroPadShortcut

__all__ = ["StochasticDepth", "ZeroPadShortcut", "survival_probabilities"]
