"""Utilities: weight transfer, atomic file writes, MAC counting, receptive fields."""

from kerascnn.utils.io import atomic_write, write_json_atomic
from kerascnn.utils.macs import count_macs
from kerascnn.utils.receptive_field import receptive_field
from kerascnn.weights.transfer import transfer_weights

__all__ = ["transfer_weights", "atomic_write", "write_json_atomic", "count_macs",
           "receptive_field"]
