"""The model registry: names -> constructors plus metadata.

Every consumer (the training CLI, the tuner, the diagrams, the tests) enumerates
architectures through this module, so adding an architecture is one module in
``kerascnn/applications`` and one ``register_model`` call.

Two kinds of entries exist:

* fixed names (``register_model("resnet50", ResNet50, ...)``), listed by
  :func:`list_models`;
* name patterns for open-ended families (``resnet{6n+2}_cifar`` for any ``n``),
  registered with :func:`register_pattern`. Any name the pattern matches can be
  created; a few representative names are listed.

Names are lower_snake: family + depth + variant (``resnet50``, ``resnet50_v2``,
``resnet110_cifar``, ``resnext50_32x4d``).
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import fnmatch
import functools
import os
import re
from typing import Any, Callable

__all__ = [
    "ModelSpec",
    "register_model",
    "register_pattern",
    "list_models",
    "create_model",
    "model_info",
    "get_spec",
    "reference_rows",
    "derived_rows",
    "register_family_recipe",
    "family_recipes",
]

_REFERENCE_CSV = os.path.join(os.path.dirname(__file__), "param_counts.csv")
_DERIVED_CSV = os.path.join(os.path.dirname(__file__), "derived_param_counts.csv")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """What the registry knows of one architecture variant."""

    name: str
    constructor: Callable[..., Any]
    kwargs: dict
    family: str
    paper: dict
    default_input_shape: tuple
    min_input_size: int
    convention: str = ""
    keras_twin: str | None = None

    def build(self, **kwargs):
        merged = dict(self.kwargs)
        merged.update(kwargs)
        merged.setdefault("name", self.name)
        if getattr(self.constructor, "handles_weights", False):
            return self.constructor(**merged)
        if not _needs_loader(merged):
            merged.pop("include_preprocessing", None)  # False: the builder's plain model
            return self.constructor(**merged)
        # A pattern's builder (resnet20_cifar, ...): weight sets and checkpoints as the
        # variants' constructors load them.
        import inspect

        from kerascnn.applications.variants import build_with_weights

        classes = inspect.signature(self.constructor).parameters.get("classes")
        return build_with_weights(
            self.constructor, self.name, default_input=self.default_input_shape,
            default_classes=classes.default if classes is not None else 1000, **merged)


def _needs_loader(arguments: dict) -> bool:
    """Whether a builder's ``weights``/``include_preprocessing`` need the weight loader (a
    tag or a checkpoint: a builder itself reads only None, "imagenet" and keras files)."""
    if arguments.get("include_preprocessing"):
        return True
    weights = arguments.get("weights")
    if weights is None:
        return False
    if isinstance(weights, (str, os.PathLike)) and os.fspath(weights).endswith(
            (".keras", ".weights.h5", ".h5")):
        return False
    return True


_MODELS: dict[str, ModelSpec] = {}
# family -> {"default": recipe dict, "paper": name in kerascnn.training.recipes.RECIPES or None}
_FAMILY_RECIPES: dict[str, dict] = {}
# (compiled regex, factory(match) -> ModelSpec | None, example names)
_PATTERNS: list[tuple[re.Pattern, Callable[[re.Match], ModelSpec | None], tuple]] = []


def _paper(paper) -> dict:
    if isinstance(paper, dict):
        return dict(paper)
    title, year = paper
    return {"title": title, "year": int(year)}


def make_spec(
    name: str,
    constructor: Callable[..., Any],
    *,
    family: str,
    paper,
    default_input_shape=(224, 224, 3),
    min_input_size: int = 32,
    convention: str = "",
    keras_twin: str | None = None,
    **kwargs,
) -> ModelSpec:
    """Builds a :class:`ModelSpec` (used directly by pattern factories)."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ValueError(f"Registry names are lower_snake ([a-z][a-z0-9_]*); got {name!r}.")
    return ModelSpec(
        name=name,
        constructor=constructor,
        kwargs=dict(kwargs),
        family=family,
        paper=_paper(paper),
        default_input_shape=tuple(default_input_shape),
        min_input_size=int(min_input_size),
        convention=convention,
        keras_twin=keras_twin,
    )


def register_model(name: str, constructor: Callable[..., Any], **metadata) -> ModelSpec:
    """Registers one architecture variant under ``name``.

    Args:
        name: lower_snake registry name (family + depth + variant).
        constructor: a keras.applications-style constructor.
        **metadata: ``family``, ``paper`` (``(title, year)``),
            ``default_input_shape``, ``min_input_size``, ``convention``,
            ``keras_twin`` (name of the identical ``keras.applications``
            constructor, if any); every other keyword is passed to the
            constructor when the model is created.
    """
    if name in _MODELS:
        raise ValueError(f"Model {name!r} is already registered.")
    spec = make_spec(name, constructor, **metadata)
    _MODELS[name] = spec
    return spec


def register_pattern(
    regex: str,
    factory: Callable[[re.Match], ModelSpec | None],
    examples: tuple = (),
) -> None:
    """Registers an open-ended family of names.

    Args:
        regex: a regular expression matched against the whole name.
        factory: called with the match; returns a :class:`ModelSpec` (see
            :func:`make_spec`) or ``None`` when the name is not a valid member
            (for example a depth that is not 6n+2).
        examples: names that :func:`list_models` lists for this family.
    """
    _PATTERNS.append((re.compile(regex), factory, tuple(examples)))


def register_family_recipe(family: str, recipe: dict, paper: str | None = None) -> None:
    """Registers ``family``'s default training recipe (what fit.py uses when no
    ``--recipe`` is given) and the name of its paper recipe (``--recipe paper``).

    A recipe is a dict of fit settings with a ``description`` (see
    :mod:`kerascnn.training.recipes`). Registering a family again is allowed only
    with the same recipes (several modules may declare one family).
    """
    if "description" not in recipe:
        raise ValueError(f"The recipe of family {family!r} needs a description.")
    entry = {"default": dict(recipe), "paper": paper}
    if family in _FAMILY_RECIPES and _FAMILY_RECIPES[family] != entry:
        raise ValueError(f"Family {family!r} already has another recipe.")
    _FAMILY_RECIPES[family] = entry


def family_recipes(family: str | None = None) -> dict:
    """``{"default": recipe, "paper": name}`` of ``family`` (None: the families without
    one), or of every family as ``{family: ...}`` when ``family`` is None."""
    _ensure_loaded()
    if family is None:
        return {f: {"default": dict(e["default"]), "paper": e["paper"]}
                for f, e in _FAMILY_RECIPES.items()}
    entry = _FAMILY_RECIPES.get(family)
    return None if entry is None else {"default": dict(entry["default"]),
                                       "paper": entry["paper"]}


def _ensure_loaded() -> None:
    # Registration happens when the application modules are imported.
    import kerascnn.applications  # noqa: F401


def _all_listed_names() -> list[str]:
    names = set(_MODELS)
    for _, _, examples in _PATTERNS:
        names.update(examples)
    return sorted(names)


def _resolve(name: str) -> ModelSpec | None:
    if name in _MODELS:
        return _MODELS[name]
    for regex, factory, _ in _PATTERNS:
        match = regex.fullmatch(name)
        if match:
            spec = factory(match)
            if spec is not None:
                return spec
    return None


def get_spec(name: str) -> ModelSpec:
    """Returns the :class:`ModelSpec` of ``name``; ValueError if unknown."""
    _ensure_loaded()
    if not isinstance(name, str):
        raise ValueError(f"Model name must be a string; got {name!r}.")
    spec = _resolve(name)
    if spec is None:
        known = _all_listed_names()
        close = difflib.get_close_matches(name, known, n=5, cutoff=0.5)
        hint = f" Closest registered names: {', '.join(close)}." if close else ""
        raise ValueError(
            f"Unknown model {name!r}.{hint} See kerascnn.list_models() for all {len(known)} names."
        )
    return spec


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching an fnmatch ``pattern``, sorted.

    Open-ended families (``resnet{6n+2}_cifar``) contribute their
    representative names.
    """
    _ensure_loaded()
    return [n for n in _all_listed_names() if fnmatch.fnmatchcase(n, pattern)]


def create_model(name: str, features_only: bool = False, out_indices=None, **kwargs):
    """Builds the registered model ``name``.

    Keyword arguments pass through to the constructor (``include_top``,
    ``weights``, ``input_shape``, ``classes``, ``pooling``,
    ``classifier_activation`` and the family's own options).

    With ``features_only=True`` the model is built without its classifier and
    outputs the feature maps at the end of each stage (for a 224 input at
    strides 2, 4, 8, 16 and 32 where the network has them; 1, 2 and 4 for the
    CIFAR networks), as ``model_info(name)["feature_info"]`` lists them;
    ``out_indices`` picks some of them (see :mod:`kerascnn.features`).
    """
    if not isinstance(features_only, bool):
        raise ValueError(f"`features_only` must be True or False; got {features_only!r}.")
    if features_only:
        from kerascnn.features import create_feature_model

        return create_feature_model(name, out_indices=out_indices, **kwargs)
    if out_indices is not None:
        raise ValueError("`out_indices` picks feature maps: it needs features_only=True.")
    return get_spec(name).build(**kwargs)


@functools.lru_cache(maxsize=1)
def reference_rows() -> dict[str, dict]:
    """The reference parameter counts shipped with the package, by model."""
    with open(_REFERENCE_CSV, newline="", encoding="utf-8") as f:
        return {row["model"]: row for row in csv.DictReader(f)}


@functools.lru_cache(maxsize=1)
def derived_rows() -> dict[str, dict]:
    """Counts of the registered names the reference table lacks, by model.

    Each row has the reference table's columns (``model``, ``input``, ``classes``,
    ``kwargs``, ``trainable_params``) and a ``source``: the independent
    implementation or the closed form the count was checked against.
    """
    with open(_DERIVED_CSV, newline="", encoding="utf-8") as f:
        return {row["model"]: row for row in csv.DictReader(f)}


def model_info(name: str) -> dict:
    """Metadata of a registered model.

    Returns a dict with ``name``, ``family``, ``paper`` (``title``,
    ``year``), ``default_input_shape``, ``min_input_size``,
    ``reference_params`` (the trainable count of the reference table, else of
    the derived table, else None), ``reference_source`` (``"reference table"``,
    the derived row's source, or None), ``reference_keras_params`` (keras
    ``count_params()`` where the reference table has it), ``convention``,
    ``keras_twin``, ``kwargs`` and ``feature_info``: the stage outputs that
    ``create_model(name, features_only=True)`` returns, one dict per output
    (``layer``, ``channels``, ``stride``, ``index``; see :mod:`kerascnn.features`);
    ``weights``: the weight sets the model can load, tag -> ``source``, ``url``,
    ``sha256``, ``classes``, ``input_size``, ``mean``, ``std``, ``interpolation``,
    ``crop_pct``, ``top1`` (as published), ``license``, ... ({} when none; see
    :class:`kerascnn.weights.WeightSet`); ``recipe``: the family's default training
    recipe (the settings fit.py uses when no ``--recipe`` is given; None if the
    family has none) and ``paper_recipe``: the name of its paper recipe
    (``--recipe paper``).
    """
    from kerascnn.features import feature_info
    from kerascnn.weights.core import weight_sets

    spec = get_spec(name)
    recipes = family_recipes(spec.family)
    row = reference_rows().get(spec.name)
    derived = None if row else derived_rows().get(spec.name)

    def _int(value):
        return int(value) if value not in (None, "") else None

    return {
        "name": spec.name,
        "family": spec.family,
        "paper": dict(spec.paper),
        "default_input_shape": spec.default_input_shape,
        "min_input_size": spec.min_input_size,
        "reference_params": _int((row or derived)["trainable_params"]) if row or derived
        else None,
        "reference_source": "reference table" if row else (derived["source"] if derived
                                                           else None),
        "reference_keras_params": _int(row["keras_total_params"]) if row else None,
        "convention": spec.convention or (row["convention"] if row else ""),
        "keras_twin": spec.keras_twin,
        "kwargs": dict(spec.kwargs),
        "feature_info": feature_info(spec.name),
        "weights": {tag: ws.as_dict() for tag, ws in sorted(weight_sets(spec.name).items())},
        "recipe": recipes["default"] if recipes else None,
        "paper_recipe": recipes["paper"] if recipes else None,
    }
