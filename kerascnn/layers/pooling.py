"""Max pooling with PyTorch's and Caffe's ceil rounding of the output size.

Caffe's pooling layers (and PyTorch's ``MaxPool2d(..., ceil_mode=True)``, the
"legacy" stem of the SE-ResNets released by the SENet authors, SqueezeNet, GoogLeNet)
round the number of windows up, ``out = ceil((n + 2p - k) / s) + 1``: the last window
may hang over the bottom/right edge and only sees the pixels inside. Keras' ``"valid"``
rounds down and ``"same"`` pads on both sides, so neither gives the same windows at
every input size.
"""

from __future__ import annotations

import math

import keras
from keras import ops

__all__ = ["CeilMaxPooling2D", "ceil_pool_output_size"]


def _pair(value, name):
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    if (not isinstance(value, (tuple, list)) or len(value) != 2 or
            not all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        raise ValueError(f"`{name}` must be an integer or a pair of integers; got {name}={value!r}.")
    return tuple(value)


def ceil_pool_output_size(size, pool_size, strides, padding=0):
    """PyTorch's output size of a ceil-mode pooling along one axis (None if ``size`` is).

    ``ceil((size + 2 * padding - pool_size) / strides) + 1``, less one when the last
    window would start inside the right-hand padding (PyTorch's rule).
    """
    if size is None:
        return None
    out = math.ceil((size + 2 * padding - pool_size) / strides) + 1
    if (out - 1) * strides >= size + padding:
        out -= 1
    return max(out, 0)


@keras.saving.register_keras_serializable(package="kerascnn")
class CeilMaxPooling2D(keras.layers.Layer):
    """2D max pooling whose output size is rounded up (``ceil_mode=True``).

    The input is padded with ``-inf``: ``padding`` pixels on every side (PyTorch's
    ``padding``), plus, at the bottom and right, just what the last window needs
    (computed from the static size; ``strides - 1`` pixels when the size is unknown
    until run time, which gives the same windows); then a ``"valid"`` max pooling.
    Padded pixels never win a window, so each window is the maximum of the input
    pixels it covers.

    Args:
        pool_size: window size (an integer or a pair).
        strides: stride (an integer or a pair; default ``pool_size``).
        padding: implicit padding on every side, as PyTorch's (at most half the
            window).
        data_format: ``"channels_last"`` or ``"channels_first"`` (default: keras'
            image data format).
    """

    def __init__(self, pool_size=2, strides=None, padding=0, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = _pair(pool_size, "pool_size")
        self.strides = _pair(pool_size if strides is None else strides, "strides")
        self.padding = _pair(padding, "padding")
        if min(self.pool_size) < 1 or min(self.strides) < 1:
            raise ValueError("`pool_size` and `strides` must be positive; got "
                             f"pool_size={self.pool_size}, strides={self.strides}.")
        if any(p < 0 or 2 * p > k for p, k in zip(self.padding, self.pool_size)):
            raise ValueError("`padding` must be between 0 and half the window; got "
                             f"padding={self.padding}, pool_size={self.pool_size}.")
        self.data_format = data_format or keras.config.image_data_format()

    def _spatial_axes(self):
        return (1, 2) if self.data_format == "channels_last" else (2, 3)

    def _extra(self, size, k, s, p):
        """Pixels added at the bottom/right beyond ``p``."""
        if size is None:
            if k < s + p:  # PyTorch may drop a window that starts in the padding
                raise ValueError(
                    f"CeilMaxPooling2D with pool_size={self.pool_size}, strides={self.strides}, "
                    f"padding={self.padding} needs a known input size.")
            return s - 1
        out = ceil_pool_output_size(size, k, s, p)
        return max(0, (out - 1) * s + k - (size + 2 * p))

    def build(self, input_shape):
        for axis, k, s, p in zip(self._spatial_axes(), self.pool_size, self.strides,
                                 self.padding):
            self._extra(input_shape[axis], k, s, p)  # validates
        self.built = True

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for axis, k, s, p in zip(self._spatial_axes(), self.pool_size, self.strides,
                                 self.padding):
            shape[axis] = ceil_pool_output_size(shape[axis], k, s, p)
        return tuple(shape)

    def call(self, inputs):
        pad = [[0, 0] for _ in range(4)]
        for axis, k, s, p in zip(self._spatial_axes(), self.pool_size, self.strides,
                                 self.padding):
            pad[axis] = [p, p + self._extra(inputs.shape[axis], k, s, p)]
        x = inputs
        if any(before or after for before, after in pad):
            x = ops.pad(inputs, pad, constant_values=float("-inf"))
        return ops.max_pool(x, self.pool_size, strides=self.strides, padding="valid",
                            data_format=self.data_format)

    def get_config(self):
        config = super().get_config()
        config.update({"pool_size": self.pool_size, "strides": self.strides,
                       "padding": self.padding, "data_format": self.data_format})
        return config
