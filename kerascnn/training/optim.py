"""Optimizers, learning-rate schedules, weight decay."""

from __future__ import annotations

import keras

__all__ = ["OPTIMIZERS", "SCHEDULES", "make_schedule", "make_optimizer", "apply_l2",
           "WarmupSchedule", "StepSchedule"]

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULES = ("constant", "step", "exponential", "cosine")


@keras.saving.register_keras_serializable(package="kerascnn")
class StepSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """The learning rate divided by ``factor`` at each boundary step."""

    def __init__(self, learning_rate, boundaries, factor=10.0):
        self.learning_rate = float(learning_rate)
        self.boundaries = [int(b) for b in boundaries]
        self.factor = float(factor)

    def __call__(self, step):
        lr = keras.ops.convert_to_tensor(self.learning_rate, "float32")
        step = keras.ops.cast(step, "float32")
        for boundary in self.boundaries:
            lr = keras.ops.where(step >= boundary, lr / self.factor, lr)
        return lr

    def get_config(self):
        return {"learning_rate": self.learning_rate, "boundaries": self.boundaries,
                "factor": self.factor}


@keras.saving.register_keras_serializable(package="kerascnn")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0 over ``warmup_steps``, then ``schedule``."""

    def __init__(self, schedule, warmup_steps):
        self.schedule = schedule
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        step_f = keras.ops.cast(step, "float32")
        after = self.schedule(step) if callable(self.schedule) else self.schedule
        after = keras.ops.cast(after, "float32")
        factor = keras.ops.minimum(1.0, (step_f + 1.0) / float(max(1, self.warmup_steps)))
        return after * factor

    def get_config(self):
        return {"schedule": keras.optimizers.schedules.serialize(self.schedule)
                if not isinstance(self.schedule, float) else self.schedule,
                "warmup_steps": self.warmup_steps}

    @classmethod
    def from_config(cls, config):
        schedule = config["schedule"]
        if isinstance(schedule, dict):
            schedule = keras.optimizers.schedules.deserialize(schedule)
        return cls(schedule, config["warmup_steps"])


def make_schedule(name, learning_rate, *, steps_per_epoch, epochs, lr_steps=(0.5, 0.75),
                  decay_rate=0.94, decay_epochs=2.0, warmup_epochs=0.0):
    """A learning-rate schedule over the whole run.

    Args:
        name: constant, step (divide by 10 at the ``lr_steps`` fractions of
            the run), exponential (``decay_rate`` every ``decay_epochs``),
            cosine (to 0 at the end).
        warmup_epochs: linear warm-up from 0 over this many epochs first.
    """
    total = max(1, steps_per_epoch * epochs)
    if name == "constant":
        schedule = float(learning_rate)
    elif name == "step":
        schedule = StepSchedule(learning_rate, [round(f * total) for f in lr_steps])
    elif name == "exponential":
        schedule = keras.optimizers.schedules.ExponentialDecay(
            learning_rate, max(1, round(decay_epochs * steps_per_epoch)), decay_rate,
            staircase=True)
    elif name == "cosine":
        schedule = keras.optimizers.schedules.CosineDecay(learning_rate, total)
    else:
        raise ValueError(f"Unknown schedule {name!r}; allowed: {', '.join(SCHEDULES)}.")
    if warmup_epochs and warmup_epochs > 0:
        schedule = WarmupSchedule(schedule, round(warmup_epochs * steps_per_epoch))
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
