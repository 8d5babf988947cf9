"""What a training run is asked to do: :class:`FitConfig`, its checks and identity.

Nothing here imports Keras or TensorFlow, so the command line is parsed and
checked (and ``--help`` answers) at once. :func:`validate` checks a configuration
before anything is read or written; :func:`run_identity` is what a resumed run
must share with the run it continues, and :func:`identity_differences` is the
one comparison that fit.py's run directories and tune.py's searches both use.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time

from kerascnn.data.plan import AugmentPlan
from kerascnn.training.errors import ConfigError, TrainingFailed
from kerascnn.training.recipes import ADAPT_FLAGS, RECIPES, SPECIAL_RECIPES

__all__ = ["FitConfig", "ConfigError", "TrainingFailed", "apply_recipe", "resolve_recipe", "validate",
           "check_settings", "run_identity", "identity_differences", "check_run_directory", "default_output_dir",
           "PRECISIONS", "OPTIMIZERS", "SCHEDULES", "STRATEGIES", "LR_SCALINGS",
           "WEIGHT_DECAY_MODES", "JIT_COMPILE", "LOSSES", "MONITORS", "CLASS_WEIGHTS", "SMALL_VAL", "AUX_LOSS_WEIGHT", "RUN_FILES",
           "RECORDED"]

PRECISIONS = ("fp32", "bf16", "fp16")
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "lamb")
LOSSES = ("ce", "bce")
SCHEDULES = ("constant", "step", "exponential", "cosine")
STRATEGIES = ("auto", "default", "mirrored", "multiworker")
LR_SCALINGS = ("none", "linear")
WEIGHT_DECAY_MODES = ("l2", "decoupled")
JIT_COMPILE = ("auto", "on", "off")
MONITORS = ("auto", "val_accuracy", "val_loss")
CLASS_WEIGHTS = ("none", "balanced")
# Below this many validation images, --monitor auto ranks epochs by validation loss.
SMALL_VAL = 200
# Default loss weight of each auxiliary classifier (GoogLeNet, Inception v3).
AUX_LOSS_WEIGHT = 0.3
# What a run directory holds (fit.py --overwrite removes exactly these).
RUN_FILES = ("metrics.json", "history.csv", "model.keras", "best.keras", "checkpoints",
             "run_config.json", "logs", "curves.png", "confusion.png")
# What run_config.json records beside the settings: the data's fingerprint
# (kerascnn.data.fingerprint), checked once the data is read.
RECORDED = ("data",)
# Settings added after runs were first recorded, with the value every earlier run had.
_LATER_SETTINGS = {"clip_grad_norm": None, "ema": None, "ema_warmup": False,
                   "grad_accum_steps": None, "loss": "ce", "train_size": None,
                   "eval_size": None}
# Settings that may differ between a run and its resumption.
_RESUME_FREE = {"epochs", "verbose", "resume", "overwrite", "output_dir", "early_stopping"}


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
    clip_grad_norm: float | None = None  # keras' global_clipnorm: the norm of all gradients
    ema: float | None = None  # keras' use_ema + ema_momentum: the decay of the weights' average
    ema_warmup: bool = False  # decay min(ema, (1 + n) / (10 + n)) at optimizer step n
    grad_accum_steps: int | None = None  # keras' gradient_accumulation_steps (>= 2)
    loss: str = "ce"  # ce: softmax cross-entropy; bce: sigmoid binary cross-entropy
    train_size: int | None = None  # the network's side in training (FixRes); None: eval's
    eval_size: int | None = None  # the network's side in evaluation (None: --image-size)
    schedule: str = "cosine"
    lr_steps: tuple = (0.5, 0.75)
    decay_rate: float = 0.94
    decay_epochs: float = 2.0
    warmup_epochs: float = 0.0
    lr_scaling: str = "none"
    lr_base_batch: int = 256
    label_smoothing: float = 0.0
    aux_loss_weight: float = AUX_LOSS_WEIGHT
    augment: str = "none"  # kerascnn.data.plan presets or a comma list
    strict: bool = False  # stop at an unreadable data file instead of skipping it
    precision: str = "fp32"
    jit_compile: str = "auto"
    seed: int = 0
    deterministic: bool = False
    output_dir: str | None = None  # default: runs/<model>_<dataset>_<time>
    strategy: str = "auto"
    val_fraction: float = 0.1
    monitor: str = "auto"  # val_accuracy | val_loss | auto (val_loss on a small val split)
    early_stopping: int | None = None  # patience in epochs
    class_weight: str = "none"  # none | balanced
    bn_momentum: float | None = None  # BatchNormalization momentum (None: the model's)
    precise_bn: int | None = None  # images for precise BN statistics (None: auto, 0: off)
    model_kwargs: dict = dataclasses.field(default_factory=dict)
    weights: str | None = None  # a weight set's tag or a weights file (new classifier)
    freeze_backbone: bool = False  # train the classifier alone (frozen BN: inference mode)
    unfreeze_at: int | None = None  # epochs with a frozen backbone, then every layer trains
    unfreeze_lr_factor: float = 0.1  # learning rate after unfreezing: learning_rate x this
    recipe: str | None = None  # fit.py: "default" (the family's) unless --recipe is given
    # How batch_size and epochs follow the training split's size (the recipe's ``adapt``,
    # less what the command line set; see kerascnn.training.recipes.adapt_to_data).
    adapt: dict | None = None
    resume: bool = False
    overwrite: bool = False
    verbose: int = 1

    @property
    def augment_plan(self) -> AugmentPlan:
        return AugmentPlan.parse(self.augment)

    @property
    def one_hot(self) -> bool:
        """Labels are one-hot: label smoothing, binary cross-entropy, or the soft labels of
        mixup/cutmix."""
        return (bool(self.label_smoothing) or self.loss == "bce"
                or self.augment_plan.mixes_labels)

    @property
    def model_image_size(self) -> int | None:
        """The side the saved model evaluates at: ``--eval-size``, else ``--image-size``."""
        return self.eval_size if self.eval_size is not None else self.image_size

    @property
    def accumulation(self) -> int:
        """Micro-batches per optimizer step (1: no accumulation)."""
        return self.grad_accum_steps or 1

    def scaled_learning_rate(self) -> float:
        if self.lr_scaling == "linear":
            return self.learning_rate * self.batch_size / self.lr_base_batch
        return self.learning_rate


def resolve_recipe(name: str | None, model: str) -> tuple[str | None, dict | None]:
    """``(label, recipe)`` of ``--recipe name`` for ``model``: ``default`` is the model
    family's default recipe, ``paper`` its paper recipe, ``none`` (or None) no recipe.

    Raises:
        ConfigError: an unknown recipe name, or ``paper`` for a family without one.
        ValueError: an unknown model (``default``/``paper`` only).
    """
    if name is None or name == "none":
        return None, None
    if name in RECIPES:
        return name, RECIPES[name]
    if name not in SPECIAL_RECIPES:
        raise ConfigError(
            f"Unknown recipe {name!r}; allowed: {', '.join(SPECIAL_RECIPES)} or "
            f"{', '.join(sorted(RECIPES))} (see --list-recipes).")
    from kerascnn import api
    from kerascnn.training.recipes import family_recipes

    family = api.get_spec(model).family
    entry = family_recipes(family)
    if name == "default":
        return (f"{family} default", entry["default"]) if entry else (None, None)
    if not entry or not entry["paper"]:
        raise ConfigError(f"--recipe paper: the {family} family has no paper recipe; choose "
                          f"one of {', '.join(sorted(RECIPES))} (see --list-recipes).")
    return f"{entry['paper']} ({family} paper)", RECIPES[entry["paper"]]


def apply_recipe(config: FitConfig, given: set) -> FitConfig:
    """Fills the settings of ``config.recipe`` that are not in ``given`` (the flags of the
    command line). An unknown model is left for :func:`validate` to report."""
    try:
        _, recipe = resolve_recipe(config.recipe, config.model)
    except ValueError as e:
        if isinstance(e, ConfigError):
            raise
        return config
    for key, value in (recipe or {}).items():
        if key == "adapt":
            rule = dict(value)
            for flag, keys in ADAPT_FLAGS.items():
                if flag in given:
                    rule = {k: v for k, v in rule.items() if k not in keys}
            if "adapt" not in given:
                config.adapt = rule or None
        elif key not in ("description", "source") and key not in given:
            setattr(config, key, value)
    return config


def default_output_dir(config: FitConfig) -> str:
    dataset = os.path.basename(os.path.normpath(config.dataset)) or "data"
    return os.path.join("runs", f"{config.model}_{dataset}_{time.strftime('%Y%m%d-%H%M%S')}")


def run_identity(config: FitConfig) -> dict:
    """The settings a resumed run must share with the run it continues (JSON-ready)."""
    data = json.loads(json.dumps(dataclasses.asdict(config)))
    return {k: v for k, v in data.items() if k not in _RESUME_FREE}


def identity_differences(path, identity: dict) -> list[str] | None:
    """None when the JSON file ``path`` holds ``identity``; else the keys that differ
    (``[basename]`` when the file is missing or unreadable). The keys of :data:`RECORDED`
    that ``identity`` lacks are not compared (the data are checked once read)."""
    try:
        with open(path, encoding="utf-8") as f:
            saved = json.load(f)
    except (OSError, ValueError):
        return [os.path.basename(path)]
    identity = json.loads(json.dumps(identity, sort_keys=True))
    if isinstance(saved, dict):  # what the run recorded beside its settings
        saved = {k: v for k, v in saved.items() if k in identity or k not in RECORDED}
        # a run of an earlier version, before these settings existed: it had their defaults
        saved = {**{k: v for k, v in _LATER_SETTINGS.items() if k in identity}, **saved}
    if saved == identity:
        return None
    if not isinstance(saved, dict):
        return [os.path.basename(path)]
    return sorted(k for k in set(identity) | set(saved) if saved.get(k) != identity.get(k))


def validate(config: FitConfig) -> dict:
    """Checks the configuration before anything is read or written.

    Fills in the default output directory. Returns the model's registry info.
    """
    from kerascnn import api

    if config.output_dir is None:
        config.output_dir = default_output_dir(config)
    try:
        info = api.model_info(config.model)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    if config.resume and config.overwrite:
        raise ConfigError("--resume and --overwrite conflict: choose one.")
    check_settings(config)
    if config.weights:
        from kerascnn.training.finetune import check_weights

        try:
            if check_weights(config.model, config.weights) != "tag":
                config.weights = os.path.abspath(config.weights)  # resumable from elsewhere
        except ValueError as e:
            raise ConfigError(str(e)) from None
    for flag, value in (("--image-size", config.image_size), ("--eval-size", config.eval_size),
                        ("--train-size", config.train_size)):
        if value is not None and value < info["min_input_size"]:
            raise ConfigError(
                f"{flag} {value} is below {config.model}'s minimum input size "
                f"{info['min_input_size']}.")
    check_run_directory(config)
    return info


def check_settings(config: FitConfig) -> None:
    """The checks of every flag that does not depend on the model or the run directory
    (fit.py and tune.py share them, and so their messages)."""
    for flag, value in (("--epochs", config.epochs), ("--batch-size", config.batch_size)):
        if value < 1:
            raise ConfigError(f"{flag} must be a positive integer; got {value}.")
    if config.classes is not None and config.classes < 2:
        raise ConfigError(f"--classes must be at least 2; got {config.classes}.")
    if config.image_size is not None and config.image_size < 1:
        raise ConfigError(f"--image-size must be a positive integer; got {config.image_size}.")
    if not config.learning_rate > 0 or not math.isfinite(config.learning_rate):
        raise ConfigError(f"--learning-rate must be positive; got {config.learning_rate}.")
    floats = (("--weight-decay", config.weight_decay), ("--momentum", config.momentum),
              ("--rho", config.rho), ("--clipnorm", config.clipnorm),
              ("--decay-rate", config.decay_rate), ("--decay-epochs", config.decay_epochs),
              ("--warmup-epochs", config.warmup_epochs),
              ("--aux-loss-weight", config.aux_loss_weight), ("--epsilon", config.epsilon))
    for flag, value in floats:
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise ConfigError(f"{flag} must be a finite number >= 0; got {value}.")
    if config.clipnorm is not None and config.clipnorm == 0:
        raise ConfigError("--clipnorm must be positive (leave it out for no clipping); got 0.")
    if config.clip_grad_norm is not None and not (math.isfinite(config.clip_grad_norm)
                                                  and config.clip_grad_norm > 0):
        raise ConfigError(f"--clip-grad-norm must be a positive number (leave it out for no "
                          f"clipping); got {config.clip_grad_norm}.")
    if config.clip_grad_norm is not None and config.clipnorm is not None:
        raise ConfigError("--clip-grad-norm and --clipnorm conflict: clip the norm of all "
                          "gradients together (--clip-grad-norm) or of each (--clipnorm).")
    if config.ema is not None and not (math.isfinite(config.ema) and 0 < config.ema < 1):
        raise ConfigError(f"--ema must be a decay in (0, 1), e.g. 0.999; got {config.ema}.")
    if config.ema_warmup and config.ema is None:
        raise ConfigError("--ema-warmup needs --ema DECAY (the decay it warms up to).")
    if config.grad_accum_steps is not None and config.grad_accum_steps < 2:
        raise ConfigError(f"--grad-accum-steps must be an integer >= 2 (leave it out for no "
                          f"accumulation); got {config.grad_accum_steps}.")
    for flag, value in (("--train-size", config.train_size), ("--eval-size", config.eval_size)):
        if value is not None and value < 1:
            raise ConfigError(f"{flag} must be a positive integer; got {value}.")
    if (config.eval_size is not None and config.image_size is not None
            and config.eval_size != config.image_size):
        raise ConfigError(f"--eval-size {config.eval_size} and --image-size "
                          f"{config.image_size} conflict: --eval-size is the saved model's "
                          "input size; give one of them.")
    if not 0 <= config.seed < 2 ** 32:
        raise ConfigError(f"--seed must be in 0..{2 ** 32 - 1}; got {config.seed}.")
    if config.early_stopping is not None and config.early_stopping < 1:
        raise ConfigError(f"--early-stopping must be a positive number of epochs; got "
                          f"{config.early_stopping}.")
    if config.bn_momentum is not None and not 0 <= config.bn_momentum < 1:
        raise ConfigError(f"--bn-momentum must be in [0, 1); got {config.bn_momentum}.")
    if config.precise_bn is not None and config.precise_bn < 0:
        raise ConfigError(f"--precise-bn must be a number of images >= 0 (0: off); got "
                          f"{config.precise_bn}.")
    if config.lr_base_batch < 1:
        raise ConfigError(f"--lr-base-batch must be a positive integer; got "
                          f"{config.lr_base_batch}.")
    choices = (("--optimizer", config.optimizer, OPTIMIZERS),
               ("--schedule", config.schedule, SCHEDULES),
               ("--precision", config.precision, PRECISIONS),
               ("--lr-scaling", config.lr_scaling, LR_SCALINGS),
               ("--weight-decay-mode", config.weight_decay_mode, WEIGHT_DECAY_MODES),
               ("--strategy", config.strategy, STRATEGIES),
               ("--jit-compile", config.jit_compile, JIT_COMPILE),
               ("--monitor", config.monitor, MONITORS),
               ("--class-weight", config.class_weight, CLASS_WEIGHTS),
               ("--loss", config.loss, LOSSES))
    for flag, value, allowed in choices:
        if value not in allowed:
            raise ConfigError(f"{flag} {value!r} is not one of: {', '.join(allowed)}.")
    if not 0 <= config.label_smoothing < 1:
        raise ConfigError(f"--label-smoothing must be in [0, 1); got {config.label_smoothing}.")
    if not 0 <= config.val_fraction < 1:
        raise ConfigError(f"--val-fraction must be in [0, 1); got {config.val_fraction}.")
    if config.unfreeze_at is not None:
        if not config.freeze_backbone:
            raise ConfigError("--unfreeze-at needs --freeze-backbone (without it every layer "
                              "trains from the first epoch).")
        if not 1 <= config.unfreeze_at < config.epochs:
            raise ConfigError(f"--unfreeze-at {config.unfreeze_at} must be in 1..{config.epochs - 1}"
                              f" (the epochs with a frozen backbone, fewer than --epochs "
                              f"{config.epochs}).")
    if config.freeze_backbone and not config.weights:
        via = " (set by --recipe finetune)" if config.recipe == "finetune" else ""
        raise ConfigError(f"--freeze-backbone{via} needs --weights TAG|PATH: a frozen backbone "
                          "keeps the weights it starts from.")
    if not (math.isfinite(config.unfreeze_lr_factor) and 0 < config.unfreeze_lr_factor <= 1):
        raise ConfigError(f"--unfreeze-lr-factor must be in (0, 1]; got "
                          f"{config.unfreeze_lr_factor}.")
    if config.lr_steps and not all(0 < f < 1 for f in config.lr_steps):
        raise ConfigError(f"--lr-steps must be fractions in (0, 1); got {list(config.lr_steps)}.")
    try:
        config.augment_plan  # noqa: B018  (parses the spec)
    except ValueError as e:
        raise ConfigError(f"--augment: {e}") from None
    if config.jit_compile == "on" and not _has_gpu():
        raise ConfigError("--jit-compile on needs a GPU: XLA makes CPU training several "
                          "times slower; use auto.")


def _has_gpu() -> bool:
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return any(d.platform != "cpu" for d in jax.devices())
    if keras.backend.backend() == "torch":
        import torch

        return torch.cuda.is_available()
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU"))


# Settings that change the network or its data: a checkpoint cannot continue under others.
STRUCTURAL = ("model", "model_kwargs", "image_size", "dataset", "data_dir", "classes",
              "precision", "weights", "freeze_backbone", "unfreeze_at", "ema",
              "grad_accum_steps", "loss", "eval_size", "train_size")


def _check_writable(directory) -> None:
    """``directory`` (or its nearest existing ancestor) must be a writable directory."""
    path = os.path.abspath(directory)
    if os.path.exists(path) and not os.path.isdir(path):
        raise ConfigError(f"--output-dir {directory} exists and is not a directory.")
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    if not os.path.isdir(path):
        raise ConfigError(f"--output-dir {directory}: {path} is a file, not a directory.")
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"--output-dir {directory}: {path} is not writable (read-only file "
                          "system or no permission); choose another directory.")


def check_run_directory(config: FitConfig) -> None:
    """Refuses an ``--output-dir`` that cannot be written, holds another run (or a
    finished one), or, with ``--overwrite``, is not a kerascnn run directory."""
    # rundir imports kerascnn.utils (and so Keras): imported here, when a run starts
    from kerascnn.training.rundir import MARKER, is_run_directory

    _check_writable(config.output_dir)
    existing = [f for f in RUN_FILES if os.path.exists(os.path.join(config.output_dir, f))]
    if not existing:
        return
    if config.overwrite:
        if not is_run_directory(config.output_dir):
            raise ConfigError(
                f"--overwrite: {config.output_dir} is not a kerascnn run directory (no {MARKER} "
                "or run_config.json of a run); refusing to delete anything in it.")
        return
    saved = os.path.join(config.output_dir, "run_config.json")
    finished = os.path.exists(os.path.join(config.output_dir, "metrics.json"))
    differs = identity_differences(saved, run_identity(config))
    if config.resume:
        unreadable = differs == ["run_config.json"]
        if unreadable or differs is None:
            return  # continue with this command's settings
        structural = [k for k in differs if k in STRUCTURAL]
        if structural:
            with open(saved, encoding="utf-8") as f:
                before = json.load(f)
            now = run_identity(config)
            key = structural[0]
            raise ConfigError(
                f"--resume: this command's {key} is {now.get(key)!r} but the run in "
                f"{config.output_dir} has {before.get(key)!r}; its checkpoint cannot continue "
                "with another network or data (differs in: " + ", ".join(structural) + ").")
        return
    if not finished and differs is None:
        return  # the same command again: resume
    if differs == ["run_config.json"] and not finished:
        raise ConfigError(
            f"--output-dir {config.output_dir} holds a run whose run_config.json is missing or "
            "unreadable; pass --resume to continue it with this command's settings, or "
            "--overwrite to start over.")
    what = "a finished run" if finished else "a different run"
    detail = "" if finished or not differs else f"; differs in: {', '.join(differs)}"
    raise ConfigError(
        f"--output-dir {config.output_dir} already holds {what} ({', '.join(existing)}"
        f"{detail}); choose another directory, or pass --overwrite to start over"
        + ("" if finished else " or --resume to continue it") + ".")
