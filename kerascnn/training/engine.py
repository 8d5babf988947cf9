"""The training run behind ``scripts/fit.py``: data in, model built and compiled
under the distribution strategy, trained, evaluated, and the results written
atomically into the run directory.

A batch's path: :func:`kerascnn.data.load_source` (uint8 arrays per split) ->
:func:`kerascnn.data.make_dataset` (tf.data: shuffle, batch, resize, channels,
standardise, prefetch) -> the registry's model -> ``model.fit`` ->
``history.csv``, ``metrics.json``, ``model.keras``, ``curves.png``.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import statistics
import time

import keras
import numpy as np

from kerascnn import registry
from kerascnn.data import EpochCounter, load_source, make_dataset, source_kind
from kerascnn.data.augment import build_augmentation
from kerascnn.data.pipeline import channel_stats
from kerascnn.training.strategy import get_strategy, num_replicas, sync_batchnorm
from kerascnn.utils.io import atomic_path, atomic_write, write_json_atomic

__all__ = ["FitConfig", "OPTIMIZERS", "AUX_LOSS_WEIGHT", "run", "make_optimizer",
           "ConfigError"]

OPTIMIZERS = ("adam", "sgd", "rmsprop", "adamw")
SCHEDULES = ("constant", "cosine")
# Loss weight of each auxiliary classifier (GoogLeNet, Inception v3).
AUX_LOSS_WEIGHT = 0.3
RUN_FILES = ("metrics.json", "history.csv", "model.keras")


class ConfigError(ValueError):
    """A bad run configuration (one-line message)."""


@dataclasses.dataclass
class FitConfig:
    model: str = "resnet50"
    dataset: str = "fashion_mnist"
    data_dir: str | None = None
    epochs: int = 1
    batch_size: int = 64
    image_size: int | None = None
    learning_rate: float = 1e-3
    optimizer: str = "adam"
    schedule: str = "cosine"
    seed: int = 0
    output_dir: str | None = None  # default: runs/<model>_<dataset>_<time>
    strategy: str = "auto"
    val_fraction: float = 0.1
    model_kwargs: dict = dataclasses.field(default_factory=dict)
    overwrite: bool = False
    verbose: int = 1
    augment: str = "none"  # kerascnn.data.augment presets or a comma list
    strict: bool = False  # stop at an unreadable data file instead of skipping it


def make_schedule(name: str, learning_rate: float, total_steps: int):
    """The learning rate: constant, or cosine decay to 0 over the whole run."""
    if name == "constant":
        return learning_rate
    if name == "cosine":
        return keras.optimizers.schedules.CosineDecay(learning_rate, max(1, total_steps))
    raise ConfigError(f"Unknown schedule {name!r}; allowed: {', '.join(SCHEDULES)}.")


def make_optimizer(name: str, learning_rate):
    if name == "adam":
        return keras.optimizers.Adam(learning_rate)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=0.9)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate)
    if name == "adamw":
        return keras.optimizers.AdamW(learning_rate)
    raise ConfigError(f"Unknown optimizer {name!r}; allowed: {', '.join(OPTIMIZERS)}.")


def default_output_dir(config: FitConfig) -> str:
    return os.path.join("runs", f"{config.model}_{config.dataset}_{time.strftime('%Y%m%d-%H%M%S')}")


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
    if config.epochs < 1:
        raise ConfigError(f"--epochs must be a positive integer; got {config.epochs}.")
    if config.batch_size < 1:
        raise ConfigError(f"--batch-size must be a positive integer; got {config.batch_size}.")
    if config.image_size is not None and config.image_size < info["min_input_size"]:
        raise ConfigError(
            f"--image-size {config.image_size} is below {config.model}'s minimum input size "
            f"{info['min_input_size']}."
        )
    if not config.learning_rate > 0:
        raise ConfigError(f"--learning-rate must be positive; got {config.learning_rate}.")
    if config.optimizer not in OPTIMIZERS:
        raise ConfigError(
            f"Unknown optimizer {config.optimizer!r}; allowed: {', '.join(OPTIMIZERS)}.")
    if config.schedule not in SCHEDULES:
        raise ConfigError(
            f"Unknown schedule {config.schedule!r}; allowed: {', '.join(SCHEDULES)}.")
    if not 0 <= config.val_fraction < 1:
        raise ConfigError(f"--val-fraction must be in [0, 1); got {config.val_fraction}.")
    try:
        build_augmentation(config.augment, (32, 32), pca=([1.0], [[1.0]]))
    except ValueError as e:
        raise ConfigError(f"--augment: {e}") from None
    existing = [f for f in RUN_FILES if os.path.exists(os.path.join(config.output_dir, f))]
    if existing and not config.overwrite:
        raise ConfigError(
            f"--output-dir {config.output_dir} already holds a run ({', '.join(existing)}); "
            "choose another directory or pass --overwrite."
        )
    return info


class _EpochTimer(keras.callbacks.Callback):
    """Wall time of the training part of each epoch (validation excluded)."""

    def __init__(self):
        super().__init__()
        self.train_seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()
        self._last = None

    def on_train_batch_end(self, batch, logs=None):
        self._last = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.train_seconds.append((self._last or time.perf_counter()) - self._start)


class _KeepBest(keras.callbacks.Callback):
    """Keeps the weights of the epoch with the best validation accuracy and
    restores them when training ends (the model written and evaluated)."""

    def __init__(self, monitor):
        super().__init__()
        self.monitor = monitor
        self.best = -np.inf
        self.best_epoch = None
        self._weights = None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is not None and value > self.best:
            self.best, self.best_epoch = float(value), epoch + 1
            self._weights = self.model.get_weights()

    def on_train_end(self, logs=None):
        if self._weights is not None:
            self.model.set_weights(self._weights)


def _main_metric(logs: dict, metric: str, output_names) -> float:
    """The main head's metric in Keras' logs (single- or multi-output)."""
    if metric in logs:
        return float(logs[metric])
    key = f"{output_names[0]}_{metric}"
    return float(logs[key])


def _history_csv(history: dict) -> str:
    keys = sorted(history)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["epoch"] + keys)
    for epoch in range(len(history[keys[0]]) if keys else 0):
        writer.writerow([epoch + 1] + [f"{float(history[k][epoch]):.6g}" for k in keys])
    return out.getvalue()


def _plot_curves(history: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for key in sorted(history):
            if key.endswith(metric) and (key in (metric, f"val_{metric}") or "_" in key):
                ax.plot(range(1, len(history[key]) + 1), history[key], marker="o", label=key)
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)


def run(config: FitConfig) -> dict:
    """Trains ``config.model`` on ``config.dataset``; returns the metrics dict."""
    wall_start = time.perf_counter()
    info = validate(config)
    keras.utils.set_random_seed(config.seed)

    local = source_kind(config.dataset, config.data_dir) == "local"
    source = load_source(config.dataset, config.data_dir, config.val_fraction, config.seed,
                         strict=config.strict, image_size=config.image_size if local else None)
    mixing = any(layer.needs_labels for layer in build_augmentation(
        config.augment, (32, 32), pca=([1.0], [[1.0]])))
    channels = info["default_input_shape"][-1]
    native = source.image_shape[0]
    size = config.image_size or max(native, info["min_input_size"])
    input_shape = (size, size, channels)

    x_train, y_train = source.splits["train"]
    steps_per_epoch = -(-len(y_train) // config.batch_size)
    strategy = get_strategy(config.strategy)
    replicas = num_replicas(strategy)
    with strategy.scope():
        try:
            model = registry.create_model(config.model, input_shape=input_shape,
                                          classes=source.num_classes, **config.model_kwargs)
        except TypeError as e:
            raise ConfigError(f"Bad model arguments for {config.model}: {e}") from None
        if replicas > 1:
            sync_batchnorm(model)
        outputs = len(model.outputs)
        loss = (keras.losses.CategoricalCrossentropy() if mixing
                else keras.losses.SparseCategoricalCrossentropy())
        model.compile(
            optimizer=make_optimizer(config.optimizer, make_schedule(
                config.schedule, config.learning_rate, steps_per_epoch * config.epochs)),
            loss=[loss] * outputs if outputs > 1 else loss,
            loss_weights=[1.0] + [AUX_LOSS_WEIGHT] * (outputs - 1) if outputs > 1 else None,
            metrics=[["accuracy"]] + [[] for _ in range(outputs - 1)] if outputs > 1
            else ["accuracy"],
        )
    output_names = [t._keras_history[0].name for t in model.outputs]

    mean, std = channel_stats(x_train, channels)
    common = dict(batch_size=config.batch_size, image_size=(size, size), channels=channels,
                  mean=mean, std=std, num_outputs=outputs, num_classes=source.num_classes,
                  one_hot=mixing)
    epoch_counter = EpochCounter()  # order and augmentation are functions of (seed, epoch)
    train_ds = make_dataset(x_train, y_train, training=True, seed=config.seed, epoch=epoch_counter,
                            augment=None if config.augment == "none" else config.augment,
                            **common)
    val_ds = make_dataset(*source.splits["val"], **common) if "val" in source.splits else None
    test_ds = make_dataset(*source.splits["test"], **common)

    timer = _EpochTimer()
    callbacks = [timer, epoch_counter.callback()]
    keep_best = None
    if val_ds is not None:
        monitor = "val_accuracy" if outputs == 1 else f"val_{output_names[0]}_accuracy"
        keep_best = _KeepBest(monitor)
        callbacks.append(keep_best)
    history = model.fit(train_ds, validation_data=val_ds, epochs=config.epochs,
                        callbacks=callbacks, verbose=config.verbose)
    results = model.evaluate(test_ds, return_dict=True, verbose=0)

    steady = timer.train_seconds[1:] or timer.train_seconds
    metrics = {
        "model": config.model,
        "dataset": config.dataset,
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        "image_size": size,
        "input_shape": list(input_shape),
        "classes": source.num_classes,
        "split_sizes": source.split_sizes(),
        "optimizer": config.optimizer,
        "learning_rate": config.learning_rate,
        "schedule": config.schedule,
        "best_epoch": keep_best.best_epoch if keep_best else config.epochs,
        "best_val_accuracy": keep_best.best if keep_best and keep_best.best_epoch else None,
        "seed": config.seed,
        "replicas": replicas,
        "backend": keras.backend.backend(),
        "params": int(model.count_params()),
        "trainable_params": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
        "test_accuracy": _main_metric(results, "accuracy", output_names),
        "test_loss": float(results["loss"]),
        "train_images_per_sec": float(len(y_train) / statistics.median(steady)),
        "epoch_train_seconds": [round(s, 3) for s in timer.train_seconds],
        "model_kwargs": config.model_kwargs,
        "augment": config.augment,
        "skipped_files": len(source.skipped),
        "normalization": {"mean": [float(v) for v in mean], "std": [float(v) for v in std]},
        "data_dir": config.data_dir,
        "val_fraction": config.val_fraction,
    }

    os.makedirs(config.output_dir, exist_ok=True)
    with atomic_path(os.path.join(config.output_dir, "model.keras")) as tmp:
        model.save(tmp)
    atomic_write(os.path.join(config.output_dir, "history.csv"), _history_csv(history.history))
    _plot_curves(history.history, os.path.join(config.output_dir, "curves.png"))
    metrics["wall_seconds"] = round(time.perf_counter() - wall_start, 2)
    write_json_atomic(os.path.join(config.output_dir, "metrics.json"), metrics)
    return metrics


def summary_line(metrics: dict) -> str:
    return (f"{metrics['model']} on {metrics['dataset']}: test_accuracy="
            f"{metrics['test_accuracy']:.4f} test_loss={metrics['test_loss']:.4f} "
            f"({metrics['epochs']} epochs, {metrics['train_images_per_sec']:.1f} train img/s, "
            f"{metrics['wall_seconds']:.0f} s)")


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(dataclasses.asdict(FitConfig()), indent=2))
