"""keras-tuner search jobs over the registry (``scripts/tune.py``).

    import kerascnn.tuning as tuning
    hypermodel = tuning.hypermodel_for("vgg", classes=6, native_size=32)
    config = tuning.SearchConfig(family="resnet", dataset="signs", data_dir=...,
                                 max_trials=10, epochs=5, directory="tuning")
    summary = tuning.run_search(config)

See :mod:`kerascnn.tuning.hypermodels` (what each family searches),
:mod:`kerascnn.tuning.space` (``--search-space`` files),
:mod:`kerascnn.tuning.search` (the job and its files) and
:mod:`kerascnn.tuning.distributed` (chief/worker search; the oracle has no
authentication and binds 127.0.0.1 by default).
"""

from kerascnn.tuning.hypermodels import (
    HYPERMODELS,
    TRAINING_SPACE,
    CNNHyperModel,
    TrialData,
    families,
    family_members,
    hypermodel_for,
)
from kerascnn.tuning.search import SearchConfig, SearchError, SearchFailed, run_search
from kerascnn.tuning.space import SearchSpaceError, load_search_space

__all__ = ["HYPERMODELS", "TRAINING_SPACE", "CNNHyperModel", "TrialData", "families",
           "family_members", "hypermodel_for", "SearchConfig", "SearchError", "SearchFailed",
           "run_search", "SearchSpaceError", "load_search_space"]
