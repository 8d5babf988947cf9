"""The scaled residual sum of Inception-ResNet (Szegedy et al., "Inception-v4,
Inception-ResNet and the Impact of Residual Connections on Learning", AAAI 2017):
``shortcut + scale * residual``.
"""

from __future__ import annotations

import keras

__all__ = ["CustomScaleLayer"]


@keras.saving.register_keras_serializable(package="kerascnn")
class CustomScaleLayer(keras.layers.Layer):
    """Returns ``inputs[0] + inputs[1] * scale`` (no weights).

    Scaling the residual (0.1-0.3) before the sum keeps very wide residual
    Inception networks from dying early in training (Szegedy et al. 2016). The class
    keeps keras.applications' name so that kerascnn's Inception-ResNet-v2 has
    exactly the graph of ``keras.applications.InceptionResNetV2`` (structural
    weight transfer compares operation types).

    Args:
        scale: the residual's scaling factor.
    """

    def __init__(self, scale, **kwargs):
        super().__init__(**kwargs)
        self.scale = float(scale)

    def call(self, inputs):
        shortcut, residual = inputs
        return shortcut + residual * self.scale

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        config = super().get_config()
        config.update({"scale": self.scale})
        return config
