"""Variants declared one way: a table of :class:`Variant` records and one
:func:`register_variants` call per family.

A family module holds one builder (``ResNet``, ``VGG``, ...) and a table::

    VARIANTS = (
        Variant("resnet50", "ResNet50", dict(blocks_per_stage=(3, 4, 6, 3)), PAPER,
                keras_twin="ResNet50", weights="resnet50"),
        ...
    )
    register_variants(ResNet, VARIANTS, family="resnet", doc=DOC, namespace=globals(),
                      options=("shortcut", "se_ratio"))

:func:`register_variants` builds each public constructor (the keras.applications
signature plus the family's ``options``), gives it its docstring, registers it under
the variant's name and exports it from the family module.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Callable

import keras

from kerascnn.registry import register_family_recipe, register_model

__all__ = ["Variant", "register_variants"]


@dataclasses.dataclass(frozen=True)
class Variant:
    """One registered network: what its name fixes and what the registry says of it.

    Attributes:
        name: registry name (lower_snake: family + depth + variant).
        constructor: name of the public constructor (``ResNet50``).
        arguments: the builder arguments the variant fixes.
        paper: ``(title, year)`` of the paper the network comes from.
        convention: what the parameter count assumes (biases, BN, shortcuts, heads).
        keras_twin: name of the identical ``keras.applications`` constructor, if any.
        weights: stem of keras' ImageNet weights file (``weights="imagenet"`` reads
            ``{weights}_weights_tf_dim_ordering_tf_kernels[_notop].h5``); None: no
            ImageNet weights.
        default_input: default ``input_shape``.
        min_size: smallest height and width the network accepts.
        classes: default number of classes.
        summary: one line for the docstring (the layout in the paper's words).
        builder: this variant's builder, where a family's networks are built by more
            than one (None: the builder given to :func:`register_variants`).
        options: this variant's own options (None: the family's).
    """

    name: str
    constructor: str
    arguments: dict
    paper: tuple
    convention: str = ""
    keras_twin: str | None = None
    weights: str | None = None
    default_input: tuple = (224, 224, 3)
    min_size: int = 32
    classes: int = 1000
    summary: str = ""
    builder: Callable | None = None
    options: tuple | None = None


# Weight sets are registered by kerascnn.weights.sources, imported lazily (not while the
# families register): the docstring names where to look rather than the tags.
_WEIGHTS_DOC = (
    "None (random); the tag of a published weight set (``\"imagenet\"`` where the model has "
    "one; ``kerascnn.model_info(name)[\"weights\"]`` lists them), downloaded once into the "
    "Keras cache and converted once; a .safetensors/.pth checkpoint in a weight set's layout; "
    "or a .keras/.weights.h5 file. ``include_preprocessing=True`` puts the weight set's resize "
    "and mean/std in front as layers (the model then takes 0-255 RGB images)"
)


def _doc(variant: Variant, template: str) -> str:
    arguments = ", ".join(f"{k}={v!r}" for k, v in variant.arguments.items())
    return template.format(
        constructor=variant.constructor, name=variant.name, title=variant.paper[0],
        year=variant.paper[1], summary=variant.summary or arguments, arguments=arguments,
        weights=_WEIGHTS_DOC, input=variant.default_input,
        min_size=variant.min_size, classes=variant.classes,
    )


def _copy_by_name(src, dst, classifier_may_differ: bool = False) -> None:
    """Copies every weighted layer of ``src`` into ``dst``'s layer of the same name (the
    same builder with keras' file loaded). With ``classifier_may_differ`` (another number of
    classes), layers whose shapes differ are left as they are: the classifier (resnet's is
    named fc{classes})."""
    from kerascnn.weights.transfer import copy_weights_by_name

    skip = "skip" if classifier_may_differ else "raise"
    copy_weights_by_name(src, dst, missing=skip, mismatched=skip)


def _make_constructor(builder, variant: Variant, options: tuple, twin_arguments: bool):
    fixed = dict(variant.arguments)
    if twin_arguments:
        fixed["keras_twin"] = (getattr(keras.applications, variant.keras_twin)
                               if variant.weights else None)
        fixed["weights_file"] = variant.weights

    def constructor(include_top=True, weights=None, input_tensor=None, input_shape=None,
                    pooling=None, classes=variant.classes, classifier_activation="softmax",
                    name=variant.name, include_preprocessing=False, **kwargs):
        unknown = sorted(set(kwargs) - set(options))
        if unknown:
            allowed = ", ".join(options) if options else "none"
            raise ValueError(f"{variant.constructor}() got unknown argument(s) "
                             f"{', '.join(unknown)}; its own options are: {allowed}.")
        return build_with_weights(
            builder, variant.name, default_input=variant.default_input,
            default_classes=variant.classes, include_top=include_top, weights=weights,
            input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
            classes=classes, classifier_activation=classifier_activation, name=name,
            include_preprocessing=include_preprocessing, **dict(fixed, **kwargs))

    constructor.__name__ = constructor.__qualname__ = variant.constructor
    constructor.__signature__ = _signature(constructor, builder, variant, options)
    constructor.handles_weights = True
    return constructor


def build_with_weights(builder, model_name: str, *, default_input, default_classes,
                       weights=None, include_preprocessing=False, **arguments):
    """Builds ``builder(**arguments)`` and loads ``weights`` into it: what every registered
    model's ``weights=`` means (:func:`kerascnn.create_model`, the constructors).

    Args:
        builder: the family's builder (keras.applications arguments).
        model_name: the registry name (whose weight sets tags name).
        default_input, default_classes: the model's defaults.
        weights: None, a tag of the model's weight sets (or a WeightSet), a checkpoint
            (.safetensors/.pth/.pt/.bin, converted) or a keras file (.keras/.weights.h5).
        include_preprocessing: put the weight set's resize and standardization in front
            (the model then takes 0-255 RGB images).
        arguments: the rest, passed to ``builder`` (``include_top``, ``classes``, ...).
    """
    if not isinstance(include_preprocessing, bool):
        raise ValueError("`include_preprocessing` must be True or False; got "
                         f"include_preprocessing={include_preprocessing!r}.")
    from kerascnn.weights.loading import (
        check_available,
        load_checkpoint,
        load_weight_set,
        resolve_weights,
    )

    include_top = arguments.get("include_top", True)
    classes = arguments.get("classes", default_classes)
    input_shape = arguments.pop("input_shape", None)
    input_tensor = arguments.pop("input_tensor", None)
    kind, value = resolve_weights(model_name, weights)
    ws = value if kind == "tag" else None
    if ws is not None:
        _check_weight_set(model_name, ws, input_shape, arguments)
        if not ws.source.startswith("keras:"):
            # Fail fast, before building. (keras' own files: the keras builder checks its
            # arguments first, then downloads with the same fast failure.)
            check_available(model_name, ws, top=include_top)
        arguments = dict(ws.model_kwargs, **arguments)
    keras_file = value if kind == "keras" else None
    if include_preprocessing:
        from kerascnn.preprocessing import add_weight_set_preprocessing

        if input_tensor is not None:
            raise ValueError("`include_preprocessing=True` builds the model's own input: "
                             "give input_shape, not input_tensor.")

        def build(shape, tensor):
            return builder(weights=keras_file, input_tensor=tensor, input_shape=shape,
                           **arguments)

        model = add_weight_set_preprocessing(
            build, ws or _preprocessing_set(model_name), input_shape, default_input,
            include_top=include_top, classes=classes,
            name=arguments.get("name", model_name))
    else:
        model = builder(weights=keras_file, input_tensor=input_tensor, input_shape=input_shape,
                        **arguments)
    if kind == "checkpoint":
        load_checkpoint(model, model_name, value,
                        skip_classifier=not include_top or classes != default_classes)
    elif kind == "tag":
        convert = None
        if ws.source.startswith("keras:"):
            def convert(target, skip):
                # keras' file with the same top (VGG's fc1 and fc2 are in it), then all but
                # the classifier where the classes differ.
                reference = builder(
                    weights="imagenet", input_tensor=None,
                    input_shape=default_input if include_top else None,
                    **dict(arguments, include_top=include_top, pooling=None,
                           classes=ws.classes, classifier_activation=None,
                           name=f"{arguments.get('name', model_name)}_keras"))
                _copy_by_name(reference, target, classifier_may_differ=skip and include_top)

        load_weight_set(model, model_name, ws, include_top=include_top, classes=classes,
                        convert=convert)
    return model


def _check_weight_set(model_name: str, ws, input_shape, kwargs) -> None:
    """One-line errors for arguments a weight set cannot meet."""
    if input_shape is not None and len(input_shape) == 3:
        channels = input_shape[-1] if keras.config.image_data_format() == "channels_last" \
            else input_shape[0]
        if channels != ws.input_size[-1]:
            raise ValueError(f"weights={ws.tag!r} needs {ws.input_size[-1]} input channels; "
                             f"got input_shape={tuple(input_shape)}.")
    clash = sorted(k for k, v in ws.model_kwargs.items() if k in kwargs and kwargs[k] != v)
    if clash:
        raise ValueError(f"weights={ws.tag!r} of {model_name} needs "
                         + ", ".join(f"{k}={ws.model_kwargs[k]!r}" for k in clash)
                         + "; got " + ", ".join(f"{k}={kwargs[k]!r}" for k in clash) + ".")


def _preprocessing_set(model_name: str):
    """The weight set whose preprocessing ``include_preprocessing=True`` adds when no tag is
    given: the model's ``"imagenet"`` set, else its only one."""
    from kerascnn.weights.core import weight_sets

    sets = weight_sets(model_name)
    if "imagenet" in sets:
        return sets["imagenet"]
    if len(sets) == 1:
        return next(iter(sets.values()))
    raise ValueError("include_preprocessing=True adds a weight set's preprocessing: "
                     + (f"name one with weights= ({', '.join(sorted(sets))})." if sets else
                        f"{model_name} has no weight set."))


def _signature(constructor, builder, variant: Variant, options: tuple) -> inspect.Signature:
    """The keras.applications parameters, then the options as keyword-only parameters with
    the variant's defaults (what ``inspect.signature`` and the tuner see)."""
    own = [p for p in inspect.signature(constructor).parameters.values()
           if p.kind != p.VAR_KEYWORD]
    built = inspect.signature(builder).parameters
    extra = [inspect.Parameter(option, inspect.Parameter.KEYWORD_ONLY,
                               default=variant.arguments.get(option, built[option].default))
             for option in options]
    return inspect.Signature(own + extra)


def register_variants(builder, variants, *, family, doc: str, namespace: dict,
                      options: tuple = (), twin_arguments: bool = False,
                      record_arguments: bool = False, recipe: dict | None = None,
                      paper_recipe: str | None = None) -> dict:
    """Builds, documents, registers and exports one constructor per variant.

    Args:
        builder: the family's builder; called with the keras.applications
            arguments, the variant's ``arguments`` and the caller's options (a
            variant's own ``builder`` wins).
        variants: the family's table of :class:`Variant` records.
        family: the registry family (a string, or a callable of the variant).
        doc: the docstring template; ``str.format`` fields: ``constructor``,
            ``name``, ``title``, ``year``, ``summary``, ``arguments``, ``weights``,
            ``input``, ``min_size``, ``classes``.
        namespace: the family module's ``globals()``: each constructor is bound
            there under its public name and added to ``__all__``.
        options: the builder arguments a caller may still pass (anything else is
            a one-line ValueError).
        twin_arguments: pass ``keras_twin`` (the keras constructor) and
            ``weights_file`` (``variant.weights``) to the builder.
        record_arguments: also register each variant's ``arguments`` as the
            registry entry's kwargs (what ``model_info(name)["kwargs"]`` reports);
            they must then all be options.
        recipe: the family's default training recipe (a dict of fit settings with
            a ``description``, see :mod:`kerascnn.training.recipes`), registered for
            every family the variants belong to.
        paper_recipe: the name of the family's paper recipe (``--recipe paper``).

    Returns:
        ``{registry name: constructor}``.
    """
    constructors = {}
    exported = namespace.setdefault("__all__", [])
    for variant in variants:
        own_options = tuple(options if variant.options is None else variant.options)
        if record_arguments and set(variant.arguments) - set(own_options):
            raise ValueError(f"{variant.name}: recorded arguments must be options; "
                             f"{', '.join(sorted(set(variant.arguments) - set(own_options)))} "
                             "are not.")
        constructor = _make_constructor(variant.builder or builder, variant, own_options,
                                        twin_arguments)
        constructor.__module__ = namespace.get("__name__", constructor.__module__)
        constructor.__doc__ = _doc(variant, doc)
        register_model(
            variant.name, constructor,
            family=family(variant) if callable(family) else family, paper=variant.paper,
            default_input_shape=variant.default_input, min_input_size=variant.min_size,
            convention=variant.convention, keras_twin=variant.keras_twin,
            **(variant.arguments if record_arguments else {}),
        )
        namespace[variant.constructor] = constructor
        if variant.constructor not in exported:
            exported.append(variant.constructor)
        constructors[variant.name] = constructor
        if recipe is not None:
            register_family_recipe(family(variant) if callable(family) else family, recipe,
                                   paper_recipe)
    return constructors
