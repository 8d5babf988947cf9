"""Utilities: weight transfer, atomic file writes."""

from kerascnn.utils.io import atomic_write, write_json_atomic
from kerascnn.utils.transfer import transfer_weights

__all__ = ["transfer_weights", "atomic_write", "write_json_atomic"]
