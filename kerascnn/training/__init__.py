"""The training engine behind scripts/fit.py."""

from kerascnn.training.engine import FitConfig, run
from kerascnn.training.strategy import get_strategy, sync_batchnorm

__all__ = ["FitConfig", "run", "get_strategy", "sync_batchnorm"]
