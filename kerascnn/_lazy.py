"""Module attributes imported on first use (PEP 562), so packages stay cheap to import."""

from __future__ import annotations

import importlib
import sys

__all__ = ["lazy_getattr"]


def lazy_getattr(package: str, names: dict):
    """A module ``__getattr__`` that imports ``names[attribute]`` (a module path) on first
    access and returns that module's attribute of the same name.

    The value is then bound on the package, so the next access is a plain lookup and a
    function named as its own submodule (``kerascnn.utils.receptive_field``) is not
    shadowed by the submodule that importing it binds on the package."""

    def __getattr__(name):
        if name in names:
            value = getattr(importlib.import_module(names[name]), name)
            setattr(sys.modules[package], name, value)
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
