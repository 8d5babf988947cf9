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
import os
from typing import Callable

import keras

from kerascnn.registry import register_model

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


_WEIGHTS_DOC = {
    True: 'None (random), a weights file path, or ``"imagenet"`` (keras.applications\' '
          "file, read from the Keras cache; never downloaded)",
    False: "None (random) or a weights file path",
}


def _doc(variant: Variant, template: str) -> str:
    arguments = ", ".join(f"{k}={v!r}" for k, v in variant.arguments.items())
    return template.format(
        constructor=variant.constructor, name=variant.name, title=variant.paper[0],
        year=variant.paper[1], summary=variant.summary or arguments, arguments=arguments,
        weights=_WEIGHTS_DOC[variant.weights is not None], input=variant.default_input,
        min_size=variant.min_size, classes=variant.classes,
    )


def _make_constructor(builder, variant: Variant, options: tuple, twin_arguments: bool):
    fixed = dict(variant.arguments)
    if twin_arguments:
        fixed["keras_twin"] = (getattr(keras.applications, variant.keras_twin)
                               if variant.weights else None)
        fixed["weights_file"] = variant.weights

    def constructor(include_top=True, weights=None, input_tensor=None, input_shape=None,
                    pooling=None, classes=variant.classes, classifier_activation="softmax",
                    name=variant.name, **kwargs):
        unknown = sorted(set(kwargs) - set(options))
        if unknown:
            allowed = ", ".join(options) if options else "none"
            raise ValueError(f"{variant.constructor}() got unknown argument(s) "
                             f"{', '.join(unknown)}; its own options are: {allowed}.")
        from kerascnn.weights.loading import is_checkpoint, load_checkpoint

        checkpoint = weights if is_checkpoint(weights) else None
        if checkpoint is not None and not os.path.exists(checkpoint):
            raise ValueError(f"`weights` file {os.fspath(checkpoint)} does not exist.")
        model = builder(include_top=include_top, weights=None if checkpoint else weights,
                        input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
                        classes=classes, classifier_activation=classifier_activation, name=name,
                        **dict(fixed, **kwargs))
        if checkpoint is not None:
            load_checkpoint(model, variant.name, checkpoint,
                            skip_classifier=not include_top or classes != variant.classes)
        return model

    constructor.__name__ = constructor.__qualname__ = variant.constructor
    constructor.__signature__ = _signature(constructor, builder, variant, options)
    return constructor


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
                      record_arguments: bool = False) -> dict:
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
    return constructors
