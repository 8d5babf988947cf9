"""Command line of ``scripts/fit.py``: flags -> :class:`FitConfig` -> :func:`run`.

Every bad command line gets one line on stderr saying what was wrong and what is
allowed, exit status 2, and nothing is written. A run whose loss becomes NaN
exits with status 1 and keeps its last good checkpoint, as does a full disk;
Ctrl-C exits with status 130 after one line saying how to resume, and SIGTERM (a
job scheduler, ``kill``) stops the run the same way with status 143 (128 + 15, what
schedulers expect of a process ended by SIGTERM); a second SIGTERM ends it at once.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

from kerascnn.cli import (
    OneLineParser,
    add_data_arguments,
    add_model_arguments,
    add_training_arguments,
    given_flags,
    model_kwargs_from,
)
from kerascnn.training.config import STRATEGIES, ConfigError, FitConfig, apply_recipe

__all__ = ["build_parser", "main", "parse_config"]

DEFAULTS = FitConfig()


def build_parser() -> OneLineParser:
    p = OneLineParser(
        prog="fit.py",
        description="Train a kerascnn model on real data. The run directory receives "
                    "checkpoints/ (resume), best.keras and model.keras (models that take raw "
                    "images: load them with `import kerascnn` first), history.csv, logs/ "
                    "(TensorBoard), metrics.json, curves.png and confusion.png.",
    )
    p.add_argument("--model", default=DEFAULTS.model,
                   help="registered model name (kerascnn.list_models())")
    p.add_argument("--recipe", default=None,
                   help="the settings of flags not given: default (the model family's "
                        "default recipe), paper (the family's paper recipe), none, or a named "
                        "recipe (see --list-recipes) (default: default)")
    p.add_argument("--list-recipes", action="store_true", help="show the recipes and exit")
    add_data_arguments(p, DEFAULTS)
    add_training_arguments(p, DEFAULTS)
    f = p.add_argument_group("fine-tuning")
    f.add_argument("--weights", default=None, metavar="TAG|PATH",
                   help="initialise the network from pretrained weights, with a new classifier "
                        "for the data's classes: a tag of kerascnn.model_info(MODEL)['weights'] "
                        "or a file (.safetensors, .pth, .keras, .weights.h5 of the model)")
    f.add_argument("--freeze-backbone", action="store_true",
                   help="train only the classifier: every other layer is frozen, its "
                        "BatchNormalization in inference mode")
    f.add_argument("--unfreeze-at", type=int, default=None, metavar="EPOCH",
                   help="with --freeze-backbone: after EPOCH epochs every layer trains, with a "
                        "new optimizer at the learning rate x --unfreeze-lr-factor")
    f.add_argument("--unfreeze-lr-factor", type=float, default=DEFAULTS.unfreeze_lr_factor,
                   help="learning-rate factor of the epochs after --unfreeze-at")
    r = p.add_argument_group("run directory and devices")
    r.add_argument("--output-dir", default=None,
                   help="run directory (default: runs/<model>_<dataset>_<date-time>)")
    r.add_argument("--resume", action="store_true",
                   help="continue the run in --output-dir even if its settings differ")
    r.add_argument("--overwrite", action="store_true", help="start the run in --output-dir over")
    r.add_argument("--strategy", default=DEFAULTS.strategy, choices=STRATEGIES,
                   help="auto: MirroredStrategy when more than one GPU is visible; "
                        "multiworker: from TF_CONFIG")
    r.add_argument("--verbose", type=int, default=None, choices=(0, 1, 2),
                   help="0: quiet; 1: a progress bar; 2: a line of metrics an epoch, no "
                        "progress bar (default: 1 when standard output is a terminal, else 2: "
                        "a log file gets no escape codes)")
    add_model_arguments(p)
    _recipe_defaults(p)
    return p


def _recipe_defaults(parser) -> None:
    """The help of every flag a recipe may set says that the recipe decides its default
    (the parser's own default is the value without a recipe, --recipe none)."""
    from kerascnn.recipes import DEFAULT_RECIPES, RECIPES

    keys = {k for recipe in (*RECIPES.values(), *DEFAULT_RECIPES.values()) for k in recipe}
    for action in parser._actions:
        if action.dest not in keys or not action.option_strings:
            continue
        if action.dest in ("epochs", "batch_size"):
            rule = ("the recipe's, adapted to the training split's size (the run prints it); "
                    "%(default)s with --recipe none")
        else:
            rule = "the recipe's where it sets one (--list-recipes), else %(default)s"
        action.help = f"{action.help or ''} (default: {rule})".lstrip()


def parse_config(argv=None) -> FitConfig:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list_recipes:
        from kerascnn.training.recipes import describe_recipes

        print(describe_recipes())
        sys.exit(0)
    fields = set(FitConfig.__dataclass_fields__)
    values = {k: v for k, v in vars(args).items() if k in fields}
    config = FitConfig(**{**values, "model_kwargs": model_kwargs_from(args)})
    if config.verbose is None:  # a progress bar on a terminal, one line an epoch in a log
        config.verbose = 1 if sys.stdout.isatty() else 2
    if config.recipe is None:
        config.recipe = "default"
    try:
        return apply_recipe(config, given_flags(parser, argv))
    except ConfigError as e:
        parser.error(str(e))


def _interrupted(config, how="interrupted") -> str:
    from kerascnn.training.callbacks import latest_checkpoint

    where = config.output_dir or "the run directory"
    last = latest_checkpoint(os.path.join(config.output_dir, "checkpoints")) \
        if config.output_dir else None
    kept = f"its checkpoint of epoch {last[0]} is kept" if last else "no epoch had finished"
    return (f"fit.py: {how}; {kept} in {where}: run the same command again "
            f"(with --output-dir {where}) to resume.")


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Python checks for signals as Ctrl-C's KeyboardInterrupt is:
    every checkpoint file is written under a temporary name and renamed, so the last
    complete checkpoint is kept wherever it lands."""


def _on_sigterm(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends the process
    raise Terminated


def _catch_sigterm():
    """Installs the SIGTERM handler; returns the previous one (None: not installed, off
    the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _on_sigterm)


def _quiet_disk_full(previous):
    """h5py reports the files it could not close on a full disk as "Exception ignored"
    tracebacks; the run says so in its own line instead."""
    from kerascnn.training.rundir import is_disk_full

    def hook(unraisable):
        if unraisable.exc_value is not None and is_disk_full(unraisable.exc_value):
            return
        previous(unraisable)

    return hook


def main(argv=None) -> int:
    config = parse_config(argv)
    from kerascnn.cli import missing_extra

    problem = missing_extra("fit.py", ("tensorflow", "tensorflow_datasets"))
    if problem:
        print(f"fit.py: error: {problem}", file=sys.stderr)
        return 2
    if config.output_dir and "TF_CONFIG" not in os.environ:  # a busy directory: say so at once
        from kerascnn.training.rundir import RunLock

        try:
            RunLock(config.output_dir).check()
        except ConfigError as e:
            print(f"fit.py: error: {e}", file=sys.stderr)
            return 2
    from kerascnn.data import DataError
    from kerascnn.training.config import TrainingFailed
    from kerascnn.training.report import summary_line
    from kerascnn.training.run import run
    from kerascnn.training.rundir import DiskFull

    previous_hook = sys.unraisablehook
    sys.unraisablehook = _quiet_disk_full(previous_hook)
    previous_term = _catch_sigterm()
    try:
        metrics = run(config)
    except (ConfigError, DataError) as e:
        print(f"fit.py: error: {e}", file=sys.stderr)
        return 2
    except (TrainingFailed, DiskFull) as e:
        print(f"fit.py: {e}", file=sys.stderr)
        return 1
    except Terminated:
        print(_interrupted(config, "stopped by SIGTERM"), file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print(_interrupted(config), file=sys.stderr)
        return 130
    finally:
        sys.unraisablehook = previous_hook
        if previous_term is not None:
            signal.signal(signal.SIGTERM, previous_term)
    print(summary_line(metrics))
    for line in metrics.get("warnings", ()):
        print(f"fit.py: warning: {line}")
    print(f"results in {config.output_dir}: best.keras model.keras history.csv metrics.json "
          "curves.png confusion.png logs/ checkpoints/")
    return 0
