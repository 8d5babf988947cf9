"""The end of a run: the saved model scores the test split; metrics, history, plots.

The test accuracy in ``metrics.json`` is that of the saved file it names
(``best.keras``, or ``model.keras`` without a validation split), loaded back and
fed the raw test images: ``keras.saving.load_model(path).predict(images)``
gives exactly that accuracy. ``test_accuracy_of`` gives both saved models' (best.keras
and model.keras), and the run warns when they differ by more than one test image.
"""

from __future__ import annotations

import csv
import io
import math
import os
import statistics
import time

import keras
import numpy as np

from kerascnn.training.callbacks import averaged_weights, save_model
from kerascnn.training.model import PREPROCESSING_PREFIX
from kerascnn.training.plots import plot_confusion, plot_curves
from kerascnn.utils.io import atomic_path, atomic_write, write_json_atomic

__all__ = ["report", "score", "write_progress", "history_csv", "summary_line", "core_params",
           "disagreement"]


def history_csv(rows) -> str:
    """history.csv's text, one row per epoch.

    keras' ``CSVLogger`` appends a row per epoch, so a run killed between its row
    and the checkpoint repeats or loses that row when resumed; this file is
    rewritten atomically from the checkpointed history instead.
    """
    keys = sorted({k for row in rows for k in row if k != "epoch"})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["epoch"] + keys)
    for row in rows:
        writer.writerow([row["epoch"]] + [f"{row[k]:.6g}" if k in row else "" for k in keys])
    return out.getvalue()


def write_progress(checkpoint, run_dir) -> None:
    atomic_write(os.path.join(run_dir, "history.csv"), history_csv(checkpoint.history))
    plot_curves(checkpoint.history, os.path.join(run_dir, "curves.png"),
                best_epoch=checkpoint.best_epoch)


def _at_best(checkpoint, key):
    """``key``'s value in the history row of the best epoch (None without one)."""
    for row in checkpoint.history:
        if row["epoch"] == checkpoint.best_epoch:
            value = row.get(key)
            if value is None:  # auxiliary heads: val_<main>_accuracy
                value = next((v for k, v in row.items()
                              if k.startswith("val_") and k.endswith("_accuracy")), None)
            return value
    return None


def core_params(model) -> tuple[int, int]:
    """(parameters, trainable parameters) of the network, preprocessing layers excluded."""
    layers = [layer for layer in model.layers
              if not layer.name.startswith(PREPROCESSING_PREFIX)
              and not isinstance(layer, keras.layers.InputLayer)]
    total = sum(layer.count_params() for layer in layers)
    trainable = sum(int(np.prod(w.shape)) for layer in layers for w in layer.trainable_weights)
    return int(total), int(trainable)


def score(model, dataset, labels, num_classes) -> dict:
    """Accuracy, loss, top-5 (more than 5 classes) and the predicted classes of
    ``model`` on ``dataset`` (raw images), in the order of ``labels``."""
    predictions = model.predict(dataset, verbose=0)
    if isinstance(predictions, (list, tuple)):
        predictions = predictions[0]
    predictions = np.asarray(predictions, np.float32)
    labels = np.asarray(labels).reshape(-1)
    predicted = np.argmax(predictions, axis=-1)
    result = {"accuracy": float(np.mean(predicted == labels)),
              "loss": float(keras.losses.SparseCategoricalCrossentropy()(labels, predictions)),
              "predicted": predicted}
    if num_classes > 5:
        top5 = keras.metrics.SparseTopKCategoricalAccuracy(k=5)
        top5.update_state(labels, predictions)
        result["top5_accuracy"] = float(top5.result())
    return result


def confusion(labels, predicted, num_classes) -> np.ndarray:
    import tensorflow as tf

    return tf.math.confusion_matrix(labels, predicted, num_classes=num_classes).numpy()


def report(state) -> dict:
    """Saves model.keras, scores the saved best model on the test split, writes
    metrics.json, history.csv, curves.png and confusion.png; returns the metrics."""
    config, data, checkpoint, model = state.config, state.data, state.checkpoint, state.model
    run_dir = state.run_dir
    with atomic_path(os.path.join(run_dir, "model.keras")) as tmp:
        with averaged_weights(model):  # --ema: the saved models hold the average
            save_model(model, tmp)
    best_path = os.path.join(run_dir, "best.keras")
    if checkpoint.best_epoch is not None and os.path.exists(best_path):
        evaluated, model_file = f"best validation epoch ({checkpoint.best_epoch})", "best.keras"
    else:
        evaluated, model_file = "final epoch", "model.keras"
    test = data.eval_dataset("test", batch_size=config.batch_size, size=state.size)
    labels = data.labels("test")
    scored = _score_files(run_dir, model_file, checkpoint, test, labels, data.num_classes)
    result = scored[model_file]
    cm = confusion(labels, result["predicted"], data.num_classes)

    steady = checkpoint.train_seconds[1:] or checkpoint.train_seconds or [math.nan]
    params, trainable = core_params(model)
    # what the model's preprocess_normalize holds: the data's statistics, or those the
    # pretrained weights (--weights) were trained with
    normalize = model.get_layer(f"{PREPROCESSING_PREFIX}normalize")
    mean = np.ravel(keras.ops.convert_to_numpy(normalize.mean))
    std = np.sqrt(np.ravel(keras.ops.convert_to_numpy(normalize.variance)))
    metrics = {
        "model": config.model,
        "dataset": config.dataset,
        "data_dir": config.data_dir,
        "recipe": config.recipe,
        "recipe_adapted": list(getattr(state, "adapted", ())),
        "epochs": config.epochs,
        "resumed_from_epoch": state.initial_epoch,
        "batch_size": config.batch_size,
        "image_size": state.size,
        "input_shape": list(model.inputs[0].shape[1:]),
        "classes": data.num_classes,
        "class_names": list(data.class_names),
        "split_sizes": dict(data.info.split_sizes),
        "optimizer": config.optimizer,
        "learning_rate": config.scaled_learning_rate(),
        "schedule": config.schedule,
        "weight_decay": config.weight_decay,
        "weight_decay_mode": config.weight_decay_mode,
        "label_smoothing": config.label_smoothing,
        "augment": config.augment,
        "precision": config.precision,
        "seed": config.seed,
        "strategy": type(state.strategy).__name__,
        "replicas": int(getattr(state.strategy, "num_replicas_in_sync", 1)),
        "backend": keras.backend.backend(),
        "params": params,
        "trainable_params": trainable,
        "model_file": model_file,
        "evaluated": evaluated,
        "best_epoch": checkpoint.best_epoch,
        "monitor": checkpoint.monitor,
        "best_val_score": checkpoint.best_value,
        "best_val_accuracy": _at_best(checkpoint, "val_accuracy"),
        "stopped_early_at": checkpoint.stopped_early,
        "precise_bn_images": state.precise_bn_images,
        "ema": config.ema,
        "ema_warmup": config.ema_warmup if config.ema is not None else None,
        # which weights validation, the best epoch, precise BN and the saved models use
        "evaluated_weights": ("the exponential moving average of the weights (--ema "
                              f"{config.ema:g}{', warmed up' if config.ema_warmup else ''})"
                              if config.ema is not None else "the trained weights"),
        "grad_accum_steps": config.grad_accum_steps,
        "optimizer_steps": _optimizer_steps(state),
        "clipnorm": config.clipnorm,
        "clip_grad_norm": config.clip_grad_norm,
        "loss": config.loss,
        "train_size": config.train_size or state.size,
        "eval_size": state.size,
        "class_weight": config.class_weight,
        "test_accuracy": result["accuracy"],
        "test_loss": result["loss"],
        # both saved models, loaded back and scored: best.keras (when chosen) and model.keras
        "test_accuracy_of": {name: r["accuracy"] for name, r in scored.items()},
        "train_images_per_sec": float(data.train_size / statistics.median(steady)),
        "epoch_train_seconds": checkpoint.train_seconds,
        "model_kwargs": config.model_kwargs,
        "weights": config.weights,
        "freeze_backbone": config.freeze_backbone,
        "unfreeze_at": config.unfreeze_at if config.freeze_backbone else None,
        "skipped_files": len(data.info.skipped),
        # held by the saved models' preprocess_normalize layer; listed for reference
        "normalization": {"mean": [float(v) for v in mean], "std": [float(v) for v in std]},
        "val_fraction": config.val_fraction,
        "chief": state.chief,
    }
    if "top5_accuracy" in result:
        metrics["test_top5_accuracy"] = result["top5_accuracy"]
    warning = disagreement(metrics)
    if warning:
        metrics["warnings"] = [warning]
    plot_confusion(cm, data.class_names, os.path.join(run_dir, "confusion.png"))
    write_progress(checkpoint, run_dir)
    metrics["wall_seconds"] = round(time.perf_counter() - state.wall_start, 2)
    write_json_atomic(os.path.join(run_dir, "metrics.json"), metrics)
    return metrics


def _optimizer_steps(state) -> int:
    """The optimizer's updates over the run (micro-batches // --grad-accum-steps)."""
    micro = state.steps_per_epoch * len(state.checkpoint.history)
    return micro // state.config.accumulation


def _score_files(run_dir, model_file, checkpoint, test, labels, num_classes) -> dict:
    """``{file: score}`` of ``model_file`` and, when it is best.keras of an earlier epoch
    than the last, of model.keras too (each loaded back from the run directory)."""
    names = [model_file]
    last = checkpoint.history[-1]["epoch"] if checkpoint.history else None
    if model_file == "best.keras" and checkpoint.best_epoch != last:
        names.append("model.keras")
    scored = {}
    for name in names:
        saved = keras.saving.load_model(os.path.join(run_dir, name), compile=False)
        scored[name] = score(saved, test, labels, num_classes)
    if "model.keras" not in scored:  # the best epoch is the last: the same weights
        scored["model.keras"] = scored[model_file]
    return scored


def disagreement(metrics: dict) -> str | None:
    """One line when best.keras and model.keras differ on the test split by more than one
    test image (its resolution), else None."""
    accuracy = metrics.get("test_accuracy_of") or {}
    if "best.keras" not in accuracy or "model.keras" not in accuracy:
        return None
    n = metrics["split_sizes"].get("test", 0)
    best, final = accuracy["best.keras"], accuracy["model.keras"]
    if not n or abs(best - final) <= 1 / n + 1e-9:
        return None
    val = metrics["split_sizes"].get("val", 0)
    return (f"best.keras (epoch {metrics['best_epoch']}, chosen by {metrics['monitor']} on "
            f"{val} validation images) scores {best:.3f} on the {n} test images, model.keras "
            f"(the last epoch) {final:.3f}: the validation split is too small to choose "
            "reliably: raise --val-fraction (metrics.json's test_accuracy_of has both).")


def summary_line(metrics: dict) -> str:
    return (f"{metrics['model']} on {metrics['dataset']}: test_accuracy="
            f"{metrics['test_accuracy']:.4f} test_loss={metrics['test_loss']:.4f} "
            f"({metrics['epochs']} epochs, {metrics['train_images_per_sec']:.1f} train img/s, "
            f"{metrics['wall_seconds']:.0f} s; scored {metrics['model_file']})")
