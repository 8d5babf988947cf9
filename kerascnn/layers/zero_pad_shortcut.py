"""The parameter-free shortcut of ResNet option A (He et al., "Deep Residual
Learning for Image Recognition", 2015, section 3.3): spatial subsampling by the
stride and zero channels added on both sides up to the block's width."""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["ZeroPadShortcut"]


@keras.saving.register_keras_serializable(package="kerascnn")
class ZeroPadShortcut(keras.layers.Layer):
    """Identity shortcut for a block that changes the shape, without weights.

    Takes every ``strides``-th pixel (``x[:, ::s, ::s, :]``) and pads the
    channels with zeros, ``(filters - C) // 2`` before and the rest after (the
    original CIFAR implementation pads ``filters // 4`` on each side when the
    width doubles).

    Args:
        filters: output channels (at least the input's).
        strides: spatial subsampling factor.
        data_format: ``"channels_last"`` or ``"channels_first"`` (default: keras'
            image data format).
    """

    def __init__(self, filters, strides=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if not (isinstance(filters, int) and filters >= 1):
            raise ValueError(f"`filters` must be a positive integer; got filters={filters!r}.")
        if not (isinstance(strides, int) and strides >= 1):
            raise ValueError(f"`strides` must be a positive integer; got strides={strides!r}.")
        self.filters = filters
        self.strides = strides
        self.data_format = data_format or keras.config.image_data_format()

    def _channel_axis(self):
        return -1 if self.data_format == "channels_last" else 1

    def build(self, input_shape):
        channels = input_shape[self._channel_axis()]
        if channels is not None and channels > self.filters:
            raise ValueError(
                f"ZeroPadShortcut cannot reduce {channels} channels to filters={self.filters}."
            )
        self.built = True

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        spatial = (1, 2) if self.data_format == "channels_last" else (2, 3)
        for axis in spatial:
            if shape[axis] is not None:
                shape[axis] = (shape[axis] + self.strides - 1) // self.strides
        shape[self._channel_axis() % 4] = self.filters
        return tuple(shape)

    def call(self, inputs):
        s = self.strides
        if self.data_format == "channels_last":
            x = inputs[:, ::s, ::s, :] if s > 1 else inputs
            channels = x.shape[-1]
            before = (self.filters - channels) // 2
            pad = [[0, 0], [0, 0], [0, 0], [before, self.filters - channels - before]]
        else:
            x = inputs[:, :, ::s, ::s] if s > 1 else inputs
            channels = x.shape[1]
            before = (self.filters - channels) // 2
            pad = [[0, 0], [before, self.filters - channels - before], [0, 0], [0, 0]]
        if channels == self.filters:
            return x
        return ops.pad(x, pad)

    def get_config(self):
        config = super().get_config()
        config.update({"filters": self.filters, "strides": self.strides,
                       "data_format": self.data_format})
        return config
