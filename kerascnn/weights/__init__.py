"""Pretrained weights: weight sets as data, conversion from PyTorch checkpoints.

* :mod:`kerascnn.weights.core`: :class:`WeightSet`, :class:`StateDict`, the role-by-role
  assignment helpers and the registries of weight sets and converters.
* :mod:`kerascnn.weights.sources`: one module per publisher and family.
"""

from kerascnn.weights.core import (  # noqa: F401
    StateDict,
    WeightsError,
    WeightSet,
    read_state_dict,
    weight_sets,
)
