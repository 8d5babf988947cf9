"""What a search job is asked to do: :class:`SearchConfig` (no Keras import).

A search holds a :class:`~kerascnn.training.config.FitConfig` (``fit``) with the
data and the training settings that are not searched, exactly as fit.py takes
them; the search's own settings sit beside it.
"""

from __future__ import annotations

import dataclasses
import os

from kerascnn.training.config import FitConfig, run_identity

__all__ = ["SearchConfig", "TUNERS", "DISTRIBUTIONS", "OBJECTIVE", "search_identity"]

TUNERS = ("random", "hyperband", "bayesian")
DISTRIBUTIONS = ("auto", "default", "mirrored")
OBJECTIVE = "val_accuracy"
# Settings that may change between a search and its resumption.
_RESUME_FREE = {"max_trials", "overwrite", "verbose", "chief", "worker", "oracle_timeout",
                "connect_timeout", "trial_lease",
                "retrain", "directory", "project_name", "distribution", "imports",
                "bind_any", "auth_token", "fit"}
# FitConfig fields that a search does not use (the trials' own choices and fit.py's run).
_FIT_UNUSED = {"model", "output_dir", "resume", "overwrite", "verbose", "recipe", "strategy",
               "model_kwargs", "optimizer", "learning_rate", "weight_decay",
               "label_smoothing", "augment", "batch_size", "adapt", "weights", "freeze_backbone",
               "unfreeze_at", "unfreeze_lr_factor"}


def _default_fit() -> FitConfig:
    return FitConfig(verbose=0)


@dataclasses.dataclass
class SearchConfig:
    family: str = "resnet"
    tuner: str = "random"
    max_trials: int = 10
    directory: str = "tuning"
    project_name: str | None = None  # default: the family
    overwrite: bool = False
    search_space: dict | None = None
    fit: FitConfig = dataclasses.field(default_factory=_default_fit)
    train_subset: int | None = None
    val_subset: int | None = None
    distribution: str = "default"
    retrain: bool = False
    chief: str | None = None
    worker: str | None = None
    oracle_timeout: float = 60.0
    connect_timeout: float = 10.0  # a worker: seconds the chief may refuse connections
    trial_lease: float = 60.0  # the chief: seconds a worker may stay silent before its trial
    #                            is handed out again
    bind_any: bool = False
    auth_token: str | None = None  # default: $KERASCNN_TUNER_TOKEN (never saved)
    imports: tuple = ()
    verbose: int = 1

    @property
    def epochs(self) -> int:
        return self.fit.epochs

    @property
    def seed(self) -> int:
        return self.fit.seed

    @property
    def project_dir(self) -> str:
        return os.path.join(self.directory, self.project_name or self.family)


def search_identity(config: SearchConfig, space: dict) -> dict:
    """What a resumed search must share with the search it continues (JSON-ready)."""
    data = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)
            if f.name not in _RESUME_FREE}
    data["imports"] = list(config.imports)
    data["search_space"] = space
    data["fit"] = {k: v for k, v in run_identity(config.fit).items() if k not in _FIT_UNUSED}
    return data
