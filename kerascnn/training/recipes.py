"""The recipes of the registered families: :mod:`kerascnn.recipes`' data looked up by
the names each family's variant table gives (its default and its paper's recipe)."""

from __future__ import annotations

from kerascnn import registry
from kerascnn.recipes import (  # noqa: F401  (the recipe data, for the training code)
    ADAPT_FLAGS,
    DEFAULT_RECIPES,
    MODERN_RECIPES,
    RECIPES,
    SMALL_DATA_ADAPT,
    SPECIAL_RECIPES,
    adapt_to_data,
    describe_recipe,
    small_data_recipe,
)

__all__ = ["RECIPES", "DEFAULT_RECIPES", "MODERN_RECIPES", "ADAPT_FLAGS", "SPECIAL_RECIPES", "SMALL_DATA_ADAPT",
           "small_data_recipe", "adapt_to_data", "describe_recipe", "describe_recipes",
           "family_recipes"]


def family_recipes(family: str | None = None) -> dict | None:
    """``{"default": recipe, "paper": name}`` of ``family`` (None: the family has none), or
    of every family as ``{family: ...}`` when ``family`` is None."""
    from kerascnn.models import load_families  # keras and every family: on first use only

    load_families()

    def entry(names):
        default, paper = names
        return {"default": dict(DEFAULT_RECIPES[default]), "paper": paper}

    if family is None:
        return {f: entry(n) for f, n in registry.family_recipe_names().items()
                if n[0] is not None}
    names = registry.family_recipe_names(family)
    return None if names is None or names[0] is None else entry(names)


def describe_recipes() -> str:
    """The named recipes, then each family's default and paper recipe (--list-recipes)."""
    lines = ["Named recipes (--recipe NAME): the papers' set-ups"]
    lines += [describe_recipe(name, recipe) for name, recipe in RECIPES.items()
              if name not in MODERN_RECIPES]
    lines.append("")
    lines.append("Modern recipes (--recipe NAME), scaled to the data's size as the family "
                 "defaults are:")
    lines += [describe_recipe(name, recipe) for name, recipe in MODERN_RECIPES.items()]
    lines.append("")
    lines.append("Family defaults (no --recipe, or --recipe default; --recipe paper: the "
                 "family's paper recipe; --recipe none: no recipe):")
    for family, entry in sorted(family_recipes().items()):
        paper = entry["paper"] or "none"
        lines.append(describe_recipe(f"{family} (paper: {paper})", entry["default"]))
    return "\n".join(lines)
