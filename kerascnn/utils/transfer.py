"""Weight transfer between two models: :mod:`kerascnn.weights.transfer`, kept importable
from here."""

from kerascnn.weights.transfer import (  # noqa: F401
    WeightCopyError,
    copy_weights_by_name,
    structural_keys,
    transfer_weights,
    weight_roles,
)

__all__ = ["transfer_weights", "structural_keys", "weight_roles", "copy_weights_by_name",
           "WeightCopyError"]
