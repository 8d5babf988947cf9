"""Resizing inside a model that is called for inference by default."""

from __future__ import annotations

import keras

__all__ = ["InferenceResizing"]


@keras.saving.register_keras_serializable(package="kerascnn")
class InferenceResizing(keras.layers.Resizing):
    """``keras.layers.Resizing`` whose ``training`` defaults to False.

    Keras' image preprocessing layers default to ``training=True``, and a model called
    as ``model(x)`` passes that on to the layers after them: every BatchNormalization
    then normalises with the batch's statistics (and, called eagerly, updates its moving
    statistics). With this default, ``model(x)`` is inference, as ``model.predict`` is.
    """

    def call(self, inputs, training=False):
        return super().call(inputs, training=training)
