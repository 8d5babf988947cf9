"""Per-channel affine transform (a learned scale and bias).

The ``dense_fast_block`` of the Lasagne book chapter "Classifying images with residual networks" (after the Lasagne DenseNet recipe of Huang et
al., "Densely Connected Convolutional Networks", CVPR 2017) normalizes every
new feature map once, with a BatchNormalization that has no scale nor offset,
and lets each consumer learn only a scale and a bias of the concatenated,
already normalized features (``ScaleLayer`` + ``BiasLayer`` in Lasagne) in
place of a second BatchNormalization.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["Affine"]


@keras.saving.register_keras_serializable(package="kerascnn")
class Affine(keras.layers.Layer):
    """``y = x * scale + bias`` with one scale and one bias per channel.

    Args:
        axis: the channel axis (-1 for channels_last, 1 for channels_first).
        scale_initializer: initializer of the scale (ones).
        bias_initializer: initializer of the bias (zeros).
    """

    def __init__(self, axis=-1, scale_initializer="ones", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axis, int):
            raise ValueError(f"`axis` must be an integer; got axis={axis!r}.")
        self.axis = axis
        self.scale_initializer = keras.initializers.get(scale_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        channels = input_shape[self.axis]
        if channels is None:
            raise ValueError("Affine needs a known channel dimension; got input shape "
                             f"{tuple(input_shape)}.")
        self.scale = self.add_weight(shape=(channels,), initializer=self.scale_initializer,
                                     name="scale")
        self.bias = self.add_weight(shape=(channels,), initializer=self.bias_initializer,
                                    name="bias")

    def _broadcast(self, w, rank):
        axis = self.axis % rank
        shape = [1] * rank
        shape[axis] = w.shape[0]
        return ops.reshape(w, shape)

    def call(self, inputs):
        rank = len(inputs.shape)
        scale = ops.cast(self._broadcast(self.scale, rank), inputs.dtype)
        bias = ops.cast(self._broadcast(self.bias, rank), inputs.dtype)
        return inputs * scale + bias

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({
            "axis": self.axis,
            "scale_initializer": keras.initializers.serialize(self.scale_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        })
        return config
