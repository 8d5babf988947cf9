"""NiN blocks (Lin et al., "Network In Network", ICLR 2014).

An mlpconv block: one spatial convolution followed by 1x1 convolutions, each
with ReLU, i.e. a small multilayer perceptron applied at every pixel.
"""

from __future__ import annotations

from keras import layers

from kerascnn.blocks.common import check_positive_int
from kerascnn.layers.conv import Conv2D

__all__ = ["nin_block"]


def nin_block(x, filters, kernel_size, strides=1, *, padding="same", mlp_filters=None,
              name="nin", final_activation=True):
    """Convolution + two (or ``len(mlp_filters)``) 1x1 convolutions, all with ReLU.

    Args:
        x: input tensor.
        filters: filters of the spatial convolution (and of the 1x1
            convolutions unless ``mlp_filters`` is given, as d2l's block).
        kernel_size: kernel size of the spatial convolution.
        strides: stride of the spatial convolution.
        padding: ``"same"`` or ``"valid"`` for the spatial convolution, or an
            integer of explicit zero padding (d2l's ``padding=2``).
        mlp_filters: filters of the 1x1 convolutions (default
            ``[filters, filters]``).
        name: prefix of the layer names (``{name}_conv``, ``{name}_mlp1``, ...).
        final_activation: ReLU after the last 1x1 convolution.

    Returns:
        Output tensor.
    """
    check_positive_int(filters, "filters")
    mlp_filters = [filters, filters] if mlp_filters is None else list(mlp_filters)
    if isinstance(padding, int):
        if padding:
            x = layers.ZeroPadding2D(padding, name=f"{name}_pad")(x)
        padding = "valid"
    elif padding not in ("same", "valid"):
        raise ValueError(
            f"`padding` must be 'same', 'valid' or an integer; got padding={padding!r}."
        )
    x = Conv2D(filters, kernel_size, strides=strides, padding=padding,
               activation="relu", name=f"{name}_conv")(x)
    for i, f in enumerate(mlp_filters, start=1):
        last = i == len(mlp_filters)
        x = Conv2D(f, 1, activation="relu" if (final_activation or not last) else None,
                   name=f"{name}_mlp{i}")(x)
    return x
