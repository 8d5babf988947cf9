"""Command line of ``scripts/tune.py``: flags -> :class:`SearchConfig` -> :func:`run_search`.

The data, schedule, precision and device flags are those of ``scripts/fit.py``.
A bad command line gets one line on stderr and exit status 2 with nothing
written; a search whose every trial failed, or a worker whose oracle does not
answer, exits with status 1.
"""

from __future__ import annotations

import argparse
import sys

from kerascnn.tuning.search import DISTRIBUTIONS, TUNERS, SearchConfig

__all__ = ["build_parser", "parse_config", "main"]

DEFAULTS = SearchConfig()


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from kerascnn.data import DATASETS
    from kerascnn.training.engine import PRECISIONS
    from kerascnn.training.optim import SCHEDULES

    p = _OneLineParser(
        prog="tune.py",
        description="keras-tuner search over a model family. DIRECTORY/PROJECT receives the "
                    "search (resumed when run again), trials.csv, best_hyperparameters.json "
                    "and best_model.keras.")
    p.add_argument("--model-family", dest="family", required=True,
                   help="a family value of kerascnn.model_info (resnet, vgg, densenet, ...)")
    p.add_argument("--tuner", default=DEFAULTS.tuner, choices=TUNERS)
    p.add_argument("--max-trials", type=int, default=DEFAULTS.max_trials)
    p.add_argument("--epochs", type=int, default=DEFAULTS.epochs,
                   help="epochs per trial (hyperband: the most epochs of a trial)")
    p.add_argument("--directory", default=DEFAULTS.directory)
    p.add_argument("--project-name", default=None, help="default: the family")
    p.add_argument("--overwrite", action="store_true", help="start the search over")
    p.add_argument("--search-space", default=None, metavar="FILE",
                   help="JSON or YAML file overriding ranges: {name: {values|min,max|fixed}}")
    p.add_argument("--retrain", action="store_true",
                   help="best_model.keras: the best configuration retrained on train+val")
    p.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                   help="import MODULE first (it may register more models)")

    d = p.add_argument_group("data (as fit.py)")
    d.add_argument("--dataset", default=DEFAULTS.dataset, choices=sorted(DATASETS))
    d.add_argument("--data-dir", default=None)
    d.add_argument("--classes", type=int, default=None)
    d.add_argument("--image-size", type=int, default=None)
    d.add_argument("--val-fraction", type=float, default=DEFAULTS.val_fraction)
    d.add_argument("--train-subset", type=int, default=None,
                   help="search on this many training images (seeded choice)")
    d.add_argument("--val-subset", type=int, default=None)
    d.add_argument("--seed", type=int, default=DEFAULTS.seed)

    t = p.add_argument_group("training settings that are not searched (as fit.py)")
    t.add_argument("--schedule", default=DEFAULTS.schedule, choices=SCHEDULES)
    t.add_argument("--momentum", type=float, default=DEFAULTS.momentum)
    t.add_argument("--nesterov", action="store_true")
    t.add_argument("--weight-decay-mode", default=DEFAULTS.weight_decay_mode,
                   choices=("l2", "decoupled"), help="adamw trials always decouple")
    t.add_argument("--warmup-epochs", type=float, default=DEFAULTS.warmup_epochs)
    t.add_argument("--precision", default=DEFAULTS.precision, choices=PRECISIONS)
    t.add_argument("--jit-compile", default=DEFAULTS.jit_compile, choices=("auto", "on", "off"))
    t.add_argument("--distribution", default=DEFAULTS.distribution, choices=DISTRIBUTIONS,
                   help="mirrored: every trial on all local GPUs (MirroredStrategy)")
    t.add_argument("--verbose", type=int, default=DEFAULTS.verbose, choices=(0, 1, 2))

    g = p.add_argument_group("distributed search (keras-tuner chief/worker over gRPC)")
    g.add_argument("--chief", default=None, metavar="HOST:PORT",
                   help="alone: run the oracle there; with --worker: the oracle to work for")
    g.add_argument("--worker", default=None, metavar="ID", help="run trials for --chief")
    g.add_argument("--bind-any", action="store_true",
                   help="let the chief bind a non-loopback HOST (unencrypted; set a token)")
    g.add_argument("--auth-token", default=None, metavar="TOKEN",
                   help="shared secret of the chief and its workers, checked on every oracle "
                        "call (default: $KERASCNN_TUNER_TOKEN, which other users cannot see "
                        "in the process list)")
    g.add_argument("--oracle-timeout", type=float, default=DEFAULTS.oracle_timeout,
                   help="seconds a worker waits for each oracle call")
    return p


def parse_config(argv=None) -> SearchConfig:
    from kerascnn.tuning.space import SearchSpaceError, load_search_space

    parser = build_parser()
    args = parser.parse_args(argv)
    values = vars(args)
    path = values.pop("search_space")
    values["imports"] = tuple(values["imports"])
    config = SearchConfig(**values)
    if path is not None:
        try:
            config.search_space = load_search_space(path)
        except SearchSpaceError as e:
            parser.error(str(e))
    return config


def main(argv=None) -> int:
    from kerascnn.data import DataError
    from kerascnn.tuning.distributed import OracleUnavailable
    from kerascnn.tuning.search import SearchError, SearchFailed, run_search

    config = parse_config(argv)
    try:
        run_search(config)
    except (SearchError, DataError) as e:
        print(f"tune.py: error: {e}", file=sys.stderr)
        return 2
    except (SearchFailed, OracleUnavailable) as e:
        print(f"tune.py: {e}", file=sys.stderr)
        return 1
    return 0
