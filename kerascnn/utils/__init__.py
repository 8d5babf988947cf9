"""Utilities: weight transfer, atomic file writes, MAC counting, receptive fields."""

from kerascnn.utils.io import atomic_write, write_json_atomic
from kerascnn.utils.macs import count_macs
from kerascnn.utils.receptive_field import receptive_field
from kerascnn.utils.transfer import transfer_weights

__all__ = ["transfer_weights", "atomic_write", "write_json_atomic"]
__all__ += ["count_macs"]
__all__ += ["receptive_field"]
