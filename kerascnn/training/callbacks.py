"""Callbacks of a training run: NaN guard, crash-safe checkpoints.

:class:`RunCheckpoint` writes, at the end of every epoch, one directory
``checkpoints/epoch-NNNN/`` holding the full training state (model and optimizer
variables, ``training.weights.h5``) and, written last, ``state.json`` (epoch,
history rows so far, best validation score, epoch times, and the SHA-256 of the
weights file and of ``best.keras``). The directory is written under a temporary
name and renamed into place, so a run killed at any moment leaves only complete
checkpoints; the last two are kept. :func:`restore_checkpoint` verifies a
checkpoint before trusting it and falls back to the older one. The best model
(:class:`BestEpoch`'s ranking) is written to ``best.keras`` the same way (temp
file + rename).
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

from kerascnn.training.optim import swap_ema
from kerascnn.training.rundir import quiet_failed_flushes
from kerascnn.utils.io import atomic_path

__all__ = ["NaNGuard", "RunCheckpoint", "BestEpoch", "write_checkpoint", "latest_checkpoint",
           "load_checkpoint",
           "restore_checkpoint", "checkpoints", "file_sha256", "DamagedCheckpoint",
           "PreciseBatchNorm", "recompute_batchnorm", "save_model", "EMAEvaluation",
           "averaged_weights"]


def save_model(model, path) -> None:
    """Saves ``model`` as a ``.keras`` file without its optimizer: its layers, their weights
    and its preprocessing, which is all that predicting, evaluating, exporting or
    fine-tuning from it needs (a resumed run restores the optimizer from ``checkpoints/``).

    Keras 3's ``.keras`` format has no ``include_optimizer=False``: the file is that of a
    functional model over the same layers (their variables shared, nothing copied), not
    compiled, so it holds neither the optimizer's variables (two per weight for Adam, as
    large as the model again) nor the compile settings. ``keras.saving.load_model`` gives
    an uncompiled model; ``model.compile(...)`` it to train or ``evaluate`` it."""
    bare = keras.Model(model.input, model.output, name=model.name)
    with quiet_failed_flushes():
        bare.save(path)


class averaged_weights:  # noqa: N801  (a context manager, named for what it gives)
    """``with averaged_weights(model):`` the model holds its optimizer's weight average
    (``--ema``) inside the block and its own weights again after it, bit for bit; nothing
    changes without an average."""

    def __init__(self, model):
        self.model, self.swapped = model, False

    def __enter__(self):
        self.swapped = swap_ema(self.model)
        return self.model

    def __exit__(self, *exc):
        if self.swapped:
            swap_ema(self.model)
        return False


class EMAEvaluation(keras.callbacks.Callback):
    """Evaluates the weight average (``--ema``): swapped in at the start of each
    validation (before :class:`PreciseBatchNorm`, which then computes the statistics of
    the averaged weights) and out at its end, so training continues from its own weights.
    Put it first among the callbacks."""

    def __init__(self):
        super().__init__()
        self._swapped = False

    def on_test_begin(self, logs=None):
        self._swapped = swap_ema(self.model)

    def on_test_end(self, logs=None):
        if self._swapped:
            swap_ema(self.model)
            self._swapped = False


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


def write_checkpoint(model, directory, epoch: int, state: dict, keep: int = 2) -> str:
    """Writes ``checkpoints/epoch-NNNN/`` (``training.weights.h5``, then ``state.json``
    with the weights' SHA-256) under a temporary name and renames it into place, then
    removes all but the newest ``keep``; returns its path."""
    os.makedirs(directory, exist_ok=True)
    final = os.path.join(directory, f"epoch-{epoch:04d}")
    tmp = os.path.join(directory, f".tmp-epoch-{epoch:04d}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        weights = os.path.join(tmp, "training.weights.h5")
        with quiet_failed_flushes():
            model.save_weights(weights)
        state = {**state, "epoch": epoch, "weights_sha256": file_sha256(weights)}
        with open(os.path.join(tmp, "state.json"), "w") as f:  # last: it vouches
            json.dump(state, f)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    for _, old in checkpoints(directory)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


class BestEpoch:
    """The best epoch by ``monitor``: the highest score, ties to the later epoch, and
    ``val_accuracy`` ties broken by the lower ``val_loss`` first. A score is stored as a
    list: ``[-loss, accuracy]`` for a loss (``[-loss]``: accuracy unknown),
    ``[accuracy, -val_loss]`` otherwise (a bare number: a checkpoint of an older version).

    Two rules keep a small validation split from choosing badly:

    * ``frozen_until`` (fine-tuning's ``--unfreeze-at``): an epoch of the frozen phase
      gives way to any later epoch, with every layer training, at least as accurate;
    * ``val_images`` (the validation split's size): ranked by loss, two epochs whose
      losses differ by at most one image's share (the loss / ``val_images``) are a
      near-tie, which the higher accuracy breaks (then the lower loss, the later epoch).
    """

    def __init__(self, monitor, best=None, epoch=None, *, accuracy="val_accuracy",
                 val_images=None, frozen_until=None):
        self.monitor, self.best, self.epoch = monitor, best, epoch
        self.accuracy, self.val_images, self.frozen_until = accuracy, val_images, frozen_until

    @property
    def _by_loss(self) -> bool:
        return self.monitor.endswith("loss")

    def _key(self, stored):
        if isinstance(stored, (int, float)):
            return (-stored,) if self._by_loss else (stored, -math.inf)
        return tuple(stored)

    def _parts(self, key):
        """``(loss, accuracy)`` of a score (None where unknown)."""
        if self._by_loss:
            return -key[0], (key[1] if len(key) > 1 else None)
        return (-key[1] if len(key) > 1 and key[1] != -math.inf else None), key[0]

    def _frozen(self, epoch) -> bool:
        return self.frozen_until is not None and epoch <= self.frozen_until

    def _beats(self, epoch, score) -> bool:
        """Whether ``score`` of ``epoch`` beats the best so far."""
        old = self._key(self.best)
        loss, acc = self._parts(score)
        old_loss, old_acc = self._parts(old)
        if acc is not None and old_acc is not None:
            if self._frozen(self.epoch) and not self._frozen(epoch) and acc >= old_acc:
                return True  # fine-tuning: every layer trained, at least as accurate
            if (self._by_loss and self.val_images and loss is not None
                    and abs(loss - old_loss) <= max(loss, old_loss) / self.val_images):
                return (acc, -loss) >= (old_acc, -old_loss)  # a near-tie: accuracy decides
        return score >= old  # NaN: not better

    def offer(self, epoch: int, logs: dict) -> bool:
        """Whether ``epoch`` (1-based) with these logs is the new best (then recorded)."""
        if self.monitor is None or self.monitor not in logs:
            return False
        if self._by_loss:
            acc = logs.get(self.accuracy)
            score = (-logs[self.monitor],) + (() if acc is None else (acc,))
        else:
            score = (logs[self.monitor], -logs.get("val_loss", 0.0))
        if not all(math.isfinite(v) for v in score):
            return False
        if self.best is not None and not self._beats(epoch, score):
            return False
        self.best, self.epoch = list(score), epoch
        return True

    @property
    def value(self):
        """The monitored value of the best epoch (accuracy, or loss)."""
        if self.best is None:
            return None
        key = self._key(self.best)
        return -key[0] if self._by_loss else key[0]


class RunCheckpoint(keras.callbacks.Callback):
    """The state a resumed run continues from, written at the end of every epoch: the
    checkpoint (:func:`write_checkpoint`), the history rows, the epoch times, the best
    epoch (:class:`BestEpoch`) with ``best.keras``, and early stopping.

    Every one of these jobs stays here because keras' own callback for it (Keras 3)
    cannot give a resumed run the weights, files and metrics of an uninterrupted one:

    * ``BackupAndRestore`` writes ``latest.weights.h5`` in place, then
      ``training_metadata.json``: a kill during the weights leaves a truncated file, and
      one between the two pairs epoch N+1's weights with epoch N (the resumed run repeats
      an epoch from the wrong weights); nothing is checksummed. It restores inside
      ``fit`` (``on_train_begin``), too late for the data pipeline, whose order is a
      function of (seed, epoch) and is built for the resumed epoch before ``fit``, and
      again at a fine-tuning run's second ``fit``, whose optimizer holds other variables.
      It keeps neither the history, the best epoch nor the epoch times.
    * ``ModelCheckpoint(save_best_only=True)`` writes ``best.keras`` in place (a crash
      leaves half a file), keeps its best value in memory (a resumed run's first epoch
      would replace a better ``best.keras``) and ranks by one log with a strict
      comparison: ties go to the earlier epoch and accuracy ties are not broken by the
      loss, so it would choose another best epoch than :class:`BestEpoch`.
    * ``CSVLogger`` appends a row per epoch apart from the checkpoint: a run killed
      between the two repeats that row when resumed (``append=True``) or loses the
      earlier ones (``append=False``). ``history.csv`` is rewritten atomically from the
      checkpointed rows instead (``on_epoch``: :func:`~kerascnn.training.report.write_progress`).
    * ``EarlyStopping`` keeps its patience counter in memory and resets it in
      ``on_train_begin`` (a resumed run, the second ``fit`` of fine-tuning would wait
      longer), with the strict comparison above; here patience counts from the
      checkpointed best epoch.

    keras' own ``TerminateOnNaN`` (:class:`NaNGuard`, ``guard``: no checkpoint of a
    diverged model) and ``TensorBoard`` hold no state a resumed run needs. With
    ``--deterministic`` a resumed run ends bit-identical to an uninterrupted one.
    """

    def __init__(self, run_dir, *, monitor="val_accuracy", state=None, guard=None, keep=2,
                 on_epoch=None, write_best=True, patience=None, accuracy="val_accuracy",
                 val_images=None, frozen_until=None):
        super().__init__()
        self.run_dir = run_dir
        self.directory = os.path.join(run_dir, "checkpoints")
        self.monitor, self.patience, self.guard, self.keep = monitor, patience, guard, keep
        self.on_epoch, self.write_best = on_epoch, write_best
        self.stopped_early = None
        state = state or {}
        self.history = list(state.get("history", []))
        self.ranking = BestEpoch(monitor, state.get("best"), state.get("best_epoch"),
                                 accuracy=accuracy, val_images=val_images,
                                 frozen_until=frozen_until)
        self.train_seconds = list(state.get("train_seconds", []))
        self.best_sha256 = state.get("best_sha256")
        self._timer_start = self._last_batch = None

    @property
    def best_epoch(self):
        return self.ranking.epoch

    @property
    def best_value(self):
        """The monitored value of the best epoch (accuracy, or loss)."""
        return self.ranking.value

    def on_epoch_begin(self, epoch, logs=None):
        self._timer_start, self._last_batch = time.perf_counter(), None

    def on_train_batch_end(self, batch, logs=None):
        self._last_batch = time.perf_counter()  # the epoch's time ends before validation

    def on_epoch_end(self, epoch, logs=None):
        if self.guard is not None and self.guard.failed_at is not None:
            return  # never checkpoint a diverged model
        logs = {k: float(v) for k, v in (logs or {}).items()}
        end = self._last_batch or time.perf_counter()
        self.train_seconds.append(round(end - (self._timer_start or end), 4))
        self.history.append({"epoch": epoch + 1, **logs})
        if self.ranking.offer(epoch + 1, logs) and self.write_best:
            with atomic_path(os.path.join(self.run_dir, "best.keras")) as tmp:
                with averaged_weights(self.model):  # --ema: the average, as validated
                    save_model(self.model, tmp)
                self.best_sha256 = file_sha256(tmp)
        self._save(epoch + 1)
        if self.on_epoch is not None:
            self.on_epoch(self)
        if (self.patience and self.best_epoch is not None
                and epoch + 1 - self.best_epoch >= self.patience):
            self.stopped_early = epoch + 1
            self.model.stop_training = True

    def state(self, epoch):
        return {"epoch": epoch, "history": self.history, "best": self.ranking.best,
                "best_epoch": self.best_epoch, "best_sha256": self.best_sha256,
                "train_seconds": self.train_seconds}

    def _save(self, epoch):
        write_checkpoint(self.model, self.directory, epoch, self.state(epoch), keep=self.keep)


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
    # --train-size (FixRes): the statistics of the evaluation size, where they are used
    resizers = [layer for layer in model._flatten_layers(include_self=False, recursive=True)
                if hasattr(layer, "use_train_size")]
    for layer in resizers:
        layer.use_train_size = False
    try:
        for i, start in enumerate(range(0, len(images), batch_size)):
            for layer in layers:  # running average: batch i weighs 1/(i+1)
                layer.momentum = i / (i + 1)
            model(np.asarray(images[start:start + batch_size], np.float32), training=True)
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
        for layer in resizers:
            layer.use_train_size = True
    return len(layers)
