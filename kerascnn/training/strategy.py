"""Distribution of a training run over devices and machines.

TensorFlow backend:

* ``auto``: ``tf.distribute.MirroredStrategy`` when more than one GPU is
  visible, else the default single-device strategy;
* ``default``: one device; ``mirrored``: all local GPUs (or the logical CPU
  devices a test configured);
* ``multiworker``: ``tf.distribute.MultiWorkerMirroredStrategy`` configured from
  the ``TF_CONFIG`` environment variable, the same command on every machine.

Under a multi-replica strategy every BatchNormalization layer computes its batch
statistics across replicas (``synchronized=True``): the statistics are those of
the global batch, as on one device. The global batch (``--batch-size``) is split
evenly across replicas.

JAX backend: ``keras.distribution.DataParallel`` over all local devices when
there are several (the batch is sharded across devices and the step is one
SPMD program, so BatchNormalization sees the global batch as well).

torch backend: one device (Keras' default: the GPU when there is one); ``mirrored`` and
``multiworker`` are refused.
"""

from __future__ import annotations

import contextlib
import json
import os

import keras

__all__ = ["STRATEGIES", "get_strategy", "sync_batchnorm", "num_replicas", "num_workers",
           "is_chief", "task_index", "scope"]

STRATEGIES = ("auto", "default", "mirrored", "multiworker")


class JaxDataParallel:
    """What the engine needs of a strategy, for the JAX backend."""

    def __init__(self, devices):
        self.devices = devices
        self.num_replicas_in_sync = len(devices)
        if len(devices) > 1:
            keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))

    @contextlib.contextmanager
    def scope(self):
        yield


class OneDevice:
    """What the engine needs of a strategy, for the torch backend: Keras' default device."""

    num_replicas_in_sync = 1

    @contextlib.contextmanager
    def scope(self):
        yield


def get_strategy(name: str = "auto"):
    """Returns the strategy called ``name`` (see the module docstring)."""
    if name not in STRATEGIES:
        raise ValueError(f"Unknown strategy {name!r}; allowed: {', '.join(STRATEGIES)}.")
    if keras.backend.backend() == "torch":
        if name in ("mirrored", "multiworker"):
            raise ValueError(f"--strategy {name} needs the TensorFlow backend (mirrored: or "
                             "JAX); the torch backend trains on one device (auto, default).")
        return OneDevice()
    if keras.backend.backend() == "jax":
        import jax

        if name == "multiworker":
            raise ValueError("--strategy multiworker needs the TensorFlow backend.")
        devices = jax.devices() if name in ("auto", "mirrored") else jax.devices()[:1]
        return JaxDataParallel(devices)
    import tensorflow as tf

    if name == "auto":
        name = "mirrored" if len(tf.config.list_logical_devices("GPU")) > 1 else "default"
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        cpus = tf.config.list_logical_devices("CPU")
        devices = [d.name for d in gpus] if gpus else [d.name for d in cpus]
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("--strategy multiworker needs TF_CONFIG (cluster and task) in the "
                             "environment; see the README.")
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def scope(strategy):
    return strategy.scope()


def num_replicas(strategy) -> int:
    return int(getattr(strategy, "num_replicas_in_sync", 1))


def _tf_config() -> dict:
    try:
        return json.loads(os.environ.get("TF_CONFIG", "{}"))
    except json.JSONDecodeError:
        return {}


def _multiworker(strategy) -> bool:
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def num_workers(strategy) -> int:
    if not _multiworker(strategy):
        return 1
    cluster = _tf_config().get("cluster", {})
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def task_index() -> int:
    return int(_tf_config().get("task", {}).get("index", 0))


def is_chief(strategy) -> bool:
    """The worker that writes the run's files (worker 0, or the chief task)."""
    if not _multiworker(strategy):
        return True
    task = _tf_config().get("task", {})
    if "chief" in _tf_config().get("cluster", {}):
        return task.get("type") == "chief"
    return task.get("type", "worker") == "worker" and int(task.get("index", 0)) == 0


def sync_batchnorm(model) -> int:
    """Makes every BatchNormalization layer of ``model`` synchronize across replicas.

    Returns the number of layers changed. Only the TensorFlow backend needs it:
    ``BatchNormalization.synchronized`` is read at call time there.
    """
    if keras.backend.backend() != "tensorflow":
        return 0
    changed = 0
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization) and not layer.synchronized:
            layer.synchronized = True
            changed += 1
    return changed
