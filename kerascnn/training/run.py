"""One training run, straight through: data -> model -> fit -> report.

A batch's path: :func:`~kerascnn.training.data.prepare_data` reads the data once
through :func:`kerascnn.data.load` -> :meth:`TrainingData.train_dataset` (tf.data:
an order that is a function of (seed, epoch), batches of raw pixels, seeded
augmentation, prefetch) -> :func:`~kerascnn.training.model.build_model`'s model
(its preprocessing layers rescale, normalise with the training statistics,
resize and convert channels; then the registry model), built and compiled
inside the distribution strategy -> ``model.fit`` with crash-safe per-epoch
checkpoints (``checkpoints/``, ``best.keras``, ``history.csv``, TensorBoard
``logs/``) -> :func:`~kerascnn.training.report.report`: the saved best model
scores the raw test images, ``metrics.json``, plots.

Started again with the same command, a killed run resumes from its last
checkpoint and, with ``deterministic=True``, ends with the same weights as an
uninterrupted run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import shutil
import sys
import time

import keras

from kerascnn.training import strategy as strategies
from kerascnn.training.callbacks import (
    EMAEvaluation,
    NaNGuard,
    PreciseBatchNorm,
    RunCheckpoint,
    file_sha256,
    latest_checkpoint,
    restore_checkpoint,
)
from kerascnn.training.config import (
    RUN_FILES,
    SMALL_VAL,
    ConfigError,
    FitConfig,
    TrainingFailed,
    run_identity,
    validate,
)
from kerascnn.training.data import TrainingData, data_fingerprint, prepare_data
from kerascnn.training.finetune import FineTuneError
from kerascnn.training.model import build_model, compile_model
from kerascnn.training.recipes import adapt_to_data
from kerascnn.training.report import report, write_progress
from kerascnn.training.rundir import (
    DiskFull,
    RunLock,
    check_same_data,
    clean_stale,
    is_disk_full,
    release_failed_writes,
    write_marker,
)
from kerascnn.training.startup import advice, settings_block
from kerascnn.utils.io import write_json_atomic

__all__ = ["RunState", "run", "fit_and_report", "start_run", "PRECISE_BN_IMAGES",
           "PRECISE_BN_BELOW_STEPS"]

# --precise-bn auto: recompute the BN statistics over this many training images before
# each evaluation when an epoch has fewer steps than PRECISE_BN_BELOW_STEPS.
PRECISE_BN_IMAGES = 512
PRECISE_BN_BELOW_STEPS = 100


class Phases:
    """The two phases of a fine-tuning run (``--freeze-backbone``, ``--unfreeze-at N``):
    epochs 1..N train the classifier alone, the rest every layer, with a new optimizer
    at the learning rate x ``unfreeze_lr_factor`` and its schedule over the remaining
    epochs. The checkpoint of epoch e was written by the frozen model when e <= N
    (epoch N's holds the first phase's optimizer): a resumed run restores it in that
    phase, then switches exactly where an uninterrupted run does."""

    def __init__(self, config, model, strategy, steps_per_epoch):
        self.config, self.model, self.strategy = config, model, strategy
        self.steps_per_epoch = steps_per_epoch
        self.frozen = bool(config.freeze_backbone)

    @property
    def unfreeze_at(self):
        return self.config.unfreeze_at if self.config.freeze_backbone else None

    def saved_frozen(self, epoch: int) -> bool:
        """Whether the checkpoint of ``epoch`` was written with a frozen backbone."""
        return self.config.freeze_backbone and (self.unfreeze_at is None
                                                or epoch <= self.unfreeze_at)

    def set(self, frozen: bool) -> None:
        if frozen == self.frozen:
            return
        from kerascnn.training import finetune

        config = self.config
        with strategies.scope(self.strategy):
            if frozen:
                finetune.freeze_backbone(self.model)
                compile_model(self.model, config, steps_per_epoch=self.steps_per_epoch,
                              epochs=self.unfreeze_at or config.epochs)
            else:
                finetune.unfreeze(self.model)
                compile_model(self.model, config, steps_per_epoch=self.steps_per_epoch,
                              epochs=max(1, config.epochs - (self.unfreeze_at or 0)),
                              learning_rate=config.scaled_learning_rate()
                              * config.unfreeze_lr_factor)
        self.frozen = frozen


@dataclasses.dataclass
class RunState:
    """What a run carries from its start to its report."""

    config: FitConfig
    data: TrainingData
    model: keras.Model
    strategy: object
    run_dir: str
    size: int
    checkpoint: RunCheckpoint
    initial_epoch: int = 0
    chief: bool = True
    lock: RunLock | None = None
    adapted: tuple = ()  # how the recipe adapted batch size and epochs to the data
    wall_start: float = dataclasses.field(default_factory=time.perf_counter)
    phases: Phases | None = None

    @property
    def num_outputs(self) -> int:
        return len(self.model.outputs)

    @property
    def monitor(self) -> str | None:
        """The validation log that picks best.keras (None without a validation split)."""
        if not self.data.has("val"):
            return None
        kind = self.config.monitor
        if kind == "auto":
            kind = "val_loss" if self.data.info.split_sizes["val"] < SMALL_VAL else "val_accuracy"
        return kind if kind == "val_loss" else self.accuracy_log

    @property
    def accuracy_log(self) -> str:
        """The log of the (main head's) validation accuracy."""
        if self.num_outputs == 1:
            return "val_accuracy"
        return f"val_{self.model.output_names[0]}_accuracy"

    @property
    def steps_per_epoch(self) -> int:
        return -(-self.data.train_size // self.config.batch_size)

    @property
    def precise_bn_images(self) -> int:
        """The training images precise BN statistics are computed over (at most all)."""
        if self.config.precise_bn is not None:
            return min(self.config.precise_bn, self.data.train_size)
        # auto: short epochs, one device (forward passes in training mode update the
        # moving statistics on every backend; several replicas would each see a part)
        if strategies.num_replicas(self.strategy) > 1:
            return 0
        if self.steps_per_epoch >= PRECISE_BN_BELOW_STEPS:
            return 0
        return min(PRECISE_BN_IMAGES, self.data.train_size)


def run(config: FitConfig) -> dict:
    """Trains ``config.model`` on ``config.dataset``; returns the metrics dict.

    Raises:
        ConfigError, DataError: bad configuration or data (nothing written).
        TrainingFailed: the loss became NaN/inf (last good checkpoint kept).
        DiskFull: a file could not be written (the previous checkpoint is intact).
    """
    lock = None
    try:
        state = start_run(config)
        lock = state.lock
        return fit_and_report(state)
    except OSError as e:
        if not is_disk_full(e):
            raise
        message = _disk_full_message(e, config)
        release_failed_writes(e)
        raise DiskFull(message) from None
    finally:
        if lock is not None:
            lock.release()


def _disk_full_message(error, config) -> str:
    path = getattr(error, "filename", None) or config.output_dir
    last = latest_checkpoint(os.path.join(config.output_dir, "checkpoints"))
    need = ""
    if last is not None:
        size = os.path.getsize(os.path.join(last[1], "training.weights.h5"))
        need = f" (a checkpoint needs about {size / 2 ** 20:.0f} MiB, best.keras as much again)"
    kept = (f"the checkpoint of epoch {last[0]} is intact" if last
            else "no checkpoint had been written")
    return (f"no space left on the device writing {path}{need}; {kept}: free some space "
            "and run the same command again to resume.")


def start_run(config: FitConfig) -> RunState:
    """Checks, reads the data, builds the model and restores the last checkpoint."""
    wall_start = time.perf_counter()
    info = validate(config)
    # Before any TensorFlow op: MultiWorkerMirroredStrategy must configure the runtime.
    strategy = strategies.get_strategy(config.strategy)
    chief = strategies.is_chief(strategy)
    # Every worker does the same work (collective ops must match); workers other
    # than the chief write into their own sub-directory.
    run_dir = config.output_dir if chief else os.path.join(
        config.output_dir, f"worker-{strategies.task_index()}")
    lock = RunLock(run_dir).acquire()
    try:
        return _start(config, info, strategy, chief, run_dir, lock, wall_start)
    except BaseException:
        lock.release()
        raise


def _make_deterministic() -> None:
    """Deterministic kernels on the backend in use (the tf.data pipeline too, on any)."""
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()  # the input pipeline, on every backend
    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        torch.use_deterministic_algorithms(True, warn_only=False)
        torch.backends.cudnn.benchmark = False
        if torch.cuda.is_available():
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    elif backend == "jax":
        import jax

        if (any(d.platform == "gpu" for d in jax.devices())
                and "--xla_gpu_deterministic_ops=true" not in os.environ.get("XLA_FLAGS", "")):
            print("fit.py: note: --deterministic on JAX with a GPU needs "
                  "XLA_FLAGS=--xla_gpu_deterministic_ops=true set before the run starts; "
                  "without it this run's GPU kernels may differ from run to run",
                  file=sys.stderr, flush=True)


def _start(config, info, strategy, chief, run_dir, lock, wall_start) -> RunState:
    if config.deterministic:
        _make_deterministic()
    keras.utils.set_random_seed(config.seed)
    # The command's identity (what a resumed run compares) is taken before the recipe adapts
    # the batch size and epochs to the data: the same command resumes the same run.
    identity = run_identity(config)
    data = prepare_data(config)
    identity["data"] = data_fingerprint(config, data)
    if not config.overwrite and latest_checkpoint(os.path.join(run_dir, "checkpoints")):
        check_same_data(run_dir, identity["data"], config.dataset)
    size = data.model_size(info["min_input_size"])
    adapted = tuple(adapt_to_data(config, data.train_size, image_side=size))
    steps_per_epoch = -(-data.train_size // config.batch_size)
    with strategies.scope(strategy):
        try:
            model = build_model(config, data, size=size, steps_per_epoch=steps_per_epoch,
                                replicas=strategies.num_replicas(strategy))
        except TypeError as e:
            raise ConfigError(f"Bad model arguments for {config.model}: {e}") from None
        except FineTuneError as e:
            raise ConfigError(str(e)) from None
    check_memory(model, config)
    if config.class_weight == "balanced" and len(model.outputs) > 1:
        raise ConfigError("--class-weight balanced needs a model with one output; "
                          f"{config.model} has {len(model.outputs)}.")

    if config.overwrite:  # check_run_directory proved it is a kerascnn run directory
        for name in RUN_FILES:
            path = os.path.join(run_dir, name)
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif os.path.exists(path):
                os.unlink(path)
    clean_stale(run_dir)

    phases = Phases(config, model, strategy, steps_per_epoch)
    initial_epoch, saved = 0, {}
    if not config.overwrite:
        try:
            found = restore_checkpoint(model, os.path.join(run_dir, "checkpoints"),
                                       before_load=lambda e: phases.set(phases.saved_frozen(e)))
        except ValueError as e:
            raise ConfigError(
                f"The checkpoint in {run_dir} does not fit {config.model} as this command builds "
                f"it ({str(e).splitlines()[0][:160]}); pass --overwrite to start over.") from None
        if found is not None:
            initial_epoch, path, saved = found
            if config.verbose:
                print(f"Resuming {config.model} from {path} (epoch {initial_epoch}).")
    saved = _check_best(run_dir, saved, config.verbose)
    write_marker(run_dir)
    write_json_atomic(os.path.join(run_dir, "run_config.json"), identity)
    state = RunState(config, data, model, strategy, run_dir, size, checkpoint=None,
                     initial_epoch=initial_epoch, chief=chief, wall_start=wall_start, lock=lock,
                     adapted=adapted, phases=phases)
    state.checkpoint = RunCheckpoint(
        run_dir, monitor=state.monitor, state=saved, guard=NaNGuard(),
        on_epoch=lambda ckpt: write_progress(ckpt, run_dir), patience=config.early_stopping,
        accuracy=state.accuracy_log, val_images=data.info.split_sizes.get("val"),
        frozen_until=phases.unfreeze_at)
    if config.verbose:
        print(settings_block(state))
    for line in advice(state):
        print(f"fit.py: {line}")
    return state


def _check_best(run_dir, saved: dict, verbose) -> dict:
    """A resumed run's best.keras must be the one its checkpoint names (checksum)."""
    if not saved or saved.get("best_epoch") is None:
        return saved
    path = os.path.join(run_dir, "best.keras")
    expected = saved.get("best_sha256")
    ok = os.path.isfile(path) and (expected is None or file_sha256(path) == expected)
    if ok:
        return saved
    import warnings

    warnings.warn(f"{path} (epoch {saved['best_epoch']}) is missing or damaged; the best "
                  "epoch is chosen again from the epochs still to run.", stacklevel=2)
    return {**saved, "best": None, "best_epoch": None, "best_sha256": None}


def check_memory(model, config) -> None:
    """Refuses a batch whose activations cannot fit in this machine's memory."""
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return
    import keras

    values = 0
    for layer in model.layers:
        try:
            outputs = keras.tree.flatten(layer.output)
        except (AttributeError, ValueError):  # a layer used several times: not counted
            continue
        for tensor in outputs:
            shape = tuple(tensor.shape[1:])
            if None not in shape:
                values += int(math.prod(shape))
    # float32 activations kept for the backward pass, and their gradients
    need = values * 4 * 2 * config.batch_size
    if need > max(available, total // 2):
        raise ConfigError(
            f"--image-size {config.image_size} with --batch-size {config.batch_size}: one "
            f"training step of {config.model} needs about {need / 2 ** 30:.1f} GiB for its "
            f"activations, and this machine has {available / 2 ** 30:.1f} GiB free; lower "
            "--image-size or --batch-size.")


def _fit_context(model, strategy):
    if strategies.num_workers(strategy) > 1:
        from kerascnn.training._keras_compat import multiworker_fit_context

        return multiworker_fit_context(model, strategy)
    return contextlib.nullcontext()


def _guard_failed(checkpoint) -> bool:
    return checkpoint.guard is not None and checkpoint.guard.failed_at is not None


def _stages(state) -> list[tuple[int, int, bool]]:
    """``(first epoch, end epoch, frozen)`` of the fits still to run: one, or two around
    ``--unfreeze-at``."""
    config, start = state.config, state.initial_epoch
    at = config.unfreeze_at if config.freeze_backbone else None
    if at is None or start >= at:
        return [(start, config.epochs, config.freeze_backbone and at is None)]
    return [(start, at, True), (at, config.epochs, False)]


def fit_and_report(state: RunState) -> dict:
    """Trains from ``state.initial_epoch`` to ``config.epochs``, then reports."""
    config, data, checkpoint = state.config, state.data, state.checkpoint
    one_hot = config.one_hot
    callbacks = [checkpoint.guard, checkpoint]
    if state.precise_bn_images and data.has("val"):
        images = data.bn_images(state.precise_bn_images, size=state.size)
        callbacks.insert(0, PreciseBatchNorm(images, batch_size=min(64, config.batch_size)))
    if config.ema is not None:  # first: precise BN then computes the average's statistics
        callbacks.insert(0, EMAEvaluation())
    class_weight = data.class_weights() if config.class_weight == "balanced" else None
    if keras.backend.backend() == "tensorflow":
        callbacks.append(keras.callbacks.TensorBoard(os.path.join(state.run_dir, "logs"),
                                                     write_graph=False, profile_batch=0))
    if state.initial_epoch < config.epochs:
        train, counter = data.train_dataset(
            batch_size=config.batch_size, size=state.size, num_outputs=state.num_outputs,
            one_hot=one_hot, initial_epoch=state.initial_epoch)
        val = None
        if data.has("val"):
            val = data.eval_dataset("val", batch_size=config.batch_size, size=state.size,
                                    num_outputs=state.num_outputs, one_hot=one_hot)
        for start, stop, frozen in _stages(state):
            if state.phases is not None:
                state.phases.set(frozen)
            if config.verbose and config.freeze_backbone:
                span = f"epoch {stop}" if stop == start + 1 else f"epochs {start + 1}-{stop}"
                print(f"fit.py: {span}: "
                      + ("the classifier alone (backbone frozen, its BatchNormalization in "
                         "inference mode)" if frozen else
                         f"every layer, learning rate x {config.unfreeze_lr_factor}"))
            with _fit_context(state.model, state.strategy):
                state.model.fit(train, validation_data=val, epochs=stop,
                                initial_epoch=start,
                                callbacks=[counter.callback()] + callbacks,
                                verbose=config.verbose, class_weight=class_weight,
                                shuffle=False)  # the pipeline shuffles, by (seed, epoch)
            if checkpoint.stopped_early is not None or _guard_failed(checkpoint):
                break
    guard = checkpoint.guard
    if guard.failed_at is not None:
        epoch, step = guard.failed_at
        last = latest_checkpoint(os.path.join(state.run_dir, "checkpoints"))
        kept = f"the last good checkpoint is {last[1]}" if last else "no checkpoint was written"
        raise TrainingFailed(f"loss became NaN or infinite at epoch {epoch}, step {step}; "
                             f"training stopped and {kept}.")
    return report(state)
