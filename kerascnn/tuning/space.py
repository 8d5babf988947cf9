"""Search spaces: each hyperparameter's range as data, overridable from a file.

A range is a dict, one of::

    {"values": [32, 64, 128], "default": 64}          # a choice
    {"min": 1e-4, "max": 0.1, "sampling": "log"}      # a float range
    {"min": 1, "max": 5, "step": 1}                   # an integer range
    {"fixed": "adam"}                                 # not searched

In a ``--search-space`` file (JSON, or YAML when the name ends in .yaml/.yml)
a list stands for ``{"values": [...]}`` and a scalar for ``{"fixed": ...}``.
Only names the hypermodel knows are accepted.
"""

from __future__ import annotations

import json
import math

from kerascnn.tuning.errors import SearchSpaceError  # noqa: F401  (re-exported)

__all__ = ["SearchSpaceError", "load_search_space", "normalize_range", "merge_space", "declare",
           "range_summary"]


def load_search_space(path) -> dict:
    """Reads a JSON or YAML search-space file into ``{name: range}``."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise SearchSpaceError(f"Cannot read --search-space {path}: {e.strerror}.") from None
    try:
        if str(path).lower().endswith((".yaml", ".yml")):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as e:  # yaml.YAMLError, json.JSONDecodeError
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise SearchSpaceError(f"--search-space {path} is not valid "
                               f"{'YAML' if str(path).endswith(('.yaml', '.yml')) else 'JSON'}: "
                               f"{first}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SearchSpaceError(f"--search-space {path} must hold a mapping of hyperparameter "
                               f"names to ranges; got {type(data).__name__}.")
    return {str(k): v for k, v in data.items()}


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def normalize_range(name: str, spec) -> dict:
    """Checks one range and returns it in dict form (see the module docstring)."""
    if isinstance(spec, (list, tuple)):
        spec = {"values": list(spec)}
    elif not isinstance(spec, dict):
        spec = {"fixed": spec}
    spec = dict(spec)
    keys = set(spec)
    if "fixed" in keys:
        if keys != {"fixed"}:
            raise SearchSpaceError(f"{name}: 'fixed' takes no other keys; got {sorted(keys)}.")
        return spec
    if "values" in keys:
        extra = keys - {"values", "default"}
        if extra:
            raise SearchSpaceError(f"{name}: a choice takes 'values' and 'default'; got "
                                   f"{sorted(extra)}.")
        values = spec["values"]
        if not isinstance(values, list) or not values:
            raise SearchSpaceError(f"{name}: 'values' must be a non-empty list; got {values!r}.")
        kinds = {bool if isinstance(v, bool) else int if isinstance(v, int)
                 else float if _is_number(v) else type(v) for v in values}
        if kinds == {int, float} or kinds == {float}:
            spec["values"] = values = [float(v) for v in values]
        elif len(kinds) != 1 or not kinds <= {int, bool, str}:
            raise SearchSpaceError(f"{name}: 'values' must all be numbers, all strings or all "
                                   f"booleans; got {values!r}.")
        if len(set(values)) != len(values):
            raise SearchSpaceError(f"{name}: 'values' has duplicates: {values!r}.")
        if "default" in spec and spec["default"] not in values:
            raise SearchSpaceError(f"{name}: default {spec['default']!r} is not one of "
                                   f"{values!r}.")
        return spec
    if {"min", "max"} <= keys:
        extra = keys - {"min", "max", "step", "sampling", "default"}
        if extra:
            raise SearchSpaceError(f"{name}: a range takes min, max, step, sampling and "
                                   f"default; got {sorted(extra)}.")
        lo, hi = spec["min"], spec["max"]
        if not (_is_number(lo) and _is_number(hi)):
            raise SearchSpaceError(f"{name}: min and max must be finite numbers; got "
                                   f"min={lo!r}, max={hi!r}.")
        if lo > hi:
            raise SearchSpaceError(f"{name}: inverted range, min {lo} > max {hi}.")
        if lo == hi:
            raise SearchSpaceError(f"{name}: empty range, min == max == {lo}; use "
                                   f"{{\"fixed\": {lo}}} to pin a value.")
        sampling = spec.get("sampling", "linear")
        if sampling not in ("linear", "log", "reverse_log"):
            raise SearchSpaceError(f"{name}: sampling must be linear, log or reverse_log; got "
                                   f"{sampling!r}.")
        if sampling != "linear" and lo <= 0:
            raise SearchSpaceError(f"{name}: {sampling} sampling needs min > 0; got min={lo}.")
        step = spec.get("step")
        if step is not None and (not _is_number(step) or step <= 0):
            raise SearchSpaceError(f"{name}: step must be a positive number; got {step!r}.")
        if "default" in spec and not (_is_number(spec["default"]) and
                                      lo <= spec["default"] <= hi):
            raise SearchSpaceError(f"{name}: default {spec['default']!r} is outside "
                                   f"[{lo}, {hi}].")
        return spec
    raise SearchSpaceError(f"{name}: a range needs 'values', 'min' and 'max', or 'fixed'; got "
                           f"{sorted(keys)}.")


def merge_space(defaults: dict, overrides: dict | None, what: str) -> dict:
    """``defaults`` with ``overrides`` applied; unknown names are errors."""
    overrides = overrides or {}
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        raise SearchSpaceError(f"Unknown hyperparameter {unknown[0]!r} for {what}; allowed: "
                               f"{', '.join(sorted(defaults))}.")
    merged = {}
    for name, spec in defaults.items():
        merged[name] = normalize_range(name, overrides.get(name, spec))
    return merged


def _is_int_range(spec) -> bool:
    return all(isinstance(spec.get(k), int) and not isinstance(spec.get(k), bool)
               for k in ("min", "max")) and isinstance(spec.get("step", 1), int)


def declare(hp, name: str, spec: dict):
    """Declares ``name`` on a keras_tuner ``HyperParameters`` and returns its value."""
    if "fixed" in spec:
        value = spec["fixed"]
        return hp.Fixed(name, value) if value is not None else None
    if "values" in spec:
        return hp.Choice(name, spec["values"], default=spec.get("default"))
    sampling = spec.get("sampling", "linear")
    if _is_int_range(spec):
        return hp.Int(name, spec["min"], spec["max"], step=spec.get("step"), sampling=sampling,
                      default=spec.get("default"))
    return hp.Float(name, float(spec["min"]), float(spec["max"]), step=spec.get("step"),
                    sampling=sampling, default=spec.get("default"))


def range_summary(spec: dict) -> str:
    if "fixed" in spec:
        return f"= {spec['fixed']!r}"
    if "values" in spec:
        return "in {" + ", ".join(repr(v) for v in spec["values"]) + "}"
    return f"in [{spec['min']}, {spec['max']}]" + (
        f" ({spec['sampling']})" if spec.get("sampling", "linear") != "linear" else "")
