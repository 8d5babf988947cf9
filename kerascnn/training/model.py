"""The model of a run: preprocessing layers + the registry model, compiled.

:func:`build_model` builds what fit.py trains and saves, and what the tuner's
trials train: a model that takes raw images as a user has them (uint8 or float
0-255, the data's size and channels) and holds its preprocessing as Keras
layers, in this order::

    image (H, W, C of the data; None x None when it resizes)
      -> preprocess_info       DataInfo: the class names (identity)
      -> preprocess_resize     Resizing(size, size, crop_to_aspect_ratio=True)  [if needed]
                               (InferenceResizing: model(x) is inference by default)
      -> preprocess_channels   ChannelConversion(model channels)                [if needed]
      -> preprocess_rescale    Rescaling(1/255)
      -> preprocess_normalize  Normalization(training split's mean, variance)
      -> the registry model's layers

(the last two: :func:`kerascnn.preprocessing.standardization_layers`, which also builds
a weight set's), so ``keras.saving.load_model(path).predict(uint8_images)`` needs nothing outside
the file (``import kerascnn`` first, for kerascnn's custom layers). The
preprocessing layers always compute in float32. The compile set-up: mixed
precision with float32 outputs, synchronized BatchNorm under several replicas,
L2 or decoupled weight decay, the loss (label smoothing, soft labels, auxiliary
heads), the learning-rate schedule and the optimizer; the accuracy metric is
always named ``accuracy`` (``val_accuracy``; with auxiliary heads
``val_<main output>_accuracy``).
"""

from __future__ import annotations

import keras

from kerascnn import api
from kerascnn.layers.channels import ChannelConversion
from kerascnn.layers.info import DataInfo
from kerascnn.layers.resize import InferenceResizing, TrainEvalResizing
from kerascnn.preprocessing import PREPROCESSING_PREFIX, standardization_layers
from kerascnn.training import finetune
from kerascnn.training import strategy as strategies
from kerascnn.training.errors import ConfigError
from kerascnn.training.optim import apply_l2, make_optimizer, make_schedule

__all__ = ["build_model", "compile_model", "make_loss", "OneHotBinaryCrossentropy", "add_preprocessing", "preprocessing_of", "set_bn_momentum",
           "PRECISION_POLICIES", "PREPROCESSING_PREFIX"]

PRECISION_POLICIES = {"fp32": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}


@keras.saving.register_keras_serializable(package="kerascnn")
class OneHotBinaryCrossentropy(keras.losses.BinaryCrossentropy):
    """keras' ``BinaryCrossentropy`` of a sigmoid classifier on one-hot targets, its label
    smoothing that of the categorical loss (``y (1 - s) + s / classes``, as timm's
    ``BinaryCrossEntropy`` used by Wightman et al. 2021, "ResNet strikes back"; keras' own
    smooths every target towards 0.5). The loss is summed over the classes (timm's
    ``binary_cross_entropy`` mean x the classes), so its gradient is of the softmax
    cross-entropy's scale."""

    def __init__(self, label_smoothing=0.0, name="binary_crossentropy", **kwargs):
        kwargs.pop("from_logits", None)
        super().__init__(label_smoothing=0.0, name=name, **kwargs)
        self.smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        y_true = keras.ops.cast(y_true, y_pred.dtype)
        classes = y_pred.shape[-1]
        if self.smoothing:
            y_true = y_true * (1.0 - self.smoothing) + self.smoothing / classes
        return super().call(y_true, y_pred) * float(classes)

    def get_config(self):
        config = super().get_config()
        config["label_smoothing"] = self.smoothing
        return config


def make_loss(label_smoothing: float, num_outputs: int = 1, aux_loss_weight: float = 0.3,
              one_hot: bool = False, loss: str = "ce"):
    """(loss, loss_weights, metrics) for ``num_outputs`` classifier outputs.

    With label smoothing, or ``one_hot`` soft labels (mixup, cutmix), the
    labels are one-hot (the pipeline's ``one_hot``). ``loss="bce"``: binary
    cross-entropy on one-hot targets (:class:`OneHotBinaryCrossentropy`).
    """
    if loss == "bce":
        loss_fn = OneHotBinaryCrossentropy(label_smoothing=label_smoothing)
        metric = keras.metrics.CategoricalAccuracy(name="accuracy")
    elif label_smoothing or one_hot:
        loss_fn = keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing)
        metric = keras.metrics.CategoricalAccuracy(name="accuracy")
    else:
        loss_fn = keras.losses.SparseCategoricalCrossentropy()
        metric = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
    if num_outputs == 1:
        return loss_fn, None, [metric]
    return ([loss_fn] * num_outputs, [1.0] + [aux_loss_weight] * (num_outputs - 1),
            [[metric]] + [[] for _ in range(num_outputs - 1)])


def _float32_outputs(model):
    if all(t.dtype == "float32" for t in model.outputs):
        return model
    outputs = [keras.layers.Activation("linear", dtype="float32", name=f"{t.name}_f32")(t)
               if t.dtype != "float32" else t for t in model.outputs]
    return keras.Model(model.inputs, outputs if len(outputs) > 1 else outputs[0],
                       name=model.name)


def _preprocess(inputs, *, size, channels, mean, std, resize, class_names=(), dataset=None,
                train_size=None):
    x = DataInfo(class_names, dataset, dtype="float32", name=f"{PREPROCESSING_PREFIX}info")(inputs)
    if train_size is not None and train_size != size:
        x = TrainEvalResizing(size, size, train_size, train_size, crop_to_aspect_ratio=True,
                              dtype="float32", name=f"{PREPROCESSING_PREFIX}resize")(x)
    elif resize:
        x = InferenceResizing(size, size, crop_to_aspect_ratio=True, dtype="float32",
                              name=f"{PREPROCESSING_PREFIX}resize")(x)
    if inputs.shape[-1] != channels:
        x = ChannelConversion(channels, dtype="float32",
                              name=f"{PREPROCESSING_PREFIX}channels")(x)
    return standardization_layers(x, mean=mean, std=std, scale=1.0 / 255, rescale=True)


def raw_input_shape(image_shape, size) -> tuple:
    """The saved model's input: the data's (H, W, C), or (None, None, C) when the
    model resizes (the data's size differs from ``size``, or varies)."""
    h, w, c = image_shape
    if (h, w) == (size, size):
        return (h, w, c)
    return (None, None, c)


def add_preprocessing(build, *, image_shape, size, channels, mean, std, name=None,
                      class_names=(), dataset=None, train_size=None):
    """A model that takes raw images: the preprocessing layers, then ``build``'s model.

    Args:
        build: ``fn(input_shape, input_tensor) -> keras.Model``; a kerascnn
            constructor builds on ``input_tensor`` (one flat graph), any other
            model is called on the preprocessed tensor as a nested model.
        image_shape: (H, W, C) of the raw images (H, W None when they vary).
        size: the side of the model's own input.
        channels: the model's channels.
        mean, std: per-channel statistics (0..1 scale) in ``channels``.
        class_names, dataset: what the model's ``preprocess_info`` layer carries.
        train_size: the network's side in training (``--train-size``, FixRes): the resize
            layer is then a :class:`~kerascnn.layers.resize.TrainEvalResizing`.
    """
    shape = raw_input_shape(image_shape, size)
    inputs = keras.Input(shape, name="image", dtype="float32")
    x = _preprocess(inputs, size=size, channels=channels, mean=mean, std=std,
                    resize=shape[:2] != (size, size), class_names=class_names, dataset=dataset,
                    train_size=train_size)
    core = build((size, size, channels), x)
    if list(core.inputs) == [inputs]:
        outputs = core.outputs
    else:  # the constructor ignored input_tensor: nest it
        outputs = core(x)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return keras.Model(inputs, outputs if len(outputs) > 1 else outputs[0],
                       name=name or core.name)


def _accepts(constructor, argument) -> bool:
    import inspect

    try:
        parameters = inspect.signature(constructor).parameters
    except (TypeError, ValueError):
        return False
    return argument in parameters


def set_bn_momentum(model, momentum: float) -> int:
    """Sets the momentum of every BatchNormalization layer; returns how many."""
    count = 0
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = float(momentum)
            count += 1
    return count


def preprocessing_of(model) -> dict | None:
    """What a saved model's preprocessing layers do, or None for a model without them.

    Returns ``{"size": side of the network's input, "channels": its channels,
    "resize": bool, "input_shape": the raw input shape, "class_names": list}``.
    """
    names = {layer.name: layer for layer in model.layers}
    if f"{PREPROCESSING_PREFIX}normalize" not in names:
        return None
    resize = names.get(f"{PREPROCESSING_PREFIX}resize")
    normalize = names[f"{PREPROCESSING_PREFIX}normalize"]
    size = resize.height if resize is not None else model.inputs[0].shape[1]
    info = names.get(f"{PREPROCESSING_PREFIX}info")
    return {"size": int(size), "channels": int(normalize.output.shape[-1]),
            "resize": resize is not None, "input_shape": tuple(model.inputs[0].shape[1:]),
            "class_names": list(info.class_names) if info is not None else None}


def _network_builder(name, classes, kwargs, weights, model_fn):
    """``build(input_shape, input_tensor=None)``: the network, built once (on
    ``input_tensor`` when its constructor takes one), with ``weights`` loaded."""

    def build(input_shape, input_tensor=None):
        if model_fn is not None:
            return model_fn(input_shape, classes)
        spec = api.get_spec(name)
        extra = {}
        if input_tensor is not None and _accepts(spec.entrypoint, "input_tensor"):
            extra["input_tensor"] = input_tensor
        if weights:  # nested in the preprocessing when it takes no input_tensor
            return finetune.pretrained_network(name, weights, input_shape=input_shape,
                                               classes=classes, kwargs=kwargs, **extra)
        # get_spec().build: the kwargs may hold the model's ``name``.
        return spec.build(input_shape=input_shape, classes=classes, **extra, **kwargs)

    return build


def build_model(config, data=None, *, size=None, classes=None, steps_per_epoch=1,
                model_name=None, model_kwargs=None, replicas=1, model_fn=None,
                learning_rate=None, one_hot=None, compile=True):
    """Builds the run's model (with the preprocessing of ``data``) and compiles it.

    Call it inside the distribution strategy's scope.

    Args:
        config: a :class:`~kerascnn.training.config.FitConfig` (model, model_kwargs,
            optimizer and schedule settings, label_smoothing, aux_loss_weight,
            precision, jit_compile).
        data: the :class:`~kerascnn.training.data.TrainingData`; None builds the
            network alone (no preprocessing), at ``size`` for ``classes``.
        size: the side of the network's input (default: from ``data`` and the
            model's minimum input size).
        classes: number of classes (default: the data's).
        steps_per_epoch: optimizer steps per epoch (for the schedule).
        model_name, model_kwargs: registry name and constructor arguments
            (default ``config.model`` and ``config.model_kwargs``).
        replicas: replicas in sync (BatchNorm is synchronized when > 1).
        model_fn: optional ``fn(input_shape, classes) -> keras.Model`` used
            instead of the registry.
        learning_rate: overrides ``config.scaled_learning_rate()``.
        one_hot: one-hot labels (default ``config.one_hot``).
        compile: compile the model (False: build only).

    Returns:
        The (compiled) ``keras.Model``.
    """
    name = model_name or config.model
    kwargs = dict(config.model_kwargs if model_kwargs is None else model_kwargs)
    info = api.model_info(name) if model_fn is None else {
        "min_input_size": 1, "default_input_shape": (None, None, 3)}
    channels = info["default_input_shape"][-1]
    if size is None:
        size = data.model_size(info["min_input_size"]) if data is not None else (
            info["default_input_shape"][0])
    classes = classes or (data.num_classes if data is not None else None)
    weights = getattr(config, "weights", None) if model_fn is None else None
    if weights:
        kwargs = {**finetune.weights_model_kwargs(name, weights), **kwargs}
    if getattr(config, "loss", "ce") == "bce" and model_fn is None:
        if not _accepts(api.get_spec(name).entrypoint, "classifier_activation"):
            raise ConfigError(f"--loss bce needs a sigmoid classifier; {name}'s constructor "
                              "takes no classifier_activation.")
        kwargs["classifier_activation"] = "sigmoid"
    build = _network_builder(name, classes, kwargs, weights, model_fn)
    train_size = getattr(config, "train_size", None)
    keras.mixed_precision.set_global_policy(PRECISION_POLICIES[config.precision])
    try:
        if data is None:
            model = build((size, size, channels))
        else:
            mean, std = data.normalization(channels)
            if weights:  # the inputs normalised as the weights were trained, where known
                known = finetune.weights_normalization(name, weights)
                if known is not None and len(known[0]) == channels:
                    mean, std = known
            model = add_preprocessing(build, image_shape=data.image_shape, size=size,
                                      channels=channels, mean=mean, std=std,
                                      name=kwargs.get("name"), class_names=data.class_names,
                                      dataset=data.info.name, train_size=train_size)
            if train_size is not None and train_size != size:
                _check_train_size(model, name, train_size)
        if config.precision != "fp32":
            model = _float32_outputs(model)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    if getattr(config, "bn_momentum", None) is not None:
        set_bn_momentum(model, config.bn_momentum)
    freeze = getattr(config, "freeze_backbone", False) and model_fn is None
    if not compile:
        if freeze:
            finetune.freeze_backbone(model)
        return model
    if replicas > 1:
        strategies.sync_batchnorm(model)
    if config.weight_decay and config.weight_decay_mode != "decoupled":
        apply_l2(model, config.weight_decay)  # before freezing: it regularizes trainable kernels
    if freeze:
        finetune.freeze_backbone(model)
    epochs = config.epochs
    if freeze and getattr(config, "unfreeze_at", None):
        epochs = config.unfreeze_at  # the frozen phase has its own schedule
    return compile_model(model, config, steps_per_epoch=steps_per_epoch, epochs=epochs,
                         learning_rate=learning_rate, one_hot=one_hot)


def _check_train_size(model, name, train_size) -> None:
    """Refuses ``--train-size`` for a network that cannot take another input size: one
    image through it in training mode, every variable restored afterwards."""
    import numpy as np

    saved = [v.numpy() for v in model.variables]
    shape = tuple(d or train_size for d in model.inputs[0].shape[1:])
    try:
        model(np.zeros((1,) + shape, np.float32), training=True)
    except Exception as e:  # noqa: BLE001  (any failure: the network's fixed size)
        first = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise ConfigError(f"--train-size {train_size}: {name} cannot train at "
                          f"{train_size}x{train_size} and evaluate at another size ({first}); "
                          "leave --train-size out.") from None
    finally:
        for variable, value in zip(model.variables, saved):
            variable.assign(value)


def compile_model(model, config, *, steps_per_epoch=1, epochs=None, learning_rate=None,
                  one_hot=None):
    """Compiles ``model`` with the run's loss, metrics, schedule (over ``epochs``, default
    ``config.epochs``) and a new optimizer; returns it. Fine-tuning calls it again when
    the backbone is unfrozen, at the lowered learning rate over the remaining epochs."""
    decoupled = config.weight_decay_mode == "decoupled"
    loss, loss_weights, metrics = make_loss(
        config.label_smoothing, len(model.outputs), config.aux_loss_weight,
        one_hot=config.one_hot if one_hot is None else one_hot,
        loss=getattr(config, "loss", "ce"))
    accumulation = getattr(config, "grad_accum_steps", None)
    schedule = make_schedule(
        config.schedule, config.scaled_learning_rate() if learning_rate is None
        else learning_rate, steps_per_epoch=steps_per_epoch / (accumulation or 1),
        epochs=config.epochs if epochs is None else epochs, lr_steps=config.lr_steps,
        decay_rate=config.decay_rate,
        decay_epochs=config.decay_epochs, warmup_epochs=config.warmup_epochs)
    optimizer = make_optimizer(
        config.optimizer, schedule, momentum=config.momentum, nesterov=config.nesterov,
        weight_decay=config.weight_decay, decoupled=decoupled, clipnorm=config.clipnorm,
        rho=config.rho, epsilon=config.epsilon,
        global_clipnorm=getattr(config, "clip_grad_norm", None),
        ema=getattr(config, "ema", None), ema_warmup=getattr(config, "ema_warmup", False),
        gradient_accumulation_steps=accumulation)
    model.compile(optimizer=optimizer, loss=loss, loss_weights=loss_weights, metrics=metrics,
                  jit_compile={"auto": "auto", "on": True, "off": False}[config.jit_compile])
    return model
