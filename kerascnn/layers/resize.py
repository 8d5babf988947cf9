"""Resizing inside a model that is called for inference by default."""

from __future__ import annotations

import keras

__all__ = ["InferenceResizing", "TrainEvalResizing"]


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


@keras.saving.register_keras_serializable(package="kerascnn")
class TrainEvalResizing(InferenceResizing):
    """:class:`InferenceResizing` to ``(height, width)``, and to ``(train_height,
    train_width)`` when called in training: the network trains at a lower resolution than
    it is evaluated at (Touvron et al. 2019, "Fixing the train-test resolution
    discrepancy", FixRes; torchvision's 2021 recipe trains at 176 and tests at 224).

    ``use_train_size`` (not saved) switches the training size off, so that precise
    BatchNormalization statistics are computed at the evaluation size."""

    def __init__(self, height, width, train_height, train_width, **kwargs):
        super().__init__(height, width, **kwargs)
        self.train_height, self.train_width = int(train_height), int(train_width)
        self.use_train_size = True

    def call(self, inputs, training=False):
        if training and self.use_train_size:
            return keras.ops.image.resize(
                inputs, (self.train_height, self.train_width), interpolation=self.interpolation,
                crop_to_aspect_ratio=self.crop_to_aspect_ratio, data_format=self.data_format)
        return super().call(inputs, training=False)

    def get_config(self):
        return {**super().get_config(), "train_height": self.train_height,
                "train_width": self.train_width}
