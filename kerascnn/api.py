"""The public API of the model zoo: :func:`create_model`, :func:`list_models`,
:func:`model_info` (``kerascnn.create_model`` ...), as ``timm.create_model``.

It reads the registry (:mod:`kerascnn.registry`) once every family is registered (importing
:mod:`kerascnn.models` does that) and gathers what the layers below know of a model: its
feature taps (:mod:`kerascnn.features`), weight sets (:mod:`kerascnn.weights`) and recipes
(:mod:`kerascnn.recipes`).
"""

from __future__ import annotations

from kerascnn import registry
from kerascnn.features import create_feature_model, feature_info
from kerascnn.models import load_families
from kerascnn.recipes import DEFAULT_RECIPES, MODERN_RECIPES
from kerascnn.weights.core import weight_sets

__all__ = ["create_model", "list_models", "model_info", "get_spec"]


def get_spec(name: str) -> registry.Variant:
    """The registry's :class:`~kerascnn.registry.Variant` of ``name`` (every family
    loaded); a one-line ValueError naming the closest names if it is unknown."""
    load_families()
    return registry.get_spec(name)


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching an fnmatch ``pattern``, sorted.

    Open-ended families (``resnet{6n+2}_cifar``) contribute their
    representative names.
    """
    load_families()
    return registry.matching(pattern)


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
        return create_feature_model(name, out_indices=out_indices, **kwargs)
    if out_indices is not None:
        raise ValueError("`out_indices` picks feature maps: it needs features_only=True.")
    return get_spec(name).build(**kwargs)


def _int(value):
    return int(value) if value not in (None, "") else None


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
    (``--recipe paper``); ``modern_recipes``: the recipes of the last few years that
    ``--recipe NAME`` takes for any model (torchvision's 2021 recipe, "ResNet strikes
    back" A1/A2/A3), name -> settings with their ``description`` and ``source``.
    """
    spec = get_spec(name)
    recipes = registry.family_recipe_names(spec.family)
    row = registry.reference_rows().get(spec.name)
    derived = None if row else registry.derived_rows().get(spec.name)
    counted = row or derived
    return {
        "name": spec.name,
        "family": spec.family,
        "paper": dict(spec.paper),
        "default_input_shape": spec.default_input,
        "min_input_size": spec.min_size,
        "reference_params": _int(counted["trainable_params"]) if counted else None,
        "reference_source": "reference table" if row else (derived["source"] if derived
                                                           else None),
        "reference_keras_params": _int(row["keras_total_params"]) if row else None,
        "convention": spec.convention or (row["convention"] if row else ""),
        "keras_twin": spec.keras_twin_name,
        "kwargs": dict(spec.kwargs),
        "feature_info": feature_info(spec.name),
        "weights": {tag: ws.as_dict() for tag, ws in sorted(weight_sets(spec.name).items())},
        "recipe": dict(DEFAULT_RECIPES[recipes[0]]) if recipes and recipes[0] else None,
        "paper_recipe": recipes[1] if recipes else None,
        "modern_recipes": {k: dict(v) for k, v in MODERN_RECIPES.items()},
    }
