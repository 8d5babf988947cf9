"""Squeeze-and-excitation (Hu et al., "Squeeze-and-Excitation Networks", CVPR 2018;
section 3)."""

from __future__ import annotations

from keras import layers

from kerascnn.blocks.common import channel_axis

__all__ = ["se_block"]


def se_block(x, ratio=16, name="se"):
    """Recalibrates the channels of ``x``: ``x * sigmoid(W2 relu(W1 GAP(x)))``.

    Squeeze: global average pooling to one descriptor per channel. Excitation:
    Dense ``C // ratio`` + ReLU, Dense ``C`` + sigmoid (both with biases). Scale:
    channel-wise product with ``x``. Adds ``2 C^2 / r + C / r + C`` weights.

    Args:
        x: a 4D feature map.
        ratio: the reduction ratio ``r`` (16 in the paper).
        name: prefix of the layer names (``{name}_squeeze``, ``_reduce``,
            ``_expand``, ``_reshape``, ``_scale``).

    Returns:
        A tensor of the shape of ``x``.
    """
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or ratio <= 0:
        raise ValueError(f"`se_ratio` must be None or a positive number; got se_ratio={ratio!r}.")
    channels = x.shape[channel_axis()]
    reduced = max(1, int(channels // ratio))
    s = layers.GlobalAveragePooling2D(name=f"{name}_squeeze")(x)
    s = layers.Dense(reduced, activation="relu", name=f"{name}_reduce")(s)
    s = layers.Dense(channels, activation="sigmoid", name=f"{name}_expand")(s)
    target = (1, 1, channels) if channel_axis() == -1 else (channels, 1, 1)
    s = layers.Reshape(target, name=f"{name}_reshape")(s)
    return layers.Multiply(name=f"{name}_scale")([x, s])
