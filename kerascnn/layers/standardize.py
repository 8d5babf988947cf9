"""Per-channel standardization of 0-255 images, as a weight set expects them."""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["ImageStandardization"]


@keras.saving.register_keras_serializable(package="kerascnn")
class ImageStandardization(keras.layers.Layer):
    """``(x[..., order] * scale - mean) / std`` per channel, channels last.

    Args:
        mean, std: per-channel values, in the units of ``x * scale`` and in the output's
            channel order.
        scale: the factor applied to the pixel values first (1/255: PyTorch's ToTensor).
        reverse_channels: reverse the channel order first (RGB to BGR: keras' ``"caffe"``
            preprocessing).
    """

    def __init__(self, mean, std, scale=1.0, reverse_channels=False, **kwargs):
        super().__init__(**kwargs)
        self.mean = [float(m) for m in mean]
        self.std = [float(s) for s in std]
        self.scale = float(scale)
        self.reverse_channels = bool(reverse_channels)

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        if self.reverse_channels:
            x = ops.flip(x, axis=-1)
        mean = ops.convert_to_tensor(self.mean, dtype=self.compute_dtype)
        std = ops.convert_to_tensor(self.std, dtype=self.compute_dtype)
        return (x * self.scale - mean) / std

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mean": list(self.mean), "std": list(self.std),
                "scale": self.scale, "reverse_channels": self.reverse_channels}
