"""Module attributes imported on first use (PEP 562), so packages stay cheap to import."""

from __future__ import annotations

import importlib

__all__ = ["lazy_getattr"]


def lazy_getattr(package: str, names: dict):
    """A module ``__getattr__`` that imports ``names[attribute]`` (a module path) on first
    access and returns that module's attribute of the same name."""

    def __getattr__(name):
        if name in names:
            return getattr(importlib.import_module(names[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
