"""Distribution strategy selection (TensorFlow backend).

``auto`` picks ``tf.distribute.MirroredStrategy`` when more than one GPU is
visible and the default (single-device) strategy otherwise. Under a
multi-replica strategy every BatchNormalization layer computes its batch
statistics across replicas (``synchronized=True``), so the statistics are those
of the global batch, as on one device.
"""

from __future__ import annotations

import keras

__all__ = ["STRATEGIES", "get_strategy", "sync_batchnorm", "num_replicas"]

STRATEGIES = ("auto", "default", "mirrored")


def get_strategy(name: str = "auto"):
    """Returns a ``tf.distribute.Strategy`` for ``name`` (auto, default, mirrored)."""
    import tensorflow as tf

    if name not in STRATEGIES:
        raise ValueError(f"Unknown strategy {name!r}; allowed: {', '.join(STRATEGIES)}.")
    if name == "auto":
        name = "mirrored" if len(tf.config.list_logical_devices("GPU")) > 1 else "default"
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def num_replicas(strategy) -> int:
    return int(getattr(strategy, "num_replicas_in_sync", 1))


def sync_batchnorm(model) -> int:
    """Makes every BatchNormalization layer of ``model`` synchronize across replicas.

    Returns the number of layers changed. Only meaningful on the TensorFlow
    backend, where ``BatchNormalization.synchronized`` is read at call time.
    """
    if keras.backend.backend() != "tensorflow":
        return 0
    changed = 0
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization) and not layer.synchronized:
            layer.synchronized = True
            changed += 1
    return changed
