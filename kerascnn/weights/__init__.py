"""Pretrained weights: weight sets as data, conversion from PyTorch checkpoints.

* :mod:`kerascnn.weights.core`: :class:`WeightSet`, :class:`StateDict`, the role-by-role
  assignment helpers and the registries of weight sets and converters.
* :mod:`kerascnn.weights.torchvision`, :mod:`kerascnn.weights.pytorchcv`: what the
  converters and weight sets of one publisher share across families.
* :mod:`kerascnn.weights.sources`: :func:`~kerascnn.weights.sources.load_all`, which imports
  the weight modules of the family folders (``kerascnn/models/<family>/weights_*.py``, one
  per publisher) and keras.applications' twins.
"""

from kerascnn.weights.core import (  # noqa: F401
    StateDict,
    WeightsError,
    WeightSet,
    read_state_dict,
    weight_sets,
)
