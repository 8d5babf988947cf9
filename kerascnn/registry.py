"""The model registry: a table of :class:`Variant` records, name -> record.

A leaf, as timm's ``_registry`` and torchvision's ``_api``: it imports no family. Family
folders (``kerascnn/models/<family>/``) fill it when they are imported, and one module,
:mod:`kerascnn.models`, imports them all; the public API (:func:`kerascnn.create_model`,
:func:`kerascnn.list_models`, :func:`kerascnn.model_info`, in :mod:`kerascnn.api`) reads it.

Two kinds of entries exist:

* fixed names (a family's variant table, or
  :func:`kerascnn.models.variants.register_model` for a plain builder), listed by
  :func:`names`;
* name patterns for open-ended families (``resnet{6n+2}_cifar`` for any ``n``),
  registered with :func:`register_pattern`: any name the pattern matches can be
  created; a few representative names are listed.

Names are lower_snake: family + depth + variant (``resnet50``, ``resnet50_v2``,
``resnet110_cifar``, ``resnext50_32x4d``). A family names its default training recipe
and its paper's recipe by name (:mod:`kerascnn.recipes` holds them).
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
    "Variant",
    "register",
    "register_pattern",
    "register_family_recipe",
    "family_recipe_names",
    "get_spec",
    "names",
    "matching",
    "is_registered",
    "reference_rows",
    "derived_rows",
]

_REFERENCE_CSV = os.path.join(os.path.dirname(__file__), "param_counts.csv")
_DERIVED_CSV = os.path.join(os.path.dirname(__file__), "derived_param_counts.csv")


@dataclasses.dataclass(frozen=True)
class Variant:
    """One registered network: what its name fixes and what the registry says of it.

    A family declares its variants as a table of these (the first fields), and
    :func:`kerascnn.models.variants.register_variants` fills the rest when it registers
    them.

    Attributes:
        name: registry name (lower_snake: family + depth + variant).
        constructor: name of the public constructor (``"ResNet50"``; ``""`` for a member of
            an open-ended family that has none).
        arguments: the builder arguments the variant fixes.
        paper: ``{"title", "year"}`` of the paper the network comes from (given as a
            ``(title, year)`` pair or a dict).
        convention: what the parameter count assumes (biases, BN, shortcuts, heads).
        keras_twin: the identical ``keras.applications`` network, if any: a
            :class:`kerascnn.weights.keras_twins.KerasTwin` (its constructor, file and
            preprocessing: keras' ImageNet weights come from it), or the constructor's name.
        default_input: default ``input_shape``.
        min_size: smallest height and width the network accepts.
        classes: default number of classes.
        summary: one line for the docstring (the layout in the paper's words).
        builder: this variant's builder, where a family's networks are built by more
            than one (None: the family's).
        options: this variant's own options (None: the family's).
        family: the registry family (``"resnet"``, ``"inception"``, ...).
        kwargs: keyword arguments every :meth:`build` passes (what
            ``model_info(name)["kwargs"]`` reports).
        entrypoint: the callable that builds the network (the public constructor).
        recipe: name of the family's default training recipe (``kerascnn.recipes``).
        paper_recipe: name of the recipe of the family's paper (``--recipe paper``).
    """

    name: str
    constructor: str
    arguments: dict
    paper: Any
    convention: str = ""
    keras_twin: Any = None
    default_input: tuple = (224, 224, 3)
    min_size: int = 32
    classes: int = 1000
    summary: str = ""
    builder: Callable | None = None
    options: tuple | None = None
    family: str = ""
    kwargs: dict = dataclasses.field(default_factory=dict)
    entrypoint: Callable | None = None
    recipe: str | None = None
    paper_recipe: str | None = None

    def __post_init__(self):
        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.name):
            raise ValueError(f"Registry names are lower_snake ([a-z][a-z0-9_]*); "
                             f"got {self.name!r}.")
        paper = self.paper
        if not isinstance(paper, dict):
            title, year = paper
            paper = {"title": title, "year": int(year)}
        object.__setattr__(self, "paper", dict(paper))
        object.__setattr__(self, "default_input", tuple(self.default_input))
        object.__setattr__(self, "min_size", int(self.min_size))

    @property
    def keras_twin_name(self) -> str | None:
        """The name of the identical keras.applications constructor, or None."""
        twin = self.keras_twin
        return getattr(twin, "constructor", twin)

    def build(self, **kwargs):
        """The network: ``entrypoint(**kwargs, **overrides)``, named after the variant
        unless ``name`` is given."""
        if self.entrypoint is None:
            raise ValueError(f"{self.name} is declared but not registered (no entrypoint).")
        merged = dict(self.kwargs)
        merged.update(kwargs)
        merged.setdefault("name", self.name)
        return self.entrypoint(**merged)


_MODELS: dict[str, Variant] = {}
# family -> (default recipe name, paper recipe name)
_FAMILY_RECIPES: dict[str, tuple] = {}
# (compiled regex, factory(match) -> Variant | None, example names)
_PATTERNS: list[tuple[re.Pattern, Callable[[re.Match], Variant | None], tuple]] = []


def register(variant: Variant) -> Variant:
    """Adds ``variant`` (with its ``entrypoint`` and ``family``) to the table."""
    if variant.name in _MODELS:
        raise ValueError(f"Model {variant.name!r} is already registered.")
    if variant.entrypoint is None or not variant.family:
        raise ValueError(f"{variant.name}: a registered variant needs an entrypoint and a "
                         "family.")
    if variant.recipe is not None or variant.paper_recipe is not None:
        register_family_recipe(variant.family, variant.recipe, variant.paper_recipe)
    _MODELS[variant.name] = variant
    return variant


def register_pattern(regex: str, factory: Callable[[re.Match], Variant | None],
                     examples: tuple = ()) -> None:
    """Registers an open-ended family of names.

    Args:
        regex: a regular expression matched against the whole name.
        factory: called with the match; returns a registered-style :class:`Variant`
            (with its entrypoint) or ``None`` when the name is not a valid member (for
            example a depth that is not 6n+2).
        examples: names that the listing shows for this family.
    """
    _PATTERNS.append((re.compile(regex), factory, tuple(examples)))


def register_family_recipe(family: str, recipe: str | None, paper: str | None = None) -> None:
    """Records the names of ``family``'s default recipe and of its paper's recipe.

    Registering a family again is allowed only with the same names (several modules may
    declare one family)."""
    entry = (recipe, paper)
    if _FAMILY_RECIPES.get(family, entry) != entry:
        raise ValueError(f"Family {family!r} already has the recipes "
                         f"{_FAMILY_RECIPES[family]}; got {entry}.")
    _FAMILY_RECIPES[family] = entry


def family_recipe_names(family: str | None = None):
    """``(default recipe, paper recipe)`` names of ``family`` (None if it has none), or
    ``{family: (default, paper)}`` of every family when ``family`` is None."""
    if family is None:
        return dict(_FAMILY_RECIPES)
    return _FAMILY_RECIPES.get(family)


def names() -> list[str]:
    """Every fixed name and every pattern's listed examples, sorted."""
    found = set(_MODELS)
    for _, _, examples in _PATTERNS:
        found.update(examples)
    return sorted(found)


def is_registered(name: str) -> bool:
    """Whether ``name`` is a fixed entry (not a pattern's member)."""
    return name in _MODELS


def _resolve(name: str) -> Variant | None:
    if name in _MODELS:
        return _MODELS[name]
    for regex, factory, _ in _PATTERNS:
        match = regex.fullmatch(name)
        if match:
            variant = factory(match)
            if variant is not None:
                return variant
    return None


def get_spec(name: str) -> Variant:
    """The :class:`Variant` of ``name``; a one-line ValueError naming the closest names
    if it is unknown."""
    if not isinstance(name, str):
        raise ValueError(f"Model name must be a string; got {name!r}.")
    variant = _resolve(name)
    if variant is None:
        known = names()
        close = difflib.get_close_matches(name, known, n=5, cutoff=0.5)
        hint = f" Closest registered names: {', '.join(close)}." if close else ""
        raise ValueError(
            f"Unknown model {name!r}.{hint} See kerascnn.list_models() for all {len(known)} names."
        )
    return variant


def matching(pattern: str = "*") -> list[str]:
    """Listed names matching an fnmatch ``pattern``, sorted."""
    return [n for n in names() if fnmatch.fnmatchcase(n, pattern)]


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
