"""What a trained model knows of its data, carried inside the model file."""

from __future__ import annotations

import keras

__all__ = ["DataInfo"]


@keras.saving.register_keras_serializable(package="kerascnn")
class DataInfo(keras.layers.Layer):
    """An identity layer that carries the class names (and the data set's name) of the
    data a model was trained on, so that a saved model can name its predictions.

    ``model.get_layer("preprocess_info").class_names``.
    """

    def __init__(self, class_names=(), dataset=None, **kwargs):
        super().__init__(**kwargs)
        self.class_names = [str(c) for c in class_names]
        self.dataset = dataset

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "class_names": list(self.class_names),
                "dataset": self.dataset}
