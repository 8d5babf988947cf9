"""keras-tuner search jobs over the registry (``scripts/tune.py``).

    import kerascnn.tuning as tuning
    from kerascnn.training.config import FitConfig
    hypermodel = tuning.hypermodel_for("vgg", classes=6, native_size=32)
    config = tuning.SearchConfig(family="resnet", max_trials=10, directory="tuning",
                                 fit=FitConfig(dataset="signs", data_dir=..., epochs=5))
    summary = tuning.run_search(config)

See :mod:`kerascnn.tuning.hypermodels` (what each family searches),
:mod:`kerascnn.tuning.space` (``--search-space`` files),
:mod:`kerascnn.tuning.search` (the job and its files) and
:mod:`kerascnn.tuning.distributed` (chief/worker search; the oracle has no
authentication and binds 127.0.0.1 by default). Importing this package is
cheap; keras-tuner is imported on first use.
"""

from kerascnn._lazy import lazy_getattr

__all__ = ["HYPERMODELS", "TRAINING_SPACE", "CNNHyperModel", "families", "family_members",
           "hypermodel_for", "SearchConfig", "SearchError", "SearchFailed", "run_search",
           "SearchSpaceError", "load_search_space"]

_LAZY = {
    "HYPERMODELS": "kerascnn.tuning.hypermodels",
    "TRAINING_SPACE": "kerascnn.tuning.hypermodels",
    "CNNHyperModel": "kerascnn.tuning.hypermodels",
    "families": "kerascnn.tuning.hypermodels",
    "family_members": "kerascnn.tuning.hypermodels",
    "hypermodel_for": "kerascnn.tuning.hypermodels",
    "SearchConfig": "kerascnn.tuning.config",
    "SearchError": "kerascnn.tuning.errors",
    "SearchFailed": "kerascnn.tuning.errors",
    "SearchSpaceError": "kerascnn.tuning.errors",
    "run_search": "kerascnn.tuning.search",
    "load_search_space": "kerascnn.tuning.space",
}

__getattr__ = lazy_getattr("kerascnn.tuning", _LAZY)
