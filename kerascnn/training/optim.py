"""Optimizers, learning-rate schedules, weight decay: keras' own, configured from flags."""

from __future__ import annotations

import math

import keras

from kerascnn.training.config import OPTIMIZERS, SCHEDULES
from kerascnn.training.schedules import AccumulatedSchedule, WarmupSchedule

__all__ = ["OPTIMIZERS", "SCHEDULES", "make_schedule", "make_optimizer", "apply_l2",
           "WarmupSchedule", "AccumulatedSchedule", "ema_variables", "swap_ema"]


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

    ``steps_per_epoch`` counts optimizer steps (a fraction under gradient accumulation).
    """
    total = max(1, math.ceil(steps_per_epoch * epochs))
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
                   decoupled=False, clipnorm=None, rho=0.9, epsilon=None, global_clipnorm=None,
                   ema=None, ema_warmup=False, gradient_accumulation_steps=None):
    """An optimizer; ``decoupled`` weight decay is applied by the optimizer itself.

    ``global_clipnorm``, ``gradient_accumulation_steps`` and ``ema`` (keras' ``use_ema`` with
    ``ema_momentum=ema``) are keras' own options. With ``gradient_accumulation_steps`` the
    learning-rate schedule is given the optimizer step (:class:`AccumulatedSchedule`).
    With ``ema`` the optimizer is keras' own with two changes (:func:`_with_ema`): the
    average moves once per optimizer step (keras moves it at every micro-batch under
    accumulation), at ``min(ema, (1 + n) / (10 + n))`` with ``ema_warmup``; and keras' end
    of ``fit`` does not overwrite the weights with it: the run swaps the average in for
    evaluation and the saved models (:func:`swap_ema`) and keeps training the live weights.
    """
    if gradient_accumulation_steps and isinstance(
            learning_rate, keras.optimizers.schedules.LearningRateSchedule):
        learning_rate = AccumulatedSchedule(learning_rate, gradient_accumulation_steps)
    common = {"learning_rate": learning_rate}
    if clipnorm:
        common["clipnorm"] = float(clipnorm)
    if global_clipnorm:
        common["global_clipnorm"] = float(global_clipnorm)
    if gradient_accumulation_steps:
        common["gradient_accumulation_steps"] = int(gradient_accumulation_steps)
    if ema is not None:
        common.update(use_ema=True, ema_momentum=float(ema), ema_overwrite_frequency=None)
    if decoupled and weight_decay:
        common["weight_decay"] = float(weight_decay)
    classes = {"sgd": keras.optimizers.SGD, "adam": keras.optimizers.Adam,
               "adamw": keras.optimizers.AdamW, "rmsprop": keras.optimizers.RMSprop,
               "lamb": keras.optimizers.Lamb}
    if name not in classes:
        raise ValueError(f"Unknown optimizer {name!r}; allowed: {', '.join(OPTIMIZERS)}.")
    cls = _with_ema(classes[name], ema_warmup) if ema is not None else classes[name]
    if name == "sgd":
        return cls(momentum=momentum, nesterov=nesterov, **common)
    if name == "adamw":
        common.setdefault("weight_decay", 0.0)
    if name == "rmsprop":
        return cls(rho=rho, epsilon=epsilon or 1e-7, **common)
    return cls(epsilon=epsilon or 1e-7, **common)


_EMA_CLASSES = {}


def _with_ema(base, warmup: bool):
    """``base`` (a keras optimizer class) whose weight average moves once per optimizer
    step, warmed up when ``warmup``, and is not written over the weights by ``fit``."""
    key = (base, bool(warmup))
    if key in _EMA_CLASSES:
        return _EMA_CLASSES[key]

    def _update_model_variables_moving_average(self, trainable_variables):
        if not self.use_ema:
            return
        ops = keras.ops
        step = ops.cast(self.iterations, "float32")  # optimizer steps so far
        decay = ops.convert_to_tensor(self.ema_momentum, "float32")
        if warmup:
            decay = ops.minimum(decay, (1.0 + step) / (10.0 + step))
        momentum = ops.where(ops.equal(step, 0.0), 0.0, decay)  # the first step: the weights
        if self.gradient_accumulation_steps:  # this call ends a micro-batch: an update?
            updated = ops.equal(ops.mod(self._iterations + 1,
                                        self.gradient_accumulation_steps), 0)
            momentum = ops.where(updated, momentum, 1.0)
        for var, average in zip(trainable_variables, self._model_variables_moving_average):
            if average is not None:
                m = ops.cast(momentum, var.dtype)
                average.assign(ops.add(ops.multiply(m, average),
                                       ops.multiply(ops.subtract(1, m), var)))

    def finalize_variable_values(self, var_list):
        return None  # the run swaps the average in where it is used (swap_ema)

    cls = type(base.__name__, (base,), {
        "_update_model_variables_moving_average": _update_model_variables_moving_average,
        "finalize_variable_values": finalize_variable_values,
        "__module__": __name__,
        "__doc__": f"keras' {base.__name__} with kerascnn's weight average (--ema).",
    })
    _EMA_CLASSES[key] = cls
    return cls


def ema_variables(model):
    """``[(variable, average)]`` of ``model``'s optimizer when it keeps a weight average
    (``--ema``), else ``[]``."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not getattr(optimizer, "use_ema", False):
        return []
    averages = getattr(optimizer, "_model_variables_moving_average", None)
    if not averages:
        return []
    return [(v, a) for v, a in zip(optimizer._trainable_variables, averages) if a is not None]


def swap_ema(model) -> bool:
    """Exchanges ``model``'s trainable weights with the optimizer's averages (a second call
    swaps them back, bit for bit); returns False when there is no average."""
    pairs = ema_variables(model)
    for variable, average in pairs:
        live = keras.ops.convert_to_numpy(variable)
        variable.assign(keras.ops.convert_to_numpy(average))
        average.assign(live)
    return bool(pairs)


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
