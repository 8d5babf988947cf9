"""The training run behind ``scripts/fit.py``: one pipeline, data -> model -> run.

* :mod:`kerascnn.training.config`: :class:`FitConfig`, its checks, recipes applied,
  the run directory's identity (what a resumed run must share);
* :mod:`kerascnn.training.data`: :func:`prepare_data` -> :class:`TrainingData`
  (splits, classes, statistics, the augmentation plan, the tf.data pipelines);
* :mod:`kerascnn.training.model`: :func:`build_model` (preprocessing layers + the
  registry model, compiled);
* :mod:`kerascnn.training.run`: ``run.run(config)`` (strategy, resume, ``model.fit``
  with crash-safe checkpoints);
* :mod:`kerascnn.training.report`: :func:`fit_and_report`'s evaluation and files.

Importing this package is cheap; Keras is imported by the modules that need it.
"""

from kerascnn._lazy import lazy_getattr

__all__ = ["FitConfig", "prepare_data", "build_model", "RECIPES", "get_strategy",
           "sync_batchnorm"]

_LAZY = {
    "FitConfig": "kerascnn.training.config",
    "prepare_data": "kerascnn.training.data",
    "build_model": "kerascnn.training.model",
    "RECIPES": "kerascnn.training.recipes",
    "get_strategy": "kerascnn.training.strategy",
    "sync_batchnorm": "kerascnn.training.strategy",
}

__getattr__ = lazy_getattr("kerascnn.training", _LAZY)
