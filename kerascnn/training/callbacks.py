"""Callbacks of a training run: epoch timing, NaN guard, crash-safe checkpoints.

:class:`RunCheckpoint` writes, at the end of every epoch, one directory
``checkpoints/epoch-NNNN/`` holding the full training state (model and optimizer
variables) and ``state.json`` (epoch, history rows so far, best validation
score, epoch times). The directory is written under a temporary name and
renamed into place, so a run killed at any moment leaves only complete
checkpoints; the last two are kept. The best model by validation accuracy is
written to ``best.keras`` the same way (temp file + rename).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time

import keras

from kerascnn.utils.io import atomic_path

__all__ = ["NaNGuard", "RunCheckpoint", "latest_checkpoint", "load_checkpoint"]


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


def _checkpoint_dirs(directory):
    if not os.path.isdir(directory):
        return []
    found = []
    for name in os.listdir(directory):
        if name.startswith("epoch-") and os.path.isfile(os.path.join(directory, name,
                                                                     "state.json")):
            found.append((int(name.split("-")[1]), os.path.join(directory, name)))
    return sorted(found)


def latest_checkpoint(directory):
    """``(epoch, path)`` of the newest complete checkpoint, or None."""
    found = _checkpoint_dirs(directory)
    return found[-1] if found else None


def load_checkpoint(model, path) -> dict:
    """Restores model and optimizer variables; returns the saved state dict."""
    with open(os.path.join(path, "state.json")) as f:
        state = json.load(f)
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    model.load_weights(os.path.join(path, "training.weights.h5"))
    return state


class RunCheckpoint(keras.callbacks.Callback):
    """Per-epoch crash-safe checkpoints, history and the best model.

    keras' ``BackupAndRestore`` restores the weights but not our (seed, epoch) data
    order's epoch nor the history and best score, so a resumed run would differ;
    this one gives bit-identical resumption (with ``--deterministic``)."""

    def __init__(self, run_dir, *, monitor="val_accuracy", state=None, guard=None, keep=2,
                 on_epoch=None, write_best=True):
        super().__init__()
        self.run_dir = run_dir
        self.directory = os.path.join(run_dir, "checkpoints")
        self.monitor = monitor
        self.guard = guard
        self.keep = keep
        self.on_epoch = on_epoch
        self.write_best = write_best
        state = state or {}
        self.history = list(state.get("history", []))
        self.best = state.get("best")
        self.best_epoch = state.get("best_epoch")
        self.train_seconds = list(state.get("train_seconds", []))
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
        value = logs.get(self.monitor)
        if value is not None and (self.best is None or value > self.best):
            self.best, self.best_epoch = value, epoch + 1
            if self.write_best:
                with atomic_path(os.path.join(self.run_dir, "best.keras")) as tmp:
                    self.model.save(tmp)
        self._save(epoch + 1)
        if self.on_epoch is not None:
            self.on_epoch(self)

    def state(self, epoch):
        return {"epoch": epoch, "history": self.history, "best": self.best,
                "best_epoch": self.best_epoch, "train_seconds": self.train_seconds}

    def _save(self, epoch):
        os.makedirs(self.directory, exist_ok=True)
        final = os.path.join(self.directory, f"epoch-{epoch:04d}")
        tmp = os.path.join(self.directory, f".tmp-epoch-{epoch:04d}-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        self.model.save_weights(os.path.join(tmp, "training.weights.h5"))
        with open(os.path.join(tmp, "state.json"), "w") as f:
            json.dump(self.state(epoch), f)
            f.flush()
            os.fsync(f.fileno())
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        for _, old in _checkpoint_dirs(self.directory)[:-self.keep]:
            shutil.rmtree(old, ignore_errors=True)
