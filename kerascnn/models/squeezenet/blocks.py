"""The Fire module of SqueezeNet (Iandola et al., "SqueezeNet: AlexNet-level
accuracy with 50x fewer parameters and <0.5MB model size", 2016).

squeeze 1x1 (s1x1 filters) -> ReLU -> expand: 1x1 (e1x1) and 3x3 same-padded
(e3x3), each ReLU, concatenated. All convolutions have biases and no BN. The
paper's bypass variants add the module's input to its output: "simple"
(identity, only where input and output channels are equal) and "complex"
(a 1x1 convolution on the shortcut where they differ).
"""

from __future__ import annotations

from keras import layers

from kerascnn.blocks.common import channel_axis, check_positive_ints
from kerascnn.layers.conv import Conv2D

__all__ = ["fire_module"]

_BYPASS = (None, "simple", "complex")


def fire_module(x, s1x1, e1x1, e3x3, *, name="fire", bypass=None):
    """Fire module: squeeze 1x1 -> (expand 1x1 || expand 3x3), concatenated.

    Args:
        x: input tensor.
        s1x1, e1x1, e3x3: filters of the squeeze 1x1, expand 1x1 and expand
            3x3 convolutions (output channels e1x1 + e3x3).
        name: prefix of the layer names (``{name}_squeeze1x1``, ...).
        bypass: None, ``"simple"`` (identity shortcut; needs input channels
            equal to e1x1 + e3x3) or ``"complex"`` (identity where the
            channels match, else a 1x1 convolution ``{name}_bypass``).

    Returns:
        Output tensor with ``e1x1 + e3x3`` channels.
    """
    check_positive_ints(s1x1=s1x1, e1x1=e1x1, e3x3=e3x3)
    if bypass not in _BYPASS:
        raise ValueError(f"`bypass` must be None, 'simple' or 'complex'; got bypass={bypass!r}.")
    channels_in = x.shape[channel_axis()]
    channels_out = e1x1 + e3x3
    if bypass == "simple" and channels_in != channels_out:
        raise ValueError(f"A simple bypass needs input channels equal to e1x1 + e3x3 = "
                         f"{channels_out}; got {channels_in}.")
    s = Conv2D(s1x1, 1, activation="relu", name=f"{name}_squeeze1x1")(x)
    a = Conv2D(e1x1, 1, activation="relu", name=f"{name}_expand1x1")(s)
    b = Conv2D(e3x3, 3, padding="same", activation="relu", name=f"{name}_expand3x3")(s)
    y = layers.Concatenate(axis=channel_axis(), name=f"{name}_concat")([a, b])
    if bypass is None:
        return y
    shortcut = x
    if channels_in != channels_out:
        shortcut = Conv2D(channels_out, 1, name=f"{name}_bypass")(x)
    return layers.Add(name=f"{name}_add")([y, shortcut])
