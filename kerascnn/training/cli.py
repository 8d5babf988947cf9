"""Command line of ``scripts/fit.py``: flags -> :class:`FitConfig` -> :func:`run`.

Every bad command line gets one line on stderr saying what was wrong and what is
allowed, exit status 2, and nothing is written.
"""

from __future__ import annotations

import argparse
import json
import sys

from kerascnn.training.engine import OPTIMIZERS, SCHEDULES, FitConfig

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


def build_parser() -> argparse.ArgumentParser:
    from kerascnn.data import DATASETS
    from kerascnn.data.augment import AUGMENTATIONS, PRESETS
    from kerascnn.training.strategy import STRATEGIES

    p = _OneLineParser(
        prog="fit.py",
        description="Train a kerascnn model on real data and write model.keras, history.csv, "
                    "metrics.json and curves.png into --output-dir.",
    )
    p.add_argument("--model", default=DEFAULTS.model,
                   help=f"registered model name (kerascnn.list_models()); default {DEFAULTS.model}")
    p.add_argument("--dataset", default=DEFAULTS.dataset,
                   help=f"built-in name ({', '.join(sorted(DATASETS))}), a TFDS name (read from a "
                        "prepared --data-dir, never downloaded) or a local path (image folder, "
                        "h5 folder, .npz, idx files); default fashion_mnist")
    p.add_argument("--data-dir", default=None,
                   help="where the data set lives (default: its standard location)")
    p.add_argument("--augment", default=DEFAULTS.augment,
                   help=f"training augmentation: {'|'.join(PRESETS)} or a comma list of "
                        f"{', '.join(AUGMENTATIONS)}; default none")
    p.add_argument("--strict", action="store_true",
                   help="stop at an unreadable data file instead of skipping and counting it")
    p.add_argument("--epochs", type=int, default=DEFAULTS.epochs)
    p.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size)
    p.add_argument("--image-size", type=int, default=None,
                   help="resize images to SIZE x SIZE (default: native, or the model's minimum)")
    p.add_argument("--learning-rate", type=float, default=DEFAULTS.learning_rate)
    p.add_argument("--optimizer", default=DEFAULTS.optimizer, choices=OPTIMIZERS)
    p.add_argument("--schedule", default=DEFAULTS.schedule, choices=SCHEDULES,
                   help="learning-rate schedule over the run (cosine decays to 0)")
    p.add_argument("--seed", type=int, default=DEFAULTS.seed)
    p.add_argument("--output-dir", default=None,
                   help="run directory (default: runs/<model>_<dataset>_<date-time>)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the results of an earlier run in --output-dir")
    p.add_argument("--strategy", default=DEFAULTS.strategy, choices=STRATEGIES,
                   help="auto: MirroredStrategy when more than one GPU is visible")
    p.add_argument("--val-fraction", type=float, default=DEFAULTS.val_fraction,
                   help="part of train held out for validation when the data has no val split")
    p.add_argument("--verbose", type=int, default=DEFAULTS.verbose, choices=(0, 1, 2))
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
    args = build_parser().parse_args(argv)
    model_kwargs = dict(args.model_arg)
    for flag in ("n", "num_filters", "width", "block"):
        value = getattr(args, flag)
        if value is not None:
            model_kwargs[flag] = value
    return FitConfig(
        model=args.model, dataset=args.dataset, data_dir=args.data_dir, epochs=args.epochs,
        batch_size=args.batch_size, image_size=args.image_size,
        learning_rate=args.learning_rate, optimizer=args.optimizer,
        schedule=args.schedule, seed=args.seed,
        output_dir=args.output_dir, strategy=args.strategy, val_fraction=args.val_fraction,
        model_kwargs=model_kwargs, overwrite=args.overwrite, verbose=args.verbose,
        augment=args.augment, strict=args.strict,
    )


def main(argv=None) -> int:
    from kerascnn.data import DataError
    from kerascnn.training.engine import ConfigError, run, summary_line, validate

    config = parse_config(argv)
    try:
        validate(config)
        metrics = run(config)
    except (ConfigError, DataError) as e:
        print(f"fit.py: error: {e}", file=sys.stderr)
        return 2
    print(summary_line(metrics))
    print(f"results in {config.output_dir}: model.keras history.csv metrics.json curves.png")
    return 0
