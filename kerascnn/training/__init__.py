"""The training engine behind scripts/fit.py: strategy, recipes, optimizers and
schedules, crash-safe checkpoints, plots."""

from kerascnn.training.engine import FitConfig, run
from kerascnn.training.recipes import RECIPES
from kerascnn.training.strategy import get_strategy, sync_batchnorm

__all__ = ["FitConfig", "run", "RECIPES", "get_strategy", "sync_batchnorm"]
