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
import os
import shutil
import time

import keras

from kerascnn.training import strategy as strategies
from kerascnn.training.callbacks import NaNGuard, RunCheckpoint, latest_checkpoint, load_checkpoint
from kerascnn.training.config import (
    RUN_FILES,
    ConfigError,
    FitConfig,
    TrainingFailed,
    run_identity,
    validate,
)
from kerascnn.training.data import TrainingData, prepare_data
from kerascnn.training.model import build_model
from kerascnn.training.report import report, write_progress
from kerascnn.utils.io import write_json_atomic

__all__ = ["RunState", "run", "fit_and_report", "start_run"]


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
    wall_start: float = dataclasses.field(default_factory=time.perf_counter)

    @property
    def num_outputs(self) -> int:
        return len(self.model.outputs)

    @property
    def monitor(self) -> str:
        if self.num_outputs == 1:
            return "val_accuracy"
        return f"val_{self.model.output_names[0]}_accuracy"


def run(config: FitConfig) -> dict:
    """Trains ``config.model`` on ``config.dataset``; returns the metrics dict.

    Raises:
        ConfigError, DataError: bad configuration or data (nothing written).
        TrainingFailed: the loss became NaN/inf (last good checkpoint kept).
    """
    return fit_and_report(start_run(config))


def start_run(config: FitConfig) -> RunState:
    """Checks, reads the data, builds the model and restores the last checkpoint."""
    wall_start = time.perf_counter()
    info = validate(config)
    # Before any TensorFlow op: MultiWorkerMirroredStrategy must configure the runtime.
    strategy = strategies.get_strategy(config.strategy)
    if config.deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(config.seed)
    data = prepare_data(config)
    if config.verbose:
        print(f"data: {data.summary()}")
    size = data.model_size(info["min_input_size"])
    steps_per_epoch = -(-data.train_size // config.batch_size)
    with strategies.scope(strategy):
        try:
            model = build_model(config, data, size=size, steps_per_epoch=steps_per_epoch,
                                replicas=strategies.num_replicas(strategy))
        except TypeError as e:
            raise ConfigError(f"Bad model arguments for {config.model}: {e}") from None

    if config.overwrite and os.path.isdir(config.output_dir):
        for name in RUN_FILES:
            path = os.path.join(config.output_dir, name)
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif os.path.exists(path):
                os.unlink(path)
    chief = strategies.is_chief(strategy)
    # Every worker does the same work (collective ops must match); workers other
    # than the chief write into their own sub-directory.
    run_dir = config.output_dir if chief else os.path.join(
        config.output_dir, f"worker-{strategies.task_index()}")
    os.makedirs(run_dir, exist_ok=True)

    initial_epoch, saved = 0, {}
    found = latest_checkpoint(os.path.join(run_dir, "checkpoints"))
    if found is not None and not config.overwrite:
        initial_epoch, path = found
        saved = load_checkpoint(model, path)
        if config.verbose:
            print(f"Resuming {config.model} from {path} (epoch {initial_epoch}).")
    write_json_atomic(os.path.join(run_dir, "run_config.json"), run_identity(config))
    state = RunState(config, data, model, strategy, run_dir, size, checkpoint=None,
                     initial_epoch=initial_epoch, chief=chief, wall_start=wall_start)
    state.checkpoint = RunCheckpoint(
        run_dir, monitor=state.monitor if data.has("val") else None, state=saved,
        guard=NaNGuard(), on_epoch=lambda ckpt: write_progress(ckpt, run_dir))
    return state


def _fit_context(model, strategy):
    if strategies.num_workers(strategy) > 1:
        from kerascnn.training._keras_compat import multiworker_fit_context

        return multiworker_fit_context(model, strategy)
    return contextlib.nullcontext()


def fit_and_report(state: RunState) -> dict:
    """Trains from ``state.initial_epoch`` to ``config.epochs``, then reports."""
    config, data, checkpoint = state.config, state.data, state.checkpoint
    one_hot = config.one_hot
    callbacks = [checkpoint.guard, checkpoint]
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
        with _fit_context(state.model, state.strategy):
            state.model.fit(train, validation_data=val, epochs=config.epochs,
                            initial_epoch=state.initial_epoch,
                            callbacks=[counter.callback()] + callbacks,
                            verbose=config.verbose,
                            shuffle=False)  # the pipeline shuffles, by (seed, epoch)
    guard = checkpoint.guard
    if guard.failed_at is not None:
        epoch, step = guard.failed_at
        last = latest_checkpoint(os.path.join(state.run_dir, "checkpoints"))
        kept = f"the last good checkpoint is {last[1]}" if last else "no checkpoint was written"
        raise TrainingFailed(f"loss became NaN or infinite at epoch {epoch}, step {step}; "
                             f"training stopped and {kept}.")
    return report(state)
