"""Channel conversion inside a model: grayscale to RGB and RGB to grayscale."""

from __future__ import annotations

import keras

__all__ = ["ChannelConversion", "GRAY_WEIGHTS"]

# ITU-R BT.601 luma, as tf.image.rgb_to_grayscale
GRAY_WEIGHTS = (0.2989, 0.587, 0.114)


@keras.saving.register_keras_serializable(package="kerascnn")
class ChannelConversion(keras.layers.Layer):
    """Turns 1-channel images into ``channels=3`` (repeated) or 3-channel images into
    ``channels=1`` (BT.601 luma); channels_last. Lets a model trained on RGB take
    grayscale images as they are, and the reverse."""

    def __init__(self, channels, **kwargs):
        super().__init__(**kwargs)
        if channels not in (1, 3):
            raise ValueError(f"ChannelConversion: channels must be 1 or 3; got {channels!r}.")
        self.channels = int(channels)

    def call(self, inputs):
        in_channels = inputs.shape[-1]
        if in_channels == self.channels:
            return inputs
        if self.channels == 3:
            return keras.ops.repeat(inputs, 3, axis=-1)
        weights = keras.ops.convert_to_tensor(GRAY_WEIGHTS, dtype=inputs.dtype)
        return keras.ops.sum(inputs * weights, axis=-1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.channels,)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}
