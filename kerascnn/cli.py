"""The command-line parts every script shares (fit.py, tune.py, evaluate.py).

One argument parser class whose errors are one line with exit status 2, and the
data, training and device flag groups, built without importing TensorFlow or
Keras so that ``--help`` answers at once and shows every default.
"""

from __future__ import annotations

import argparse
import json

__all__ = ["OneLineParser", "add_data_arguments", "add_training_arguments",
           "add_model_arguments", "model_kwargs_from", "given_flags", "positive_int",
           "fractions", "missing_extra"]

# The distribution names of the modules the ``train`` and ``export`` extras install.
_EXTRA_MODULES = {"tensorflow": "TensorFlow", "tensorflow_datasets": "tensorflow-datasets",
                  "keras_tuner": "keras-tuner", "tf2onnx": "tf2onnx"}


def missing_extra(prog: str, modules=("tensorflow",), extra: str = "train") -> str | None:
    """None when ``modules`` can be imported, else the one line saying what ``prog`` needs
    and the extra that installs it: ``fit.py needs TensorFlow (not installed): pip install
    'kerascnn[train]'``. TensorFlow is imported (the command needs it next anyway; a
    broken install fails here), the others only looked up."""
    import importlib
    import importlib.util

    missing = []
    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
            if found and module == "tensorflow":
                importlib.import_module(module)
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(_EXTRA_MODULES.get(module, module))
    if not missing:
        return None
    return (f"{prog} needs {' and '.join(missing)} (not installed): "
            f"pip install 'kerascnn[{extra}]'")


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's, except that a help which says its default itself (``default:``) is
    left as it is."""

    def _get_help_string(self, action):
        if "default:" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


class OneLineParser(argparse.ArgumentParser):
    """An ``argparse`` parser whose errors are one line (exit status 2) and whose help
    shows every default."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", DefaultsHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):  # one line, exit 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def fractions(text):
    try:
        return tuple(float(f) for f in text.split(",") if f.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated fractions such as 0.5,0.75, got {text!r}") from None


def _model_arg(text):
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = value
    return key.replace("-", "_"), parsed


def add_data_arguments(p, defaults, *, subsets=False):
    """The data flags of fit.py, tune.py (and evaluate.py's source flags)."""
    from kerascnn.data import DATASETS

    d = p.add_argument_group("data")
    d.add_argument("--dataset", default=defaults.dataset,
                   help=f"built-in name ({', '.join(sorted(DATASETS))}), a TFDS name (streamed "
                        "from a prepared --data-dir, never downloaded) or a local path (image "
                        "folder, h5 file or folder, .npz, idx files)")
    d.add_argument("--data-dir", default=None,
                   help="where the data set lives (default: its standard location)")
    d.add_argument("--strict", action="store_true",
                   help="stop at an unreadable data file instead of skipping and counting it")
    d.add_argument("--classes", type=int, default=None,
                   help="expected number of classes (checked against the data)")
    d.add_argument("--image-size", type=int, default=None,
                   help="the network's input side (default: native, or the model's minimum); "
                        "the saved model resizes raw images to it")
    d.add_argument("--val-fraction", type=float, default=defaults.val_fraction,
                   help="part of train held out for validation when the data has no val split")
    d.add_argument("--seed", type=int, default=defaults.seed,
                   help="seed of the validation split, the data order and the augmentation")
    if subsets:
        d.add_argument("--train-subset", type=int, default=None,
                       help="use this many training images (seeded choice)")
        d.add_argument("--val-subset", type=int, default=None)
    return d


def add_training_arguments(p, defaults, *, searched=(), run=True):
    """The training flags of fit.py; tune.py leaves out those it searches (``searched``)
    and those of a run's epoch selection (``run=False``: --monitor, --early-stopping)."""
    from kerascnn.data.plan import AUGMENTATIONS, PRESETS
    from kerascnn.training.config import (
        CLASS_WEIGHTS,
        JIT_COMPILE,
        LOSSES,
        LR_SCALINGS,
        MONITORS,
        OPTIMIZERS,
        PRECISIONS,
        SCHEDULES,
        WEIGHT_DECAY_MODES,
    )

    t = p.add_argument_group("training" + (" (settings that are not searched)"
                                           if searched else ""))

    def add(flag, **kwargs):
        if flag.lstrip("-").replace("-", "_") not in searched:
            t.add_argument(flag, **kwargs)

    add("--epochs", type=int, default=defaults.epochs,
        help="epochs (tune.py: per trial; hyperband: the most epochs of a trial)")
    add("--batch-size", type=int, default=defaults.batch_size,
        help="global batch, split across replicas")
    add("--augment", default=defaults.augment,
        help=f"training augmentation: {'|'.join(PRESETS)} or a comma list of "
             f"{', '.join(AUGMENTATIONS)} (randaugment[:N[:M]], random_erasing[:P]; "
             f"see docs/augmentation.md)")
    add("--optimizer", default=defaults.optimizer, choices=OPTIMIZERS)
    add("--learning-rate", type=float, default=defaults.learning_rate)
    add("--momentum", type=float, default=defaults.momentum, help="SGD momentum")
    add("--nesterov", action="store_true", help="Nesterov momentum (SGD)")
    add("--weight-decay", type=float, default=defaults.weight_decay)
    add("--weight-decay-mode", default=defaults.weight_decay_mode, choices=WEIGHT_DECAY_MODES,
        help="l2: wd/2*||w||^2 added to the loss, as the papers; decoupled: applied by the "
             "optimizer (AdamW style)")
    add("--clipnorm", type=float, default=None, help="gradient clipping by norm")
    add("--schedule", default=defaults.schedule, choices=SCHEDULES)
    add("--lr-steps", type=fractions, default=defaults.lr_steps,
        help="step schedule: fractions of the run where the rate is divided by 10")
    add("--decay-rate", type=float, default=defaults.decay_rate,
        help="exponential schedule: factor per --decay-epochs")
    add("--decay-epochs", type=float, default=defaults.decay_epochs)
    add("--warmup-epochs", type=float, default=defaults.warmup_epochs,
        help="linear warm-up from 0")
    add("--lr-scaling", default=defaults.lr_scaling, choices=LR_SCALINGS,
        help="linear: learning rate x batch-size / --lr-base-batch (Goyal et al.)")
    add("--lr-base-batch", type=int, default=defaults.lr_base_batch)
    add("--label-smoothing", type=float, default=defaults.label_smoothing)
    add("--aux-loss-weight", type=float, default=defaults.aux_loss_weight,
        help="loss weight of each auxiliary head (models with aux_logits)")
    add("--precision", default=defaults.precision, choices=PRECISIONS,
        help="bf16/fp16: mixed precision with float32 outputs")
    add("--jit-compile", default=defaults.jit_compile, choices=JIT_COMPILE,
        help="XLA; auto leaves it to Keras (off on CPU and under tf.distribute)")
    add("--deterministic", action="store_true",
        help="op determinism: a repeated or resumed CPU run gives identical weights")
    add("--class-weight", default=defaults.class_weight, choices=CLASS_WEIGHTS,
        help="balanced: weight each class's loss by n / (classes x its count)")
    add("--bn-momentum", type=float, default=defaults.bn_momentum,
        help="momentum of every BatchNormalization layer (None: the model's, 0.99 in "
             "keras; 0.9 lets the statistics follow a short run)")
    add("--precise-bn", type=int, default=defaults.precise_bn,
        help="recompute the BatchNormalization statistics over this many training images "
             "(drawn at random) "
             "before each evaluation (pycls' precise BN); 0: off (default: 512, at most the "
             "whole split, when an epoch has fewer than 100 steps, else off)")
    if run:
        add("--monitor", default=defaults.monitor, choices=MONITORS,
            help="what picks best.keras: val_accuracy (ties: lower val_loss, then the later "
                 "epoch), val_loss (losses within one image's share of each other: the "
                 "higher val_accuracy, then the lower loss, then the later epoch), or auto: "
                 "val_loss when the validation split has fewer than 200 images, else "
                 "val_accuracy; with --unfreeze-at, an epoch after it at least as accurate "
                 "beats every frozen one")
        add("--early-stopping", type=int, default=defaults.early_stopping, metavar="PATIENCE",
            help="stop after PATIENCE epochs without a better monitored score")
        # fit.py only: the modern recipes' options (issue 26), with keras' names in the help
        add("--ema", type=float, default=defaults.ema, metavar="DECAY",
            help="keep an exponential moving average of the weights (keras' use_ema, "
                 "ema_momentum=DECAY); validation, the best epoch, precise BN and the saved "
                 "models use the averaged weights")
        add("--ema-warmup", action="store_true",
            help="with --ema: the decay at optimizer step n is min(DECAY, (1 + n) / (10 + n)) "
                 "(TensorFlow's ExponentialMovingAverage num_updates, timm's warm-up)")
        add("--grad-accum-steps", type=int, default=defaults.grad_accum_steps, metavar="K",
            help="keras' gradient_accumulation_steps: --batch-size is the micro-batch, the "
                 "optimizer steps once every K micro-batches with their mean gradient; the "
                 "schedule counts optimizer steps; BatchNormalization sees micro-batches")
        add("--clip-grad-norm", type=float, default=defaults.clip_grad_norm, metavar="NORM",
            help="clip the norm of all gradients together to NORM (keras' global_clipnorm; "
                 "--clipnorm clips each variable's)")
        add("--loss", default=defaults.loss, choices=LOSSES,
            help="ce: softmax cross-entropy; bce: binary cross-entropy on one-hot targets with "
                 "a sigmoid classifier (Wightman et al. 2021, ResNet strikes back)")
        add("--train-size", type=int, default=defaults.train_size, metavar="SIZE",
            help="the network's input side in training; evaluation and the saved models use "
                 "--eval-size (train low, test high: Touvron et al. 2019, FixRes)")
        add("--eval-size", type=int, default=defaults.eval_size, metavar="SIZE",
            help="the network's input side in evaluation and in the saved models (default: "
                 "--image-size)")
    return t


def add_model_arguments(p):
    """``--model-arg KEY=VALUE`` and the CIFAR network flags of the Lasagne book chapter."""
    g = p.add_argument_group("model arguments (passed to the model's constructor)")
    g.add_argument("--model-arg", type=_model_arg, action="append", default=[],
                   metavar="KEY=VALUE", help="any constructor argument, VALUE parsed as JSON")
    g.add_argument("--n", type=int, help="blocks per stage (CIFAR ResNet / DenseNet)")
    g.add_argument("--num-filters", type=int, help="filters of the first stage")
    g.add_argument("--width", type=int, help="width multiplier (wide ResNet)")
    g.add_argument("--block", help="block type: normal, bottleneck, dense, dense_fast")
    return g


def model_kwargs_from(args) -> dict:
    kwargs = dict(args.model_arg)
    for flag in ("n", "num_filters", "width", "block"):
        value = getattr(args, flag, None)
        if value is not None:
            kwargs[flag] = value
    return kwargs


def given_flags(parser, argv=None) -> set:
    """The destinations the command line ``argv`` sets (even to their default value)."""
    import argparse

    saved = [(action, action.default) for action in parser._actions]
    try:
        for action in parser._actions:
            action.default = argparse.SUPPRESS
        given, _ = parser.parse_known_args(argv)
    finally:
        for action, default in saved:
            action.default = default
    return set(vars(given))
