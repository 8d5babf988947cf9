"""Optimizers, learning-rate schedules, weight decay: keras' own, configured from flags."""

from __future__ import annotations

import keras

from kerascnn.training.config import OPTIMIZERS, SCHEDULES
from kerascnn.training.schedules import WarmupSchedule

__all__ = ["OPTIMIZERS", "SCHEDULES", "make_schedule", "make_optimizer", "apply_l2",
           "WarmupSchedule"]




def make_schedule(name, learning_rate, *, steps_per_epoch, epochs, lr_steps=(0.5, 0.75),
                  decay_rate=0.94, decay_epochs=2.0, warmup_epochs=0.0):
    """A learning-rate schedule over the whole run.

    Args:
        name: constant, step (divide by 10 at the ``lr_steps`` fractions of
            the run: ``PiecewiseConstantDecay``), exponential (``decay_rate`` every
            ``decay_epochs``: ``ExponentialDecay``), cosine (to 0 at the end:
            ``CosineDecay``).
        warmup_epochs: linear warm-up from 0 over this many epochs first
            (``CosineDecay``'s own ``warmup_target``/``warmup_steps`` for cosine).
    """
    total = max(1, steps_per_epoch * epochs)
    warmup = round(warmup_epochs * steps_per_epoch) if warmup_epochs and warmup_epochs > 0 else 0
    lr = float(learning_rate)
    if name == "constant":
        schedule = lr
    elif name == "step":
        # PiecewiseConstantDecay keeps values[i] while step <= boundaries[i]
        boundaries = [max(0, round(f * total) - 1) for f in lr_steps]
        schedule = keras.optimizers.schedules.PiecewiseConstantDecay(
            boundaries, [lr / 10 ** i for i in range(len(boundaries) + 1)])
    elif name == "exponential":
        schedule = keras.optimizers.schedules.ExponentialDecay(
            lr, max(1, round(decay_epochs * steps_per_epoch)), decay_rate, staircase=True)
    elif name == "cosine":
        if warmup:
            return keras.optimizers.schedules.CosineDecay(
                0.0, max(1, total - warmup), warmup_target=lr, warmup_steps=warmup)
        return keras.optimizers.schedules.CosineDecay(lr, total)
    else:
        raise ValueError(f"Unknown schedule {name!r}; allowed: {', '.join(SCHEDULES)}.")
    if warmup:
        schedule = WarmupSchedule(schedule, warmup)
    return schedule


def make_optimizer(name, learning_rate, *, momentum=0.9, nesterov=False, weight_decay=0.0,
                   decoupled=False, clipnorm=None, rho=0.9, epsilon=None):
    """An optimizer; ``decoupled`` weight decay is applied by the optimizer itself."""
    common = {"learning_rate": learning_rate}
    if clipnorm:
        common["clipnorm"] = float(clipnorm)
    if decoupled and weight_decay:
        common["weight_decay"] = float(weight_decay)
    if name == "sgd":
        return keras.optimizers.SGD(momentum=momentum, nesterov=nesterov, **common)
    if name == "adam":
        return keras.optimizers.Adam(epsilon=epsilon or 1e-7, **common)
    if name == "adamw":
        common.setdefault("weight_decay", 0.0)
        return keras.optimizers.AdamW(epsilon=epsilon or 1e-7, **common)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(rho=rho, epsilon=epsilon or 1e-7, **common)
    raise ValueError(f"Unknown optimizer {name!r}; allowed: {', '.join(OPTIMIZERS)}.")


def apply_l2(model, weight_decay: float) -> int:
    """L2 weight decay as the papers used it: adds ``wd/2 * ||w||^2`` for every
    convolution and dense kernel (gradient ``wd * w``); BN and biases are not
    decayed. Returns the number of kernels regularized."""
    if not weight_decay:
        return 0
    regularizer = keras.regularizers.L2(weight_decay / 2.0)
    count = 0
    for layer in model._flatten_layers(include_self=False, recursive=True):
        for attr in ("kernel", "depthwise_kernel", "pointwise_kernel"):
            variable = getattr(layer, attr, None)
            if variable is not None and getattr(variable, "trainable", False):
                variable.regularizer = regularizer
                count += 1
    return count
