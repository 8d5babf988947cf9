"""Pretrained weights: weight sets as data, conversion from PyTorch checkpoints.

* :mod:`kerascnn.weights.core`: :class:`WeightSet`, :class:`StateDict`, the role-by-role
  assignment helpers and the registries of weight sets and converters.
* :mod:`kerascnn.weights.torchvision`, :mod:`kerascnn.weights.pytorchcv`: what the
  converters and weight sets of one publisher share across families.
* :mod:`kerascnn.weights.keras_twins`: keras.applications' own files, declared on the
  variant rows of the keras twins.
* :mod:`kerascnn.weights.loading`: what ``weights=`` means (:func:`resolve_weights`),
  downloads into the Keras cache, checkpoints converted once.

Each family's weight sets and converters live in its folder, one module per publisher
(``kerascnn/models/<family>/weights_<publisher>.py``), registered when the family is.
"""

from kerascnn.weights.core import (  # noqa: F401
    StateDict,
    WeightsError,
    WeightSet,
    read_state_dict,
    weight_sets,
)
