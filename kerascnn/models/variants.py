"""Variants declared one way: a table of :class:`~kerascnn.registry.Variant` records and
one :func:`register_variants` call per family.

A family's ``model.py`` holds one builder (``ResNet``, ``VGG``, ...) and a table::

    VARIANTS = (
        Variant("resnet50", "ResNet50", dict(blocks_per_stage=(3, 4, 6, 3)), PAPER,
                keras_twin=KerasTwin("ResNet50", "resnet50", ...)),
        ...
    )
    REGISTERED = register_variants(ResNet, VARIANTS, family="resnet", doc=DOC,
                                      options=("shortcut", "se_ratio"), recipe="resnet",
                                      paper_recipe="imagenet_resnet")
    ResNet50 = REGISTERED["resnet50"]

:func:`register_variants` builds each public constructor (the keras.applications
signature plus the family's ``options``), gives it its docstring and registers it under
the variant's name; :func:`build_with_weights` is what every constructor's ``weights=``
means. Open-ended families register a pattern whose factory returns
:func:`pattern_member`'s records.
"""

from __future__ import annotations

import dataclasses
import inspect

import keras

from kerascnn import registry
from kerascnn.preprocessing import add_weight_set_preprocessing
from kerascnn.registry import Variant
from kerascnn.weights.core import weight_sets
from kerascnn.weights.keras_twins import KerasTwin, register_twin
from kerascnn.weights.loading import (
    check_available,
    load_checkpoint,
    load_weight_set,
    resolve_weights,
)
from kerascnn.weights.transfer import copy_weights_by_name

__all__ = ["Variant", "KerasTwin", "register_variants", "register_model", "pattern_member",
           "build_with_weights"]


# The docstring names where to look for a model's weight sets rather than the tags.
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
        constructor=variant.constructor, name=variant.name, title=variant.paper["title"],
        year=variant.paper["year"], summary=variant.summary or arguments, arguments=arguments,
        weights=_WEIGHTS_DOC, input=variant.default_input,
        min_size=variant.min_size, classes=variant.classes,
    )


def _copy_by_name(src, dst, classifier_may_differ: bool = False) -> None:
    """Copies every weighted layer of ``src`` into ``dst``'s layer of the same name (the
    same builder with keras' file loaded). With ``classifier_may_differ`` (another number of
    classes), layers whose shapes differ are left as they are: the classifier (resnet's is
    named fc{classes})."""
    skip = "skip" if classifier_may_differ else "raise"
    copy_weights_by_name(src, dst, missing=skip, mismatched=skip)


def _make_constructor(builder, variant: Variant, options: tuple, twin_arguments: bool):
    fixed = dict(variant.arguments)
    if twin_arguments:
        twin = variant.keras_twin
        has_file = isinstance(twin, KerasTwin) and twin.stem is not None
        fixed["keras_twin"] = getattr(keras.applications, twin.constructor) if has_file else None
        fixed["weights_file"] = twin.stem if has_file else None

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


def register_variants(builder, variants, *, family, doc: str, options: tuple = (),
                      twin_arguments: bool = False, record_arguments: bool = False,
                      recipe: str | None = None, paper_recipe: str | None = None,
                      module: str | None = None) -> dict:
    """Builds, documents and registers one constructor per variant.

    Args:
        builder: the family's builder; called with the keras.applications
            arguments, the variant's ``arguments`` and the caller's options (a
            variant's own ``builder`` wins).
        variants: the family's table of :class:`Variant` records.
        family: the registry family (a string, or a callable of the variant).
        doc: the docstring template; ``str.format`` fields: ``constructor``,
            ``name``, ``title``, ``year``, ``summary``, ``arguments``, ``weights``,
            ``input``, ``min_size``, ``classes``.
        options: the builder arguments a caller may still pass (anything else is
            a one-line ValueError).
        twin_arguments: pass ``keras_twin`` (the keras constructor) and
            ``weights_file`` (the twin's file stem) to the builder.
        record_arguments: also register each variant's ``arguments`` as the
            registry entry's kwargs (what ``model_info(name)["kwargs"]`` reports);
            they must then all be options.
        recipe: the name of the family's default training recipe
            (:data:`kerascnn.recipes.DEFAULT_RECIPES`).
        paper_recipe: the name of the family's paper recipe (``--recipe paper``).
        module: the ``__module__`` the constructors report (the family's ``model.py``).

    Returns:
        ``{registry name: constructor}``: the family module binds each under its public
        name (its static ``__all__`` lists them).

    A variant with a :class:`KerasTwin` also gets its ``"imagenet"`` weight set: keras' file.
    """
    constructors = {}
    for variant in variants:
        own_options = tuple(options if variant.options is None else variant.options)
        if record_arguments and set(variant.arguments) - set(own_options):
            raise ValueError(f"{variant.name}: recorded arguments must be options; "
                             f"{', '.join(sorted(set(variant.arguments) - set(own_options)))} "
                             "are not.")
        constructor = _make_constructor(variant.builder or builder, variant, own_options,
                                        twin_arguments)
        if module:
            constructor.__module__ = module
        constructor.__doc__ = _doc(variant, doc)
        registry.register(dataclasses.replace(
            variant, family=family(variant) if callable(family) else family,
            kwargs=dict(variant.arguments) if record_arguments else {},
            entrypoint=constructor, recipe=recipe, paper_recipe=paper_recipe))
        if isinstance(variant.keras_twin, KerasTwin):
            register_twin(variant.name, variant.keras_twin, variant.default_input)
        constructors[variant.name] = constructor
    return constructors


def _weights_entrypoint(builder, name: str, default_input, classes: int):
    """``builder`` behind :func:`build_with_weights`: what a registered name's ``weights=``
    and ``include_preprocessing=`` mean, for a builder without a variant table. It shows
    the builder's signature (plus ``include_preprocessing``), as a table's constructor does."""

    def entrypoint(**arguments):
        return build_with_weights(builder, name, default_input=default_input,
                                  default_classes=classes, **arguments)

    parameters = list(inspect.signature(builder).parameters.values())
    if "include_preprocessing" not in {p.name for p in parameters}:
        parameters.insert(next((i for i, p in enumerate(parameters) if p.kind == p.VAR_KEYWORD),
                               len(parameters)),
                          inspect.Parameter("include_preprocessing",
                                            inspect.Parameter.KEYWORD_ONLY, default=False))
    entrypoint.__signature__ = inspect.Signature(parameters)
    entrypoint.__name__ = entrypoint.__qualname__ = getattr(builder, "__name__", name)
    entrypoint.__module__ = getattr(builder, "__module__", __name__)
    entrypoint.__doc__ = builder.__doc__
    return entrypoint


def _default_classes(builder) -> int:
    classes = inspect.signature(builder).parameters.get("classes")
    return classes.default if classes is not None else 1000


def register_model(name: str, builder, *, family: str, paper,
                   default_input_shape=(224, 224, 3), min_input_size: int = 32,
                   convention: str = "", **kwargs) -> Variant:
    """Registers a plain keras.applications-style builder under ``name`` (a network
    without a family table: a user's own, a test's). ``kwargs`` are passed on every build;
    ``weights=`` takes what every registered model takes."""
    return registry.register(pattern_member(
        name, builder, family=family, paper=paper, default_input=default_input_shape,
        min_size=min_input_size, convention=convention, **kwargs))


def pattern_member(name: str, builder, *, family: str, paper, default_input=(224, 224, 3),
                   min_size: int = 32, convention: str = "", recipe: str | None = None,
                   paper_recipe: str | None = None, **kwargs) -> Variant:
    """The record of ``name``, a member of an open-ended family built by ``builder`` with
    ``kwargs`` (what a :func:`kerascnn.registry.register_pattern` factory returns)."""
    return Variant(name, "", dict(kwargs), paper, convention, default_input=default_input,
                   min_size=min_size, classes=_default_classes(builder), family=family,
                   kwargs=dict(kwargs), recipe=recipe, paper_recipe=paper_recipe,
                   entrypoint=_weights_entrypoint(builder, name, default_input,
                                                  _default_classes(builder)))
