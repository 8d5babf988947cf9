"""Command line of ``scripts/fit.py``: flags -> :class:`FitConfig` -> :func:`run`.

Every bad command line gets one line on stderr saying what was wrong and what is
allowed, exit status 2, and nothing is written. A run whose loss becomes NaN
exits with status 1 and keeps its last good checkpoint.
"""

from __future__ import annotations

import argparse
import json
import sys

from kerascnn.training.engine import PRECISIONS, FitConfig
from kerascnn.training.optim import OPTIMIZERS, SCHEDULES

__all__ = ["build_parser", "main", "parse_config"]

DEFAULTS = FitConfig()


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def _model_arg(text):
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = value
    return key.replace("-", "_"), parsed


def _fractions(text):
    try:
        return tuple(float(f) for f in text.split(",") if f.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated fractions such as 0.5,0.75, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    from kerascnn.data import DATASETS
    from kerascnn.data.augment import AUGMENTATIONS, PRESETS
    from kerascnn.training.strategy import STRATEGIES

    p = _OneLineParser(
        prog="fit.py",
        description="Train a kerascnn model on real data. The run directory receives "
                    "checkpoints/ (resume), best.keras, model.keras, history.csv, logs/ "
                    "(TensorBoard), metrics.json, curves.png and confusion.png.",
    )
    p.add_argument("--model", default=DEFAULTS.model,
                   help=f"registered model name (kerascnn.list_models()); default {DEFAULTS.model}")
    p.add_argument("--dataset", default=DEFAULTS.dataset,
                   help=f"built-in name ({', '.join(sorted(DATASETS))}), a TFDS name (read from a "
                        "prepared --data-dir, never downloaded) or a local path (image folder, "
                        "h5 folder, .npz, idx files); default fashion_mnist")
    p.add_argument("--data-dir", default=None,
                   help="where the data set lives (default: its standard location)")
    p.add_argument("--strict", action="store_true",
                   help="stop at an unreadable data file instead of skipping and counting it")
    p.add_argument("--classes", type=int, default=None,
                   help="expected number of classes (checked against the data)")
    p.add_argument("--recipe", default=None,
                   help="a paper's set-up (see --list-recipes); explicit flags win")
    p.add_argument("--list-recipes", action="store_true", help="show the recipes and exit")

    t = p.add_argument_group("training")
    t.add_argument("--epochs", type=int, default=DEFAULTS.epochs)
    t.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size,
                   help="global batch, split across replicas")
    t.add_argument("--image-size", type=int, default=None,
                   help="resize images to SIZE x SIZE (default: native, or the model's minimum)")
    t.add_argument("--augment", default=DEFAULTS.augment,
                   help=f"training augmentation: {'|'.join(PRESETS)} or a comma list of "
                        f"{', '.join(AUGMENTATIONS)}; default none")
    t.add_argument("--optimizer", default=DEFAULTS.optimizer, choices=OPTIMIZERS)
    t.add_argument("--learning-rate", type=float, default=DEFAULTS.learning_rate)
    t.add_argument("--momentum", type=float, default=DEFAULTS.momentum, help="SGD momentum")
    t.add_argument("--nesterov", action="store_true", help="Nesterov momentum (SGD)")
    t.add_argument("--weight-decay", type=float, default=DEFAULTS.weight_decay)
    t.add_argument("--weight-decay-mode", default=DEFAULTS.weight_decay_mode,
                   choices=("l2", "decoupled"),
                   help="l2: wd/2*||w||^2 added to the loss, as the papers (default); "
                        "decoupled: applied by the optimizer (AdamW style)")
    t.add_argument("--clipnorm", type=float, default=None, help="gradient clipping by norm")
    t.add_argument("--schedule", default=DEFAULTS.schedule, choices=SCHEDULES)
    t.add_argument("--lr-steps", type=_fractions, default=DEFAULTS.lr_steps,
                   help="step schedule: fractions of the run where the rate is divided by 10")
    t.add_argument("--decay-rate", type=float, default=DEFAULTS.decay_rate,
                   help="exponential schedule: factor per --decay-epochs")
    t.add_argument("--decay-epochs", type=float, default=DEFAULTS.decay_epochs)
    t.add_argument("--warmup-epochs", type=float, default=DEFAULTS.warmup_epochs,
                   help="linear warm-up from 0")
    t.add_argument("--lr-scaling", default=DEFAULTS.lr_scaling, choices=("none", "linear"),
                   help="linear: learning rate x batch-size / --lr-base-batch (Goyal et al.)")
    t.add_argument("--lr-base-batch", type=int, default=DEFAULTS.lr_base_batch)
    t.add_argument("--label-smoothing", type=float, default=DEFAULTS.label_smoothing)
    t.add_argument("--aux-loss-weight", type=float, default=DEFAULTS.aux_loss_weight,
                   help="loss weight of each auxiliary head (models with aux_logits)")
    t.add_argument("--precision", default=DEFAULTS.precision, choices=PRECISIONS,
                   help="bf16/fp16: mixed precision with float32 outputs")
    t.add_argument("--jit-compile", default=DEFAULTS.jit_compile, choices=("auto", "on", "off"),
                   help="XLA; auto leaves it to Keras (off on CPU and under tf.distribute)")
    t.add_argument("--seed", type=int, default=DEFAULTS.seed)
    t.add_argument("--deterministic", action="store_true",
                   help="op determinism: a repeated or resumed CPU run gives identical weights")

    r = p.add_argument_group("run directory and devices")
    r.add_argument("--output-dir", default=None,
                   help="run directory (default: runs/<model>_<dataset>_<date-time>)")
    r.add_argument("--resume", action="store_true",
                   help="continue the run in --output-dir even if its settings differ")
    r.add_argument("--overwrite", action="store_true", help="start the run in --output-dir over")
    r.add_argument("--strategy", default=DEFAULTS.strategy, choices=STRATEGIES,
                   help="auto: MirroredStrategy when more than one GPU is visible; "
                        "multiworker: from TF_CONFIG")
    r.add_argument("--val-fraction", type=float, default=DEFAULTS.val_fraction,
                   help="part of train held out for validation when the data has no val split")
    r.add_argument("--verbose", type=int, default=DEFAULTS.verbose, choices=(0, 1, 2))

    g = p.add_argument_group("model arguments (passed to the model's constructor)")
    g.add_argument("--model-arg", type=_model_arg, action="append", default=[],
                   metavar="KEY=VALUE", help="any constructor argument, VALUE parsed as JSON")
    # Seed 000's train.py flags for the CIFAR residual / dense nets.
    g.add_argument("--n", type=int, help="blocks per stage (CIFAR ResNet / DenseNet)")
    g.add_argument("--num-filters", type=int, help="filters of the first stage")
    g.add_argument("--width", type=int, help="width multiplier (wide ResNet)")
    g.add_argument("--block", help="block type: normal, bottleneck, dense, dense_fast")
    return p


def parse_config(argv=None) -> FitConfig:
    from kerascnn.training.engine import ConfigError, apply_recipe

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list_recipes:
        from kerascnn.training.recipes import describe_recipes

        print(describe_recipes())
        sys.exit(0)
    given = {a.dest for a in parser._actions
             if getattr(args, a.dest, None) != parser.get_default(a.dest)}
    model_kwargs = dict(args.model_arg)
    for flag in ("n", "num_filters", "width", "block"):
        value = getattr(args, flag)
        if value is not None:
            model_kwargs[flag] = value
    fields = {f.name for f in FitConfig.__dataclass_fields__.values()}
    values = {k: v for k, v in vars(args).items() if k in fields}
    config = FitConfig(**{**values, "model_kwargs": model_kwargs})
    try:
        return apply_recipe(config, given)
    except ConfigError as e:
        parser.error(str(e))


def main(argv=None) -> int:
    from kerascnn.data import DataError
    from kerascnn.training.engine import ConfigError, TrainingFailed, run, summary_line, validate

    config = parse_config(argv)
    try:
        validate(config)
        metrics = run(config)
    except (ConfigError, DataError) as e:
        print(f"fit.py: error: {e}", file=sys.stderr)
        return 2
    except TrainingFailed as e:
        print(f"fit.py: {e}", file=sys.stderr)
        return 1
    print(summary_line(metrics))
    print(f"results in {config.output_dir}: best.keras model.keras history.csv metrics.json "
          "curves.png confusion.png logs/ checkpoints/")
    return 0
