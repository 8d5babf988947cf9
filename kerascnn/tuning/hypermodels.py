"""keras-tuner HyperModels for every family of the registry.

Every hypermodel searches the training choices (optimizer, learning rate on a
log scale, weight decay, label smoothing, augmentation preset, batch size) and
its family's architecture choices. A trial's model is built and compiled by
:func:`kerascnn.training.model.build_model` (fit.py's own set-up: with the
data's preprocessing layers, so every trial's model takes raw images), and
trained on the pipelines of the run's :class:`~kerascnn.training.data.TrainingData`.

=========================== ==================================================
family (``model_info``)     architecture hyperparameters
=========================== ==================================================
resnet_cifar, preact_...,   ``n`` (blocks per stage), ``width``, ``block``
wide_resnet_cifar           (normal / bottleneck), ``se_ratio`` (0: no SE),
                            ``stochastic_depth`` (p_L; 1.0: off)
densenet                    CIFAR DenseNets: ``depth``, ``growth_rate``,
                            ``bc`` (DenseNet-BC), ``compression`` (BC only)
squeezenet                  ``model`` (1.0 / 1.1), ``bypass`` (none / simple /
                            complex), ``squeeze_ratio`` (when the constructor
                            takes it)
vgg                         ``config`` (A, B, D, E), ``batch_norm``,
                            ``dropout``
inception                   ``model`` (the family's members), ``dropout`` and
                            ``width_multiplier`` where the constructor has them
any other family            ``model`` (the family's registered names)
=========================== ==================================================

Architecture options a constructor does not accept are left out of the space
(read from its signature), so a family module can add them later.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import time

import keras
import keras_tuner as kt
import numpy as np

from kerascnn import api
from kerascnn.data.plan import PRESETS, parse_augment
from kerascnn.training.callbacks import PreciseBatchNorm
from kerascnn.training.config import OPTIMIZERS, FitConfig
from kerascnn.training.model import build_model, preprocessing_of
from kerascnn.tuning.errors import SearchSpaceError
from kerascnn.tuning.space import declare, merge_space

__all__ = ["CNNHyperModel", "GenericHyperModel", "CifarResNetHyperModel",
           "DenseNetHyperModel", "SqueezeNetHyperModel", "VGGHyperModel",
           "InceptionHyperModel", "HYPERMODELS", "TRAINING_SPACE",
           "hypermodel_for", "families", "family_members"]

TRAINING_SPACE = {
    "optimizer": {"values": ["sgd", "adam", "adamw"], "default": "adam"},
    "learning_rate": {"min": 1e-4, "max": 0.1, "sampling": "log", "default": 1e-3},
    "weight_decay": {"min": 1e-6, "max": 1e-3, "sampling": "log", "default": 1e-4},
    "label_smoothing": {"values": [0.0, 0.1], "default": 0.0},
    "augment": {"values": ["none", "standard"], "default": "none"},
    "batch_size": {"values": [32, 64, 128], "default": 64},
}


def families() -> list[str]:
    """The ``family`` values of the registered models, sorted."""
    return sorted({api.model_info(n)["family"] for n in api.list_models()})


def family_members(family: str) -> list[str]:
    """Listed registry names of ``family``, in registration-list order."""
    return [n for n in api.list_models() if api.model_info(n)["family"] == family]


def _possible(spec: dict) -> list:
    """The values a range can take, for checks (ranges: their ends)."""
    if "fixed" in spec:
        return [spec["fixed"]]
    if "values" in spec:
        return list(spec["values"])
    return [spec["min"], spec["max"]]


def _accepts(constructor, argument: str) -> bool:
    try:
        parameters = inspect.signature(constructor).parameters
    except (TypeError, ValueError):
        return False
    return argument in parameters or any(
        p.kind == p.VAR_KEYWORD for p in parameters.values())


class CNNHyperModel(kt.HyperModel):
    """Base hypermodel: the training choices plus :meth:`architecture`.

    Args:
        family: the ``family`` value it searches.
        base: a :class:`FitConfig` with the settings that are not searched
            (schedule, momentum, precision, epochs for the schedule, ...).
        classes: number of classes.
        native_size: the data's image size; each model's input is
            ``image_size`` or ``max(native_size, model's min_input_size)``.
        image_size: resize every image to this size.
        search_space: ``{name: range}`` overrides (see
            :mod:`kerascnn.tuning.space`).
        data: the prepared :class:`~kerascnn.training.data.TrainingData`: models
            then hold its preprocessing, and :meth:`fit` trains on it (without
            it, :meth:`build` builds the bare network).
        replicas: replicas in sync of the tuner's distribution strategy.
    """

    #: the architecture part of the default space (subclasses)
    ARCHITECTURE_SPACE: dict = {}

    def __init__(self, family, *, base=None, classes=10, native_size=32, image_size=None,
                 search_space=None, data=None, replicas=1, name=None):
        super().__init__(name=name or f"{family}_hypermodel", tunable=True)
        self.family = family
        self.base = dataclasses.replace(base) if base is not None else FitConfig(verbose=0)
        self.classes = int(classes)
        self.native_size = int(native_size)
        self.image_size = image_size
        self.data = data
        self.replicas = replicas
        self.members = family_members(family)
        if not self.members:
            raise SearchSpaceError(f"Unknown model family {family!r}; allowed: "
                                   f"{', '.join(families())}.")
        self.space = merge_space({**TRAINING_SPACE, **self.default_architecture_space()},
                                 search_space, f"family {family!r}")
        self.check_space()

    # ------------------------------------------------------------ the space
    def default_architecture_space(self) -> dict:
        return {k: dict(v) for k, v in self.ARCHITECTURE_SPACE.items()}

    def check_space(self) -> None:
        """One-line errors for values the training code or the models refuse."""
        checks = {
            "optimizer": (lambda v: v in OPTIMIZERS, f"one of {', '.join(OPTIMIZERS)}"),
            "learning_rate": (lambda v: isinstance(v, (int, float)) and v > 0, "positive"),
            "weight_decay": (lambda v: isinstance(v, (int, float)) and v >= 0, ">= 0"),
            "label_smoothing": (lambda v: isinstance(v, (int, float)) and 0 <= v < 1,
                                "in [0, 1)"),
            "batch_size": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
                           "a positive integer"),
            "augment": (_valid_augment, "none, a preset (" + ", ".join(sorted(PRESETS)) +
                        ") or a comma list (flip,pad_crop)"),
        }
        checks.update(self.architecture_checks())
        for name, (ok, allowed) in checks.items():
            if name not in self.space:
                continue
            for value in _possible(self.space[name]):
                if not ok(value):
                    raise SearchSpaceError(f"{name}: {value!r} is not allowed; must be "
                                           f"{allowed}.")

    def architecture_checks(self) -> dict:
        return {}

    def hp(self, hp, name):
        return declare(hp, name, self.space[name])

    # ------------------------------------------------------------ building
    def architecture(self, hp):
        """Returns ``(registry name, constructor kwargs, model_fn or None)``."""
        raise NotImplementedError

    def training_config(self, hp) -> FitConfig:
        """The base configuration with this trial's training choices."""
        optimizer = self.hp(hp, "optimizer")
        config = dataclasses.replace(
            self.base,
            optimizer=optimizer,
            learning_rate=float(self.hp(hp, "learning_rate")),
            weight_decay=float(self.hp(hp, "weight_decay")),
            label_smoothing=float(self.hp(hp, "label_smoothing")),
            augment=self.hp(hp, "augment"),
            batch_size=int(self.hp(hp, "batch_size")),
        )
        # AdamW decays its weights itself; the others as the base says (L2 by default).
        if optimizer == "adamw":
            config.weight_decay_mode = "decoupled"
        return config

    def set_data(self, data) -> None:
        """Trains on ``data`` (:class:`~kerascnn.training.data.TrainingData`)."""
        self.data = data
        self.classes = data.num_classes
        if data.image_shape[0] is not None:
            self.native_size = int(data.image_shape[0])

    def input_shape_for(self, model_name) -> tuple:
        info = api.model_info(model_name)
        size = self.image_size or max(self.native_size, info["min_input_size"])
        return (size, size, info["default_input_shape"][-1])

    def steps_per_epoch(self, batch_size) -> int:
        n = self.data.train_size if self.data is not None else 1000
        return max(1, -(-n // batch_size))

    def build(self, hp):
        config = self.training_config(hp)
        model_name, kwargs, model_fn = self.architecture(hp)
        config.model = model_name
        return build_model(config, self.data, size=self.input_shape_for(model_name)[0],
                           classes=self.classes,
                           steps_per_epoch=self.steps_per_epoch(config.batch_size),
                           model_kwargs=kwargs, replicas=self.replicas, model_fn=model_fn)

    # ------------------------------------------------------------ training
    def fit(self, hp, model, *args, callbacks=None, epochs=None, initial_epoch=0, verbose=0,
            **kwargs):
        """Trains ``model`` on the trial data; returns the best epoch's metrics.

        The returned dict holds the validation metrics of the epoch with the
        best ``val_accuracy`` plus ``params`` and ``seconds`` (wall time of the
        fit), which the search reports in its table.
        """
        if self.data is None:
            raise RuntimeError("This hypermodel has no data: call set_data() before searching.")
        start = time.perf_counter()
        config = self.training_config(hp)
        epochs = int(epochs or self.base.epochs)
        size = preprocessing_of(model)["size"]
        train, counter = self.data.train_dataset(batch_size=config.batch_size, size=size,
                                                 one_hot=config.one_hot,
                                                 initial_epoch=initial_epoch)
        val = None
        if self.data.has("val") and "val" not in self.data.train_splits:
            val = self.data.eval_dataset("val", batch_size=config.batch_size, size=size,
                                         one_hot=config.one_hot)
        extra = []
        if config.precise_bn and val is not None:
            extra.append(PreciseBatchNorm(self.data.bn_images(config.precise_bn)))
        class_weight = self.data.class_weights() if config.class_weight == "balanced" else None
        history = model.fit(train, validation_data=val, epochs=epochs,
                            initial_epoch=initial_epoch,
                            callbacks=[counter.callback()] + extra + list(callbacks or []),
                            verbose=verbose, class_weight=class_weight,
                            shuffle=False)  # the pipeline shuffles, by (seed, epoch)
        logs = history.history
        key = "val_accuracy" if "val_accuracy" in logs else "accuracy"
        scores = logs.get(key) or [math.nan]
        best = int(np.nanargmax(scores)) if not all(map(math.isnan, scores)) else len(scores) - 1
        result = {k: float(v[best]) for k, v in logs.items() if len(v) > best}
        result["params"] = float(model.count_params())
        result["seconds"] = round(time.perf_counter() - start, 3)
        return result


def _valid_augment(value) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parse_augment(value)
    except ValueError:
        return False
    return True


def _positive_ints(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 1


class GenericHyperModel(CNNHyperModel):
    """Any family: the training choices and which registered model (``model``).

    The default ``model`` choice is the family's registered names; pin one with
    ``{"model": "resnet50"}`` in the search space.
    """

    def default_architecture_space(self):
        members = family_members(self.family) if not hasattr(self, "members") else self.members
        return {"model": {"values": list(members), "default": members[0]}}

    def architecture_checks(self):
        return {"model": (lambda v: v in self.members,
                          f"a registered {self.family} model ({', '.join(self.members)})")}

    def architecture(self, hp):
        return self.hp(hp, "model"), {}, None


class CifarResNetHyperModel(CNNHyperModel):
    """CIFAR ResNets (He et al. 2015 section 4.2; pre-activation, Wide ResNet).

    Searches ``n`` (depth 6n+2, or 9n+2 with bottlenecks), ``width``,
    ``block``, ``se_ratio`` (0: no squeeze-and-excitation) and
    ``stochastic_depth`` (p_L of Huang et al. 2016, "Deep Networks with
    Stochastic Depth"; 1.0: off).
    """

    ARCHITECTURE_SPACE = {
        "n": {"min": 1, "max": 5, "step": 1, "default": 3},
        "width": {"values": [1, 2, 4], "default": 1},
        "block": {"values": ["normal", "bottleneck"], "default": "normal"},
        "se_ratio": {"values": [0, 8, 16], "default": 0},
        "stochastic_depth": {"values": [1.0, 0.8, 0.5], "default": 1.0},
    }

    def architecture_checks(self):
        return {
            "n": (_positive_ints, "a positive integer"),
            "width": (_positive_ints, "a positive integer"),
            "block": (lambda v: v in ("normal", "bottleneck"), "normal or bottleneck"),
            "se_ratio": (lambda v: isinstance(v, (int, float)) and v >= 0, ">= 0 (0: off)"),
            "stochastic_depth": (lambda v: isinstance(v, (int, float)) and 0 < v <= 1,
                                 "p_L in (0, 1] (1: off)"),
        }

    def architecture(self, hp):
        base = self.members[0]
        n = int(self.hp(hp, "n"))
        block = self.hp(hp, "block")
        se_ratio = self.hp(hp, "se_ratio")
        p_last = float(self.hp(hp, "stochastic_depth"))
        kwargs = {"n": n, "width": int(self.hp(hp, "width")), "block": block,
                  "se_ratio": se_ratio or None, "stochastic_depth": None if p_last >= 1 else p_last}
        if block == "bottleneck":
            kwargs["shortcut"] = "B"  # the 4x wider outputs need projections
        depth = (9 if block == "bottleneck" else 6) * n + 2
        kwargs["name"] = f"{self.family}_{depth}"
        return base, kwargs, None


class DenseNetHyperModel(CNNHyperModel):
    """CIFAR DenseNets (Huang et al. 2017, "Densely Connected Convolutional
    Networks"): ``depth`` L, ``growth_rate`` k, ``bc`` and ``compression``
    theta (DenseNet-BC only; plain DenseNets do not compress).

    Depths must fit both forms, (L - 4) divisible by 6.
    """

    ARCHITECTURE_SPACE = {
        "depth": {"values": [22, 40, 52, 100], "default": 40},
        "growth_rate": {"values": [12, 24, 32], "default": 12},
        "bc": {"values": [True, False], "default": True},
        "compression": {"values": [0.5, 0.75, 1.0], "default": 0.5},
    }

    def architecture_checks(self):
        return {
            "depth": (lambda v: _positive_ints(v) and v >= 10 and (v - 4) % 6 == 0,
                      "an integer L >= 10 with (L - 4) divisible by 6"),
            "growth_rate": (_positive_ints, "a positive integer"),
            "bc": (lambda v: isinstance(v, bool), "true or false"),
            "compression": (lambda v: isinstance(v, (int, float)) and 0 < v <= 1, "in (0, 1]"),
        }

    def architecture(self, hp):
        depth = int(self.hp(hp, "depth"))
        bc = bool(self.hp(hp, "bc"))
        compression = float(self.hp(hp, "compression"))
        name = f"densenet_bc{depth}_cifar" if bc else f"densenet{depth}_cifar"
        kwargs = {"growth_rate": int(self.hp(hp, "growth_rate")),
                  "compression": compression if bc else 1.0}
        return name, kwargs, None

    def input_shape_for(self, model_name):
        size = self.image_size or max(self.native_size, 32)
        return (size, size, 3)


class SqueezeNetHyperModel(CNNHyperModel):
    """SqueezeNet (Iandola et al. 2016): ``model`` (1.0 / 1.1), ``bypass``
    (none, simple, complex) and ``squeeze_ratio`` when the constructor has it."""

    def default_architecture_space(self):
        members = family_members(self.family)
        space = {"model": {"values": members, "default": members[0]}}
        constructor = api.get_spec(members[0]).entrypoint
        if _accepts(constructor, "bypass"):
            space["bypass"] = {"values": ["none", "simple", "complex"], "default": "none"}
        if _accepts(constructor, "squeeze_ratio"):
            space["squeeze_ratio"] = {"values": [0.125, 0.25, 0.5], "default": 0.125}
        return space

    def architecture_checks(self):
        return {"model": (lambda v: v in self.members, ", ".join(self.members)),
                "bypass": (lambda v: v in ("none", "simple", "complex"),
                           "none, simple or complex"),
                "squeeze_ratio": (lambda v: isinstance(v, (int, float)) and 0 < v <= 1,
                                  "in (0, 1]")}

    def architecture(self, hp):
        kwargs = {}
        if "bypass" in self.space:
            bypass = self.hp(hp, "bypass")
            kwargs["bypass"] = None if bypass == "none" else bypass
        if "squeeze_ratio" in self.space:
            kwargs["squeeze_ratio"] = float(self.hp(hp, "squeeze_ratio"))
        return self.hp(hp, "model"), kwargs, None


_VGG_NAMES = {"A": "vgg11", "B": "vgg13", "C": "vgg16_c", "D": "vgg16", "E": "vgg19"}


class VGGHyperModel(CNNHyperModel):
    """VGG (Simonyan & Zisserman 2015): ``config`` (A, B, D, E),
    ``batch_norm`` and ``dropout``.

    VGG's dense top flattens a 7x7 map, so away from 224x224 inputs the model
    is built without it (``include_top=False, pooling="avg"``) and given a
    ``predictions`` Dense classifier.
    """

    ARCHITECTURE_SPACE = {
        "config": {"values": ["A", "B", "D", "E"], "default": "A"},
        "batch_norm": {"values": [True, False], "default": True},
        "dropout": {"values": [0.0, 0.5], "default": 0.5},
    }

    def architecture_checks(self):
        return {"config": (lambda v: v in _VGG_NAMES, "one of A, B, C, D, E"),
                "batch_norm": (lambda v: isinstance(v, bool), "true or false"),
                "dropout": (lambda v: isinstance(v, (int, float)) and 0 <= v < 1, "in [0, 1)")}

    def check_space(self):
        super().check_space()
        if "C" in _possible(self.space["config"]) and True in _possible(self.space["batch_norm"]):
            raise SearchSpaceError("config: 'C' has no batch-norm variant; drop 'C' or pin "
                                   "batch_norm to false.")

    def architecture(self, hp):
        name = _VGG_NAMES[self.hp(hp, "config")] + ("_bn" if self.hp(hp, "batch_norm") else "")
        dropout = float(self.hp(hp, "dropout"))
        if self.input_shape_for(name)[0] == 224:
            return name, {"dropout": dropout}, None

        def model_fn(input_shape, classes):
            features = api.create_model(name, include_top=False, pooling="avg",
                                             input_shape=input_shape)
            x = features.output
            if dropout:
                x = keras.layers.Dropout(dropout, name="head_dropout")(x)
            x = keras.layers.Dense(classes, activation="softmax", name="predictions")(x)
            return keras.Model(features.input, x, name=name)

        return name, {}, model_fn


class InceptionHyperModel(CNNHyperModel):
    """The Inception family (GoogLeNet, BN-Inception, Inception v3/v4,
    Inception-ResNet, Xception): ``model``, plus ``dropout`` and
    ``width_multiplier`` for the members whose constructor takes them."""

    def default_architecture_space(self):
        members = family_members(self.family)
        space = {"model": {"values": members, "default": members[0]}}
        constructors = [api.get_spec(m).entrypoint for m in members]
        if any(_accepts(c, "dropout") for c in constructors):
            space["dropout"] = {"values": [0.2, 0.4], "default": 0.2}
        if any(_accepts(c, "width_multiplier") for c in constructors):
            space["width_multiplier"] = {"values": [0.5, 0.75, 1.0], "default": 1.0}
        return space

    def architecture_checks(self):
        return {"model": (lambda v: v in self.members, ", ".join(self.members)),
                "dropout": (lambda v: isinstance(v, (int, float)) and 0 <= v < 1, "in [0, 1)"),
                "width_multiplier": (lambda v: isinstance(v, (int, float)) and v > 0,
                                     "positive")}

    def architecture(self, hp):
        name = self.hp(hp, "model")
        constructor = api.get_spec(name).entrypoint
        kwargs = {}
        for option in ("dropout", "width_multiplier"):
            if option in self.space:
                value = float(self.hp(hp, option))
                if _accepts(constructor, option):
                    kwargs[option] = value
        return name, kwargs, None


# family value -> hypermodel class; any other family gets GenericHyperModel.
HYPERMODELS = {
    "resnet_cifar": CifarResNetHyperModel,
    "preact_resnet_cifar": CifarResNetHyperModel,
    "wide_resnet_cifar": CifarResNetHyperModel,
    "densenet": DenseNetHyperModel,
    "squeezenet": SqueezeNetHyperModel,
    "vgg": VGGHyperModel,
    "inception": InceptionHyperModel,
}


def hypermodel_for(name: str, **kwargs) -> CNNHyperModel:
    """The hypermodel of a family, or of a registered model's family.

    Args:
        name: a ``family`` value of :func:`kerascnn.model_info` (``"vgg"``) or
            a registered model name (``"vgg16"``: its family's hypermodel).
        **kwargs: :class:`CNNHyperModel` arguments (``base``, ``classes``,
            ``native_size``, ``image_size``, ``search_space``, ``data``).

    Raises:
        SearchSpaceError: unknown family or a bad search space (one line).
    """
    known = families()
    family = name
    if name not in known:
        try:
            family = api.model_info(name)["family"]
        except ValueError:
            raise SearchSpaceError(f"Unknown model family {name!r}; allowed: "
                                   f"{', '.join(known)}.") from None
    return HYPERMODELS.get(family, GenericHyperModel)(family, **kwargs)
