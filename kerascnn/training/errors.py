"""The errors of a training run, below every other module of the package
(:mod:`~kerascnn.training.config` and :mod:`~kerascnn.training.rundir` both raise
:class:`ConfigError`; neither imports the other for it)."""

from __future__ import annotations

__all__ = ["ConfigError", "TrainingFailed"]


class ConfigError(ValueError):
    """A bad run configuration (one-line message)."""


class TrainingFailed(RuntimeError):
    """Training stopped (non-finite loss); the last good checkpoint is kept."""
