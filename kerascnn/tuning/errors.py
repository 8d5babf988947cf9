"""The errors of a search job (one-line messages), shared by its modules."""

from __future__ import annotations

__all__ = ["SearchError", "SearchFailed", "SearchSpaceError", "OracleUnavailable"]


class SearchError(ValueError):
    """A bad search request (one-line message, exit status 2, nothing written)."""


class SearchFailed(RuntimeError):
    """The search ran but produced no usable trial (one-line message)."""


class SearchSpaceError(ValueError):
    """A bad search space (one-line message)."""


class OracleUnavailable(RuntimeError):
    """A worker's call to the chief's oracle failed or timed out (one line)."""
