"""Utilities: weight transfer, atomic file writes, MAC counting, receptive fields.

Importing this package is cheap (its names are imported on first use), so that a low-level
module may use :mod:`kerascnn.utils.io` without pulling in Keras.
"""

from kerascnn._lazy import lazy_getattr

__all__ = ["transfer_weights", "atomic_write", "write_json_atomic", "count_macs",
           "receptive_field"]

__getattr__ = lazy_getattr("kerascnn.utils", {
    "transfer_weights": "kerascnn.weights.transfer",
    "atomic_write": "kerascnn.utils.io",
    "write_json_atomic": "kerascnn.utils.io",
    "count_macs": "kerascnn.utils.macs",
    "receptive_field": "kerascnn.utils.receptive_field",
})
