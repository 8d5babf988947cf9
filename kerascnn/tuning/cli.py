"""Command line of ``scripts/tune.py``: flags -> :class:`SearchConfig` -> :func:`run_search`.

The data flags, and the training flags that are not searched, are fit.py's own
(the same parser code, the same checks and messages). A bad command line gets
one line on stderr and exit status 2 with nothing written; a search whose every
trial failed, or a worker whose oracle does not answer, exits with status 1.
"""

from __future__ import annotations

import sys

from kerascnn.cli import OneLineParser, add_data_arguments, add_training_arguments
from kerascnn.training.config import FitConfig
from kerascnn.tuning.config import DISTRIBUTIONS, TUNERS, SearchConfig

__all__ = ["build_parser", "parse_config", "main"]

DEFAULTS = SearchConfig()
# The training choices every hypermodel searches (kerascnn.tuning.hypermodels.TRAINING_SPACE).
SEARCHED = ("optimizer", "learning_rate", "weight_decay", "label_smoothing", "augment",
            "batch_size")
_SEARCH_FIELDS = {"family", "tuner", "max_trials", "directory", "project_name", "overwrite",
                  "train_subset", "val_subset", "distribution", "retrain", "chief", "worker",
                  "oracle_timeout", "connect_timeout", "trial_lease", "bind_any", "auth_token",
                  "imports", "verbose"}


def build_parser() -> OneLineParser:
    p = OneLineParser(
        prog="tune.py",
        description="keras-tuner search over a model family. DIRECTORY/PROJECT receives the "
                    "search (resumed when run again), trials.csv, best_hyperparameters.json "
                    "and best_model.keras (a model that takes raw images).")
    p.add_argument("--model-family", dest="family", required=True,
                   help="a family value of kerascnn.model_info (resnet, vgg, densenet, ...) "
                        "or a model name (its family)")
    p.add_argument("--tuner", default=DEFAULTS.tuner, choices=TUNERS)
    p.add_argument("--max-trials", type=int, default=DEFAULTS.max_trials)
    p.add_argument("--directory", default=DEFAULTS.directory)
    p.add_argument("--project-name", default=None, help="default: the family")
    p.add_argument("--overwrite", action="store_true", help="start the search over")
    p.add_argument("--search-space", default=None, metavar="FILE",
                   help="JSON or YAML file overriding ranges: {name: {values|min,max|fixed}}")
    p.add_argument("--retrain", action="store_true",
                   help="best_model.keras: the best configuration retrained on train+val")
    p.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                   help="import MODULE first (it may register more models)")
    add_data_arguments(p, DEFAULTS.fit, subsets=True)
    t = add_training_arguments(p, DEFAULTS.fit, searched=SEARCHED, run=False)
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
    g.add_argument("--connect-timeout", type=float, default=DEFAULTS.connect_timeout,
                   help="seconds a worker retries while the chief's address refuses "
                        "connections (then exit 2); start the chief first")
    g.add_argument("--trial-lease", type=float, default=DEFAULTS.trial_lease,
                   help="chief: seconds a worker may send nothing (its heartbeat comes every "
                        "quarter of this) before its trial is handed out again")
    return p


def parse_config(argv=None) -> SearchConfig:
    from kerascnn.tuning.errors import SearchSpaceError

    parser = build_parser()
    values = vars(parser.parse_args(argv))
    path = values.pop("search_space")
    values["imports"] = tuple(values["imports"])
    fit_fields = set(FitConfig.__dataclass_fields__)
    fit = FitConfig(**{k: v for k, v in values.items() if k in fit_fields and k != "verbose"},
                    verbose=0)
    config = SearchConfig(fit=fit, **{k: v for k, v in values.items() if k in _SEARCH_FIELDS})
    if path is not None:
        from kerascnn.tuning.space import load_search_space

        try:
            config.search_space = load_search_space(path)
        except SearchSpaceError as e:
            parser.error(str(e))
    return config


def main(argv=None) -> int:
    config = parse_config(argv)
    from kerascnn.cli import missing_extra

    problem = missing_extra("tune.py", ("tensorflow", "tensorflow_datasets", "keras_tuner"))
    if problem:
        print(f"tune.py: error: {problem}", file=sys.stderr)
        return 2
    from kerascnn.data import DataError
    from kerascnn.tuning.errors import OracleUnavailable, SearchError, SearchFailed
    from kerascnn.tuning.search import run_search

    try:
        run_search(config)
    except (SearchError, DataError) as e:
        print(f"tune.py: error: {e}", file=sys.stderr)
        return 2
    except (SearchFailed, OracleUnavailable) as e:
        print(f"tune.py: {e}", file=sys.stderr)
        return 1
    return 0
