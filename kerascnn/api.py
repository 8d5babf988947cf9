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
from kerascnn.recipes import DEFAULT_RECIPES
from kerascnn.weights.core import models_with_weight_sets, weight_sets

__all__ = ["create_model", "list_models", "model_info", "get_spec", "reset_classifier"]


def get_spec(name: str) -> registry.Variant:
    """The registry's :class:`~kerascnn.registry.Variant` of ``name`` (every family
    loaded); a one-line ValueError naming the closest names if it is unknown."""
    load_families()
    return registry.get_spec(name)


def list_models(pattern: str = "*", pretrained: bool = False,
                weights: str | None = None) -> list[str]:
    """Registered model names matching an fnmatch ``pattern``, sorted.

    Open-ended families (``resnet{6n+2}_cifar``) contribute their
    representative names.

    Args:
        pretrained: only the names with at least one weight set (``weights=`` tags,
            ``model_info(name)["weights"]``), as ``timm.list_models(pretrained=True)``.
        weights: only the names with a weight set of this tag (``"imagenet"``,
            ``"imagenet_v1"``, ``"cifar10"``); implies ``pretrained``.
    """
    if not isinstance(pretrained, bool):
        raise ValueError(f"`pretrained` must be True or False; got {pretrained!r}.")
    if weights is not None and not isinstance(weights, str):
        raise ValueError(f"`weights` must be a weight set tag (a string); got {weights!r}.")
    load_families()
    names = registry.matching(pattern)
    if not pretrained and weights is None:
        return names
    with_sets = set(models_with_weight_sets())
    return [n for n in names if n in with_sets
            and (weights is None or weights in weight_sets(n))]


def reset_classifier(model, classes: int, classifier_activation="keep"):
    """``model`` with a new classifier for ``classes`` classes; every other layer is kept
    (the same layer objects, so the same weights), as timm's ``reset_classifier``.

    * a model with its top: the classifier (the weighted layer nearest the output: a Dense,
      or the 1x1 convolution of NiN, SqueezeNet or MobileNet) is replaced by a new one of
      the same kind with ``classes`` units; the weightless layers after it (activation,
      pooling, reshape) are applied again;
    * a pooled model (``include_top=False, pooling="avg"``/``"max"``): a Dense is added
      (so is one after NiN's or SqueezeNet's pooled class maps when they were built with
      ``classifier_activation=None``: their output is then a pooling layer's);
    * a feature map (``include_top=False``) or a ``features_only`` model: the last (deepest)
      map is average-pooled and a Dense added (the model then outputs the logits only).

    Args:
        model: a functional kerascnn (or keras) model.
        classes: the new number of classes (a positive integer).
        classifier_activation: ``"keep"`` (the old classifier's activation; ``None`` for
            an added one), or an activation for the new classifier (None: logits).

    Returns:
        A new ``keras.Model`` (the new classifier's weights freshly initialised; named
        ``predictions`` where one is added).
    """
    import keras

    from kerascnn.graph import model_call, producer

    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
        raise ValueError(f"`classes` must be a positive integer; got {classes!r}.")
    if not hasattr(model, "outputs") or not model.outputs or not model.inputs:
        raise ValueError("reset_classifier needs a built functional model (keras.Model with "
                         f"inputs and outputs); got {type(model).__name__}.")
    keep = classifier_activation == "keep"
    outputs = model.outputs
    x = outputs[-1]
    pooled = len(outputs) == 1 and len(x.shape) == 2 and type(producer(x)).__name__ in (
        "GlobalAveragePooling2D", "GlobalMaxPooling2D")
    if len(outputs) > 1 or len(x.shape) == 4 or pooled:
        if len(x.shape) == 4:
            x = keras.layers.GlobalAveragePooling2D(name="reset_avg_pool")(x)
        elif len(x.shape) != 2:
            raise ValueError(f"reset_classifier: the model's output has shape {x.shape}; "
                             "a feature map or pooled features are expected.")
        y = keras.layers.Dense(classes, activation=None if keep else classifier_activation,
                               name="predictions")(x)
        return keras.Model(model.input, y, name=model.name)
    # With its top: walk back from the output through weightless layers to the classifier.
    after, op = [], producer(x)
    while op is not None and not op.weights:
        call = model_call(model, op)
        if call is None or len(call.inputs) != 1:
            raise ValueError(f"reset_classifier: cannot walk back through layer "
                             f"{op.name!r} to the classifier.")
        after.append(op)
        op = producer(call.inputs[0])
    call = model_call(model, op) if op is not None else None
    if call is None or type(op).__name__ not in ("Dense", "Conv2D") or len(call.inputs) != 1:
        raise ValueError("reset_classifier: the layer nearest the output is "
                         f"{type(op).__name__ if op is not None else 'none'}, not a Dense or "
                         "Conv2D classifier.")
    config = op.get_config()
    old = config["units"] if "units" in config else config["filters"]
    config.update({"units" if "units" in config else "filters": classes,
                   "activation": config["activation"] if keep else classifier_activation})
    for key in ("kernel_initializer", "bias_initializer"):
        config.pop(key, None)  # fresh defaults, not the old layer's seeded initializer
    config.pop("name", None)
    new = type(op).from_config({**config, "name": op.name})
    y = new(call.inputs[0])
    for layer in reversed(after):
        y = _again(layer, y, old, classes)
    return keras.Model(model.input, y, name=model.name)


def _again(layer, y, old: int, classes: int):
    """A weightless layer after the classifier applied to the new classifier's output (a
    Reshape's target shape follows the new number of classes)."""
    import keras

    config = layer.get_config()
    if type(layer).__name__ == "Reshape":
        config["target_shape"] = tuple(classes if d == old else d
                                       for d in config["target_shape"])
        return keras.layers.Reshape.from_config(config)(y)
    return type(layer).from_config(config)(y)


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
    ``sha256``, ``classes``, ``input_size``, the publisher's evaluation transform
    (``crop_size``, ``resize_size``, ``crop_pct``, ``resize_mode``, ``interpolation``,
    ``mean``, ``std``, ``channel_order`` and ``transform``, the whole in one line),
    ``top1``/``top5`` (as published, None where not), ``recipe``, ``num_params``,
    ``license``, ... ({} when none; see :class:`kerascnn.weights.WeightSet` and
    docs/pretrained.md); ``recipe``: the family's default training
    recipe (the settings fit.py uses when no ``--recipe`` is given; None if the
    family has none) and ``paper_recipe``: the name of its paper recipe
    (``--recipe paper``).
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
    }
