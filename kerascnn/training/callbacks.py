"""Callbacks of a training run: NaN guard, crash-safe checkpoints.

:class:`RunCheckpoint` writes, at the end of every epoch, one directory
``checkpoints/epoch-NNNN/`` holding the full training state (model and optimizer
variables, ``training.weights.h5``) and, written last, ``state.json`` (epoch,
history rows so far, best validation score, epoch times, and the SHA-256 of the
weights file and of ``best.keras``). The directory is written under a temporary
name and renamed into place, so a run killed at any moment leaves only complete
checkpoints; the last two are kept. :func:`restore_checkpoint` verifies a
checkpoint before trusting it and falls back to the older one. The best model
by validation accuracy is written to ``best.keras`` the same way (temp file +
rename).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
import warnings

import keras

from kerascnn.utils.io import atomic_path

__all__ = ["NaNGuard", "RunCheckpoint", "latest_checkpoint", "load_checkpoint",
           "restore_checkpoint", "checkpoints", "file_sha256", "DamagedCheckpoint",
           "PreciseBatchNorm", "recompute_batchnorm"]


class DamagedCheckpoint(ValueError):
    """A checkpoint whose files are missing, truncated or do not match their checksum."""


def file_sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class NaNGuard(keras.callbacks.TerminateOnNaN):
    """keras' ``TerminateOnNaN`` that also remembers where the loss became non-finite
    (epoch, step), so the run can say so and never checkpoint the diverged model."""

    def __init__(self):
        super().__init__()
        self.failed_at = None  # (epoch, step), 1-based
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.failed_at = (self._epoch + 1, batch + 1)
        super().on_batch_end(batch, logs)


def checkpoints(directory) -> list:
    """``[(epoch, path)]`` of the checkpoint directories, oldest first."""
    if not os.path.isdir(directory):
        return []
    found = []
    for name in os.listdir(directory):
        if name.startswith("epoch-") and name[6:].isdigit():
            found.append((int(name[6:]), os.path.join(directory, name)))
    return sorted(found)


def latest_checkpoint(directory):
    """``(epoch, path)`` of the newest checkpoint that has its state file, or None."""
    found = [c for c in checkpoints(directory)
             if os.path.isfile(os.path.join(c[1], "state.json"))]
    return found[-1] if found else None


def _read_state(path) -> dict:
    try:
        with open(os.path.join(path, "state.json"), encoding="utf-8") as f:
            state = json.load(f)
    except FileNotFoundError:
        raise DamagedCheckpoint("no state.json") from None
    except (OSError, ValueError) as e:
        raise DamagedCheckpoint(f"state.json is unreadable ({type(e).__name__})") from None
    if not isinstance(state, dict) or not isinstance(state.get("epoch"), int):
        raise DamagedCheckpoint("state.json lacks the epoch")
    weights = os.path.join(path, "training.weights.h5")
    if not os.path.isfile(weights):
        raise DamagedCheckpoint("no training.weights.h5")
    expected = state.get("weights_sha256")
    if expected is not None and file_sha256(weights) != expected:
        raise DamagedCheckpoint("training.weights.h5 does not match its checksum")
    return state


def load_checkpoint(model, path) -> dict:
    """Restores model and optimizer variables; returns the saved state dict.

    Raises:
        DamagedCheckpoint: missing or unreadable files, or a checksum mismatch.
    """
    state = _read_state(path)
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    try:
        model.load_weights(os.path.join(path, "training.weights.h5"))
    except ValueError as e:
        if "shape" in str(e) or "expected" in str(e).lower():
            raise  # another network: not damage, the caller says so
        raise DamagedCheckpoint(f"training.weights.h5 is unreadable "
                                f"({str(e).splitlines()[0][:120]})") from None
    except OSError as e:
        raise DamagedCheckpoint(f"training.weights.h5 is unreadable "
                                f"({str(e).splitlines()[0][:120]})") from None
    return state


def restore_checkpoint(model, directory, before_load=None):
    """Loads the newest checkpoint that verifies; returns ``(epoch, path, state)`` or None.

    A damaged checkpoint (truncated or random weights file, empty or truncated
    state.json, checksum mismatch) is skipped with a one-line warning naming it,
    and the older one is tried. ``before_load(epoch)``, when given, prepares the
    model for the checkpoint of that epoch first (fine-tuning: the frozen or the
    unfrozen model, whose optimizers hold different variables).
    """
    for epoch, path in reversed(checkpoints(directory)):
        if before_load is not None:
            before_load(epoch)
        try:
            return epoch, path, load_checkpoint(model, path)
        except DamagedCheckpoint as e:
            warnings.warn(f"checkpoint {path} is damaged ({e}); trying the one before it.",
                          stacklevel=2)
    return None


class RunCheckpoint(keras.callbacks.Callback):
    """Per-epoch crash-safe checkpoints, history, the best model and early stopping.

    Early stopping counts from the checkpointed best epoch: keras' ``EarlyStopping``
    keeps its counter in memory, so a resumed run would wait longer.

    keras' ``BackupAndRestore`` restores the weights but not our (seed, epoch) data
    order's epoch nor the history and best score, so a resumed run would differ;
    this one gives bit-identical resumption (with ``--deterministic``)."""

    def __init__(self, run_dir, *, monitor="val_accuracy", state=None, guard=None, keep=2,
                 on_epoch=None, write_best=True, patience=None):
        super().__init__()
        self.run_dir = run_dir
        self.directory = os.path.join(run_dir, "checkpoints")
        self.monitor = monitor
        self.patience = patience
        self.stopped_early = None
        self.guard = guard
        self.keep = keep
        self.on_epoch = on_epoch
        self.write_best = write_best
        state = state or {}
        self.history = list(state.get("history", []))
        self.best = state.get("best")
        self.best_epoch = state.get("best_epoch")
        self.train_seconds = list(state.get("train_seconds", []))
        self.best_sha256 = state.get("best_sha256")
        self._timer_start = None

    def on_epoch_begin(self, epoch, logs=None):
        self._timer_start = time.perf_counter()
        self._last_batch = None

    def on_train_batch_end(self, batch, logs=None):
        self._last_batch = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if self.guard is not None and self.guard.failed_at is not None:
            return  # never checkpoint a diverged model
        logs = {k: float(v) for k, v in (logs or {}).items()}
        end = self._last_batch or time.perf_counter()
        self.train_seconds.append(round(end - (self._timer_start or end), 4))
        self.history.append({"epoch": epoch + 1, **logs})
        value = self._score(logs)
        if value is not None and (self.best is None or value >= self._key(self.best)):
            self.best, self.best_epoch = self._stored(value), epoch + 1
            if self.write_best:
                with atomic_path(os.path.join(self.run_dir, "best.keras")) as tmp:
                    self.model.save(tmp)
                    self.best_sha256 = file_sha256(tmp)
        self._save(epoch + 1)
        if self.on_epoch is not None:
            self.on_epoch(self)
        if (self.patience and self.best_epoch is not None
                and epoch + 1 - self.best_epoch >= self.patience):
            self.stopped_early = epoch + 1
            self.model.stop_training = True

    # The best epoch: the highest score; ties go to the later epoch. val_accuracy ties
    # are broken by the lower val_loss first. Scores are stored as a number (the
    # monitored value) plus, for accuracy, the loss: [accuracy, -loss].
    def _score(self, logs):
        if self.monitor is None or self.monitor not in logs:
            return None
        if self.monitor.endswith("loss"):
            return (-logs[self.monitor],)
        return (logs[self.monitor], -logs.get("val_loss", 0.0))

    def _key(self, stored):
        if isinstance(stored, (int, float)):  # a checkpoint of an older version
            return (stored, -math.inf) if not self.monitor.endswith("loss") else (-stored,)
        return tuple(stored)

    def _stored(self, score):
        return list(score)

    @property
    def best_value(self):
        """The monitored value of the best epoch (accuracy, or loss)."""
        if self.best is None:
            return None
        key = self._key(self.best)
        return -key[0] if self.monitor.endswith("loss") else key[0]

    def forget_best(self) -> None:
        """best.keras was lost: the next validation score becomes the best."""
        self.best = self.best_epoch = self.best_sha256 = None

    def state(self, epoch):
        return {"epoch": epoch, "history": self.history, "best": self.best,
                "best_epoch": self.best_epoch, "best_sha256": self.best_sha256,
                "train_seconds": self.train_seconds}

    def _save(self, epoch):
        os.makedirs(self.directory, exist_ok=True)
        final = os.path.join(self.directory, f"epoch-{epoch:04d}")
        tmp = os.path.join(self.directory, f".tmp-epoch-{epoch:04d}-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        try:
            weights = os.path.join(tmp, "training.weights.h5")
            self.model.save_weights(weights)
            state = {**self.state(epoch), "weights_sha256": file_sha256(weights)}
            with open(os.path.join(tmp, "state.json"), "w") as f:  # last: it vouches
                json.dump(state, f)
                f.flush()
                os.fsync(f.fileno())
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        for _, old in checkpoints(self.directory)[:-self.keep]:
            shutil.rmtree(old, ignore_errors=True)


class PreciseBatchNorm(keras.callbacks.Callback):
    """Recomputes every BatchNormalization layer's moving statistics from a fixed set
    of training images before each evaluation (pycls' "precise BN", Wu & Johnson 2021,
    "Rethinking BatchNorm"): the average of the batch statistics of ``images`` in
    training mode, so that validation reflects the current weights instead of moving
    averages that lag behind them on short epochs.
    """

    def __init__(self, images, batch_size=64):
        super().__init__()
        self.images = images
        self.batch_size = batch_size

    def on_test_begin(self, logs=None):
        recompute_batchnorm(self.model, self.images, self.batch_size)


def recompute_batchnorm(model, images, batch_size=64) -> int:
    """Sets each BatchNormalization layer's moving mean and variance to the average of
    its batch statistics over ``images`` (forward passes in training mode); returns the
    number of layers updated."""
    import numpy as np

    layers = [layer for layer in model._flatten_layers(include_self=False, recursive=True)
              if isinstance(layer, keras.layers.BatchNormalization)]
    if not layers or len(images) == 0:
        return 0
    momenta = [layer.momentum for layer in layers]
    try:
        for i, start in enumerate(range(0, len(images), batch_size)):
            for layer in layers:  # running average: batch i weighs 1/(i+1)
                layer.momentum = i / (i + 1)
            model(np.asarray(images[start:start + batch_size], np.float32), training=True)
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
    return len(layers)
