"""Building and compiling a registry model for training: the one set-up that
:func:`kerascnn.training.engine.run` and the tuner share.

:func:`build_compiled`: mixed-precision policy, float32 outputs, synchronized
BatchNorm under several replicas, L2 or decoupled weight decay, the loss (label
smoothing, soft labels of mixup/cutmix, auxiliary heads), the learning-rate
schedule and the optimizer. The accuracy metric is always named ``accuracy``
(sparse or categorical, by the labels), so the validation key is
``val_accuracy`` (``val_<main output>_accuracy`` with auxiliary heads).
"""

from __future__ import annotations

import keras

from kerascnn import registry
from kerascnn.training import strategy as strategies
from kerascnn.training.optim import apply_l2, make_optimizer, make_schedule

__all__ = ["build_compiled", "make_loss", "PRECISION_POLICIES"]

PRECISION_POLICIES = {"fp32": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}


def make_loss(label_smoothing: float, num_outputs: int = 1, aux_loss_weight: float = 0.3,
              one_hot: bool = False):
    """(loss, loss_weights, metrics) for ``num_outputs`` classifier outputs.

    With label smoothing, or ``one_hot`` soft labels (mixup, cutmix), the
    labels are one-hot (the pipeline's ``one_hot``).
    """
    if label_smoothing or one_hot:
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing)
        metric = keras.metrics.CategoricalAccuracy(name="accuracy")
    else:
        loss = keras.losses.SparseCategoricalCrossentropy()
        metric = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
    if num_outputs == 1:
        return loss, None, [metric]
    return ([loss] * num_outputs, [1.0] + [aux_loss_weight] * (num_outputs - 1),
            [[metric]] + [[] for _ in range(num_outputs - 1)])


def _float32_outputs(model):
    if all(t.dtype == "float32" for t in model.outputs):
        return model
    outputs = [keras.layers.Activation("linear", dtype="float32", name=f"{t.name}_f32")(t)
               if t.dtype != "float32" else t for t in model.outputs]
    return keras.Model(model.inputs, outputs if len(outputs) > 1 else outputs[0],
                       name=model.name)


def build_compiled(config, *, input_shape, classes, steps_per_epoch, model_name=None,
                   model_kwargs=None, replicas=1, model_fn=None, learning_rate=None,
                   one_hot=False):
    """Builds ``config.model`` (or ``model_name``) and compiles it as ``engine.run`` does.

    Call it inside the distribution strategy's scope.

    Args:
        config: a :class:`kerascnn.training.engine.FitConfig` (optimizer,
            learning_rate, momentum, nesterov, rho, epsilon, weight_decay,
            weight_decay_mode, clipnorm, schedule and its settings, epochs,
            label_smoothing, aux_loss_weight, precision, jit_compile).
        input_shape, classes: the model's input shape and number of classes.
        steps_per_epoch: optimizer steps per epoch (for the schedule).
        model_name, model_kwargs: registry name and constructor arguments
            (default ``config.model`` and ``config.model_kwargs``).
        replicas: replicas in sync (BatchNorm is synchronized when > 1).
        model_fn: optional ``fn(input_shape, classes) -> keras.Model`` used
            instead of the registry.
        learning_rate: overrides ``config.learning_rate`` (after scaling rules).
        one_hot: the labels are one-hot (mixup/cutmix soft labels).

    Returns:
        The compiled ``keras.Model``.
    """
    keras.mixed_precision.set_global_policy(PRECISION_POLICIES[config.precision])
    try:
        if model_fn is not None:
            model = model_fn(input_shape, classes)
        else:
            kwargs = dict(config.model_kwargs if model_kwargs is None else model_kwargs)
            # get_spec().build: the kwargs may hold the model's ``name``.
            model = registry.get_spec(model_name or config.model).build(
                input_shape=input_shape, classes=classes, **kwargs)
        if config.precision != "fp32":
            model = _float32_outputs(model)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    if replicas > 1:
        strategies.sync_batchnorm(model)
    decoupled = config.weight_decay_mode == "decoupled"
    if config.weight_decay and not decoupled:
        apply_l2(model, config.weight_decay)
    loss, loss_weights, metrics = make_loss(config.label_smoothing, len(model.outputs),
                                            config.aux_loss_weight, one_hot=one_hot)
    schedule = make_schedule(
        config.schedule, config.learning_rate if learning_rate is None else learning_rate,
        steps_per_epoch=steps_per_epoch,
        epochs=config.epochs, lr_steps=config.lr_steps, decay_rate=config.decay_rate,
        decay_epochs=config.decay_epochs, warmup_epochs=config.warmup_epochs)
    optimizer = make_optimizer(
        config.optimizer, schedule, momentum=config.momentum, nesterov=config.nesterov,
        weight_decay=config.weight_decay, decoupled=decoupled, clipnorm=config.clipnorm,
        rho=config.rho, epsilon=config.epsilon)
    model.compile(optimizer=optimizer, loss=loss, loss_weights=loss_weights, metrics=metrics,
                  jit_compile={"auto": "auto", "on": True, "off": False}[config.jit_compile])
    return model
