"""kerascnn's learning-rate schedule that keras lacks, registered with keras so that a saved
run's optimizer loads (imports keras only: :func:`kerascnn.register_serializables` imports
it as soon as keras is imported)."""

from __future__ import annotations

import keras

__all__ = ["WarmupSchedule", "AccumulatedSchedule"]


@keras.saving.register_keras_serializable(package="kerascnn")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0 over ``warmup_steps``, then ``schedule``.

    keras has warm-up only inside ``CosineDecay`` (used for the cosine schedule);
    this wraps the constant, step and exponential schedules."""

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


@keras.saving.register_keras_serializable(package="kerascnn")
class AccumulatedSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """``schedule`` counted in optimizer steps under gradient accumulation.

    keras' optimizers call their schedule with ``_iterations``, which counts micro-batches
    when ``gradient_accumulation_steps`` is set; this gives ``schedule`` the optimizer
    step instead (micro-batch // ``steps``), so warm-up and decay are per update."""

    def __init__(self, schedule, steps):
        self.schedule = schedule
        self.steps = int(steps)

    def __call__(self, step):
        update = keras.ops.floor_divide(step, self.steps)
        value = self.schedule(update) if callable(self.schedule) else self.schedule
        return keras.ops.cast(value, "float32")

    def get_config(self):
        return {"schedule": keras.optimizers.schedules.serialize(self.schedule)
                if not isinstance(self.schedule, float) else self.schedule,
                "steps": self.steps}

    @classmethod
    def from_config(cls, config):
        schedule = config["schedule"]
        if isinstance(schedule, dict):
            schedule = keras.optimizers.schedules.deserialize(schedule)
        return cls(schedule, config["steps"])
