"""The training run behind ``scripts/fit.py``.

A batch's path: :func:`kerascnn.data.load_source` (uint8 arrays per split) ->
:func:`kerascnn.data.make_dataset` (tf.data: an order that is a function of
(seed, epoch), batch, resize, channels, seeded augmentation, standardisation,
prefetch) -> the registry's model, built and compiled inside the distribution
strategy -> ``model.fit`` with crash-safe per-epoch checkpoints -> the best
model by validation accuracy evaluated on the test split.

The run directory holds ``run_config.json`` (what was asked), ``checkpoints/``
(the last two epochs' full training state), ``best.keras``, ``model.keras``
(the final model), ``history.csv``, ``logs/`` (TensorBoard), ``metrics.json``,
``curves.png`` and ``confusion.png``; every file is written atomically. Started
again with the same command, a killed run resumes from its last checkpoint and,
with ``deterministic=True``, ends with the same weights as an uninterrupted run.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import shutil
import statistics
import time

import keras
import numpy as np

from kerascnn import registry
from kerascnn.data import DataError, EpochCounter, load_source, make_dataset, source_kind
from kerascnn.data.augment import build_augmentation
from kerascnn.data.pipeline import channel_stats
from kerascnn.training import strategy as strategies
from kerascnn.training.callbacks import (
    EpochTimer,
    NaNGuard,
    RunCheckpoint,
    latest_checkpoint,
    load_checkpoint,
)
from kerascnn.training.compile import build_compiled
from kerascnn.training.optim import OPTIMIZERS, SCHEDULES
from kerascnn.training.plots import confusion_matrix, plot_confusion, plot_curves
from kerascnn.training.recipes import RECIPES
from kerascnn.utils.io import atomic_path, atomic_write, write_json_atomic

__all__ = ["FitConfig", "ConfigError", "TrainingFailed", "run", "validate", "summary_line",
           "OPTIMIZERS", "SCHEDULES", "PRECISIONS", "AUX_LOSS_WEIGHT", "apply_recipe"]

PRECISIONS = ("fp32", "bf16", "fp16")
LR_SCALINGS = ("none", "linear")
# Default loss weight of each auxiliary classifier (GoogLeNet, Inception v3).
AUX_LOSS_WEIGHT = 0.3
RUN_FILES = ("metrics.json", "history.csv", "model.keras", "best.keras", "checkpoints",
             "run_config.json")
# Settings that may differ between a run and its resumption.
_RESUME_FREE = {"epochs", "verbose", "resume", "overwrite", "output_dir"}


class ConfigError(ValueError):
    """A bad run configuration (one-line message)."""


class TrainingFailed(RuntimeError):
    """Training stopped (non-finite loss); the last good checkpoint is kept."""


@dataclasses.dataclass
class FitConfig:
    model: str = "resnet20_cifar"
    dataset: str = "fashion_mnist"
    data_dir: str | None = None
    epochs: int = 2
    batch_size: int = 128
    image_size: int | None = None
    classes: int | None = None
    learning_rate: float = 1e-3
    optimizer: str = "adam"
    momentum: float = 0.9
    nesterov: bool = False
    rho: float = 0.9
    epsilon: float | None = None
    weight_decay: float = 0.0
    weight_decay_mode: str = "l2"
    clipnorm: float | None = None
    schedule: str = "cosine"
    lr_steps: tuple = (0.5, 0.75)
    decay_rate: float = 0.94
    decay_epochs: float = 2.0
    warmup_epochs: float = 0.0
    lr_scaling: str = "none"
    lr_base_batch: int = 256
    label_smoothing: float = 0.0
    aux_loss_weight: float = AUX_LOSS_WEIGHT
    augment: str = "none"  # kerascnn.data.augment presets or a comma list
    strict: bool = False  # stop at an unreadable data file instead of skipping it
    precision: str = "fp32"
    jit_compile: str = "auto"
    seed: int = 0
    deterministic: bool = False
    output_dir: str | None = None  # default: runs/<model>_<dataset>_<time>
    strategy: str = "auto"
    val_fraction: float = 0.1
    model_kwargs: dict = dataclasses.field(default_factory=dict)
    recipe: str | None = None
    resume: bool = False
    overwrite: bool = False
    verbose: int = 1


def apply_recipe(config: FitConfig, given: set) -> FitConfig:
    """Fills the settings of ``config.recipe`` that are not in ``given``."""
    if config.recipe is None:
        return config
    if config.recipe not in RECIPES:
        raise ConfigError(
            f"Unknown recipe {config.recipe!r}; allowed: {', '.join(sorted(RECIPES))} "
            "(see --list-recipes).")
    for key, value in RECIPES[config.recipe].items():
        if key != "description" and key not in given:
            setattr(config, key, value)
    return config


def default_output_dir(config: FitConfig) -> str:
    return os.path.join("runs",
                        f"{config.model}_{config.dataset}_{time.strftime('%Y%m%d-%H%M%S')}")


def _comparable(config: FitConfig) -> dict:
    data = dataclasses.asdict(config)
    data["lr_steps"] = list(data["lr_steps"])
    return {k: v for k, v in data.items() if k not in _RESUME_FREE}


def validate(config: FitConfig) -> dict:
    """Checks the configuration before anything is read or written.

    Fills in the default output directory. Returns the model's registry info.
    """
    if config.output_dir is None:
        config.output_dir = default_output_dir(config)
    try:
        info = registry.model_info(config.model)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    if config.resume and config.overwrite:
        raise ConfigError("--resume and --overwrite conflict: choose one.")
    for flag, value in (("--epochs", config.epochs), ("--batch-size", config.batch_size)):
        if value < 1:
            raise ConfigError(f"{flag} must be a positive integer; got {value}.")
    if config.classes is not None and config.classes < 2:
        raise ConfigError(f"--classes must be at least 2; got {config.classes}.")
    if config.image_size is not None and config.image_size < info["min_input_size"]:
        raise ConfigError(
            f"--image-size {config.image_size} is below {config.model}'s minimum input size "
            f"{info['min_input_size']}.")
    if not config.learning_rate > 0:
        raise ConfigError(f"--learning-rate must be positive; got {config.learning_rate}.")
    choices = (("--optimizer", config.optimizer, OPTIMIZERS),
               ("--schedule", config.schedule, SCHEDULES),
               ("--precision", config.precision, PRECISIONS),
               ("--lr-scaling", config.lr_scaling, LR_SCALINGS),
               ("--weight-decay-mode", config.weight_decay_mode, ("l2", "decoupled")),
               ("--strategy", config.strategy, strategies.STRATEGIES),
               ("--jit-compile", config.jit_compile, ("auto", "on", "off")))
    for flag, value, allowed in choices:
        if value not in allowed:
            raise ConfigError(f"{flag} {value!r} is not one of: {', '.join(allowed)}.")
    if config.weight_decay < 0:
        raise ConfigError(f"--weight-decay must be >= 0; got {config.weight_decay}.")
    if not 0 <= config.label_smoothing < 1:
        raise ConfigError(f"--label-smoothing must be in [0, 1); got {config.label_smoothing}.")
    if not 0 <= config.val_fraction < 1:
        raise ConfigError(f"--val-fraction must be in [0, 1); got {config.val_fraction}.")
    if config.lr_steps and not all(0 < f < 1 for f in config.lr_steps):
        raise ConfigError(f"--lr-steps must be fractions in (0, 1); got {list(config.lr_steps)}.")
    try:
        _augmentation_layers(config.augment)
    except ValueError as e:
        raise ConfigError(f"--augment: {e}") from None
    if config.jit_compile == "on" and not _has_gpu():
        raise ConfigError("--jit-compile on needs a GPU: XLA makes CPU training several "
                          "times slower; use auto.")
    _check_output_dir(config)
    return info


def _augmentation_layers(spec):
    return build_augmentation(spec, (32, 32), pca=([1.0], [[1.0]]))


def _has_gpu() -> bool:
    if keras.backend.backend() == "jax":
        import jax

        return any(d.platform != "cpu" for d in jax.devices())
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU"))


def _check_output_dir(config: FitConfig) -> None:
    existing = [f for f in RUN_FILES if os.path.exists(os.path.join(config.output_dir, f))]
    if not existing or config.overwrite:
        return
    saved_path = os.path.join(config.output_dir, "run_config.json")
    saved = None
    if os.path.exists(saved_path):
        with open(saved_path) as f:
            saved = json.load(f)
    finished = os.path.exists(os.path.join(config.output_dir, "metrics.json"))
    same = saved is not None and saved == _comparable(config)
    if config.resume and saved is not None:
        return
    if same and not finished:
        return  # the same command again: resume
    what = "a finished run" if finished else "a different run"
    raise ConfigError(
        f"--output-dir {config.output_dir} already holds {what} ({', '.join(existing)}); "
        "choose another directory, or pass --overwrite to start over"
        + ("" if finished else " or --resume to continue it") + ".")


def _history_csv(rows) -> str:
    keys = sorted({k for row in rows for k in row if k != "epoch"})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["epoch"] + keys)
    for row in rows:
        writer.writerow([row["epoch"]] + [f"{row[k]:.6g}" if k in row else "" for k in keys])
    return out.getvalue()


def run(config: FitConfig) -> dict:
    """Trains ``config.model`` on ``config.dataset``; returns the metrics dict.

    Raises:
        ConfigError, DataError: bad configuration or data (nothing written).
        TrainingFailed: the loss became NaN/inf (last good checkpoint kept).
    """
    wall_start = time.perf_counter()
    info = validate(config)
    # Before any TensorFlow op: MultiWorkerMirroredStrategy must configure the runtime.
    strategy = strategies.get_strategy(config.strategy)
    if config.deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(config.seed)

    local = source_kind(config.dataset, config.data_dir) == "local"
    source = load_source(config.dataset, config.data_dir, config.val_fraction, config.seed,
                         strict=config.strict, image_size=config.image_size if local else None)
    # mixup/cutmix produce soft labels: the loss then takes one-hot targets
    mixing = any(layer.needs_labels for layer in _augmentation_layers(config.augment))
    if config.classes is not None and config.classes != source.num_classes:
        raise ConfigError(
            f"--classes {config.classes} disagrees with {config.dataset}, which has "
            f"{source.num_classes} classes.")
    for split, (_, y) in source.splits.items():
        if len(y) and (y.min() < 0 or y.max() >= source.num_classes):
            raise DataError(f"{config.dataset} {split} split has labels outside "
                            f"0..{source.num_classes - 1}.")
    channels = info["default_input_shape"][-1]
    size = config.image_size or max(source.image_shape[0], info["min_input_size"])
    input_shape = (size, size, channels)

    if config.overwrite and os.path.isdir(config.output_dir):
        for name in RUN_FILES + ("logs", "curves.png", "confusion.png"):
            path = os.path.join(config.output_dir, name)
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif os.path.exists(path):
                os.unlink(path)

    replicas = strategies.num_replicas(strategy)
    chief = strategies.is_chief(strategy)
    run_dir = config.output_dir if chief else os.path.join(
        config.output_dir, f"worker-{strategies.task_index()}")
    os.makedirs(run_dir, exist_ok=True)
    # Every worker does the same work (collective ops must match); workers other
    # than the chief write into their own sub-directory.
    write_json_atomic(os.path.join(run_dir, "run_config.json"), _comparable(config))

    x_train, y_train = source.splits["train"]
    steps_per_epoch = -(-len(y_train) // config.batch_size)
    learning_rate = config.learning_rate
    if config.lr_scaling == "linear":
        learning_rate *= config.batch_size / config.lr_base_batch

    with strategies.scope(strategy):
        try:
            model = build_compiled(config, input_shape=input_shape, classes=source.num_classes,
                                   steps_per_epoch=steps_per_epoch, replicas=replicas,
                                   learning_rate=learning_rate, one_hot=mixing)
        except TypeError as e:
            raise ConfigError(f"Bad model arguments for {config.model}: {e}") from None
    num_outputs = len(model.outputs)
    output_name = model.outputs[0]._keras_history[0].name

    # Resume from the newest complete checkpoint, if any.
    initial_epoch, state = 0, {}
    found = latest_checkpoint(os.path.join(run_dir, "checkpoints"))
    if found is not None and not config.overwrite:
        initial_epoch, path = found
        state = load_checkpoint(model, path)
        if config.verbose:
            print(f"Resuming {config.model} from {path} (epoch {initial_epoch}).")

    mean, std = channel_stats(x_train, channels)
    one_hot = bool(config.label_smoothing) or mixing
    common = dict(batch_size=config.batch_size, image_size=(size, size), channels=channels,
                  mean=mean, std=std, num_outputs=num_outputs, num_classes=source.num_classes,
                  one_hot=one_hot)
    val_ds = make_dataset(*source.splits["val"], **common) if "val" in source.splits else None
    test_ds = make_dataset(*source.splits["test"], **common)

    guard = NaNGuard()
    timer = EpochTimer()
    monitor = None
    if val_ds is not None:
        monitor = "val_accuracy" if num_outputs == 1 else f"val_{output_name}_accuracy"

    def write_progress(ckpt):
        _write_progress(ckpt, run_dir)

    checkpoint = RunCheckpoint(run_dir, monitor=monitor, state=state, guard=guard,
                               on_epoch=write_progress)
    callbacks = [guard, timer, checkpoint]
    if keras.backend.backend() == "tensorflow":
        callbacks.append(keras.callbacks.TensorBoard(os.path.join(run_dir, "logs"),
                                                     write_graph=False, profile_batch=0))

    if initial_epoch < config.epochs:
        # The order and augmentation of each epoch are functions of (seed, epoch).
        counter = EpochCounter(initial_epoch)
        train_ds = make_dataset(x_train, y_train, training=True, seed=config.seed,
                                epoch=counter,
                                augment=None if config.augment == "none" else config.augment,
                                **common)
        with _fit_context(model, strategy):
            model.fit(train_ds, validation_data=val_ds, epochs=config.epochs,
                      initial_epoch=initial_epoch, callbacks=[counter.callback()] + callbacks,
                      verbose=config.verbose,
                      shuffle=False)  # the pipeline shuffles, by (seed, epoch)
    if guard.failed_at is not None:
        epoch, step = guard.failed_at
        last = latest_checkpoint(os.path.join(run_dir, "checkpoints"))
        kept = f"the last good checkpoint is {last[1]}" if last else "no checkpoint was written"
        raise TrainingFailed(f"loss became NaN or infinite at epoch {epoch}, step {step}; "
                             f"training stopped and {kept}.")

    with _fit_context(model, strategy):
        return _finish(config, model, strategy, source, checkpoint, run_dir, chief, test_ds,
                       num_outputs, output_name, initial_epoch, replicas, learning_rate, size,
                       input_shape, x_train, y_train, wall_start, (mean, std))


def _write_progress(ckpt, run_dir):
    atomic_write(os.path.join(run_dir, "history.csv"), _history_csv(ckpt.history))
    plot_curves(ckpt.history, os.path.join(run_dir, "curves.png"))


def _fit_context(model, strategy):
    import contextlib

    if strategies.num_workers(strategy) > 1:
        from kerascnn.training._keras_compat import multiworker_fit_context

        return multiworker_fit_context(model, strategy)
    return contextlib.nullcontext()


def _finish(config, model, strategy, source, checkpoint, run_dir, chief, test_ds, num_outputs,
            output_name, initial_epoch, replicas, learning_rate, size, input_shape, x_train,
            y_train, wall_start, normalization):
    mean, std = normalization
    final_weights = model.get_weights()
    with atomic_path(os.path.join(run_dir, "model.keras")) as tmp:
        model.save(tmp)
    best_path = os.path.join(run_dir, "best.keras")
    if checkpoint.best_epoch is not None and os.path.exists(best_path):
        best = keras.models.load_model(best_path, safe_mode=True)
        model.set_weights(best.get_weights())
    results = model.evaluate(test_ds, return_dict=True, verbose=0)
    accuracy_key = "accuracy" if "accuracy" in results else f"{output_name}_accuracy"
    predictions = model.predict(test_ds, verbose=0)
    if num_outputs > 1:
        predictions = predictions[0]
    y_test = source.splits["test"][1]
    cm = confusion_matrix(y_test, np.argmax(predictions, axis=-1), source.num_classes)
    model.set_weights(final_weights)

    steady = checkpoint.train_seconds[1:] or checkpoint.train_seconds or [math.nan]
    metrics = {
        "model": config.model,
        "dataset": config.dataset,
        "recipe": config.recipe,
        "epochs": config.epochs,
        "resumed_from_epoch": initial_epoch,
        "batch_size": config.batch_size,
        "image_size": size,
        "input_shape": list(input_shape),
        "classes": source.num_classes,
        "class_names": list(source.class_names),
        "split_sizes": source.split_sizes(),
        "optimizer": config.optimizer,
        "learning_rate": learning_rate,
        "schedule": config.schedule,
        "weight_decay": config.weight_decay,
        "weight_decay_mode": config.weight_decay_mode,
        "label_smoothing": config.label_smoothing,
        "augment": config.augment,
        "precision": config.precision,
        "seed": config.seed,
        "strategy": type(strategy).__name__,
        "replicas": replicas,
        "backend": keras.backend.backend(),
        "params": int(model.count_params()),
        "trainable_params": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
        "evaluated": "best validation epoch" if checkpoint.best_epoch else "final",
        "best_epoch": checkpoint.best_epoch,
        "best_val_accuracy": checkpoint.best,
        "test_accuracy": float(results[accuracy_key]),
        "test_loss": float(results["loss"]),
        "train_images_per_sec": float(len(y_train) / statistics.median(steady)),
        "epoch_train_seconds": checkpoint.train_seconds,
        "model_kwargs": config.model_kwargs,
        "skipped_files": len(source.skipped),
        "normalization": {"mean": [float(v) for v in mean], "std": [float(v) for v in std]},
        "data_dir": config.data_dir,
        "val_fraction": config.val_fraction,
    }
    metrics["chief"] = chief
    plot_confusion(cm, source.class_names, os.path.join(run_dir, "confusion.png"))
    _write_progress(checkpoint, run_dir)
    metrics["wall_seconds"] = round(time.perf_counter() - wall_start, 2)
    write_json_atomic(os.path.join(run_dir, "metrics.json"), metrics)
    return metrics


def summary_line(metrics: dict) -> str:
    return (f"{metrics['model']} on {metrics['dataset']}: test_accuracy="
            f"{metrics['test_accuracy']:.4f} test_loss={metrics['test_loss']:.4f} "
            f"({metrics['epochs']} epochs, {metrics['train_images_per_sec']:.1f} train img/s, "
            f"{metrics['wall_seconds']:.0f} s)")
