"""The layer graph of a functional model: the one module that reads keras' private graph.

Keras 3 records a functional model's graph in private attributes: each layer's calls
(``layer._inbound_nodes``, ``layer._outbound_nodes``), the layer that produced a symbolic
tensor (``tensor._keras_history``), a Functional model's calls by depth and their keys
(``model._nodes_by_depth``, ``model._nodes``), a Sequential model's inner Functional
(``model._functional``) and, for :func:`leaf_layers`, a layer's own sublayers
(``layer._flatten_layers``, ``layer._layers``). Every other module of kerascnn goes
through the functions below, so a change in keras' internals is mended here alone.

The attributes were checked against keras 3.15.1 (:data:`KERAS_CHECKED`: 3.15). An attribute
that every layer or graph model has, once missing, raises :class:`KerasInternalsError`
naming it and the installed keras; :func:`check_keras_internals` probes them all on a
small model.

A *call* is one application of a layer to tensors (keras' ``Node``):
:class:`Call` ``(layer, inputs, outputs)``.
"""

from __future__ import annotations

from typing import NamedTuple

import keras

__all__ = ["KERAS_CHECKED", "KerasInternalsError", "Call", "check_keras_internals",
           "producer", "layer_calls", "inbound_layers", "outbound_layers", "is_graph_model",
           "graph_model", "calls", "model_call", "edges", "topology", "leaf_layers"]

KERAS_CHECKED = "3.15"


class KerasInternalsError(RuntimeError):
    """keras no longer has a private graph attribute this module reads."""


class Call(NamedTuple):
    """One call of ``layer``: its input and output tensors, in argument order."""

    layer: object
    inputs: list
    outputs: list


def _attr(obj, name: str):
    try:
        return getattr(obj, name)
    except AttributeError:
        raise KerasInternalsError(
            f"keras {keras.__version__} has no {name!r} on {type(obj).__name__}; "
            f"kerascnn.graph reads keras' private graph attributes as of keras "
            f"{KERAS_CHECKED}.x and needs updating for this version.") from None


def _call(node) -> Call:
    return Call(node.operation, list(node.input_tensors), list(node.outputs))


def _functional_class():
    from keras.src.models.functional import Functional

    return Functional


def producer(tensor):
    """The layer whose call produced the symbolic ``tensor``, or None (a tensor no layer
    made: a ``keras.KerasTensor`` built by hand, a constant)."""
    history = getattr(tensor, "_keras_history", None)
    return history[0] if history else None


def layer_calls(layer, model=None) -> list[Call]:
    """The calls of ``layer`` in creation order; with ``model``, only those that belong to
    ``model``'s graph (a layer shared by two models, a nested model's own graph)."""
    nodes = [(i, node) for i, node in enumerate(_attr(layer, "_inbound_nodes"))
             if node.operation is layer]
    if model is not None and isinstance(model, _functional_class()):
        from keras.src.ops.function import make_node_key

        keys = _attr(model, "_nodes")
        nodes = [(i, node) for i, node in nodes if make_node_key(layer, i) in keys]
    return [_call(node) for _, node in nodes]


def inbound_layers(layer, model=None) -> list:
    """The layers feeding ``layer``: the producer of each input of each of its calls
    (in ``model``, if given), in call and argument order; an input no layer made is
    left out, a layer feeding two inputs appears twice."""
    found = []
    for call in layer_calls(layer, model):
        found += [op for op in map(producer, call.inputs) if op is not None]
    return found


def outbound_layers(layer) -> list:
    """The layers ``layer``'s outputs feed, one entry per consuming call, in call order."""
    return [node.operation for node in _attr(layer, "_outbound_nodes")]


def is_graph_model(obj) -> bool:
    """Whether ``obj`` is a Functional or Sequential model (a model with a layer graph)."""
    return isinstance(obj, (keras.Sequential, _functional_class()))


def graph_model(model, user: str = "kerascnn"):
    """The Functional model holding ``model``'s graph: ``model`` itself, or a built
    Sequential's inner one.

    Raises:
        ValueError: an unbuilt Sequential, or a model without a layer graph (subclassed);
            the message starts with ``user`` (``"count_macs needs a built model; ..."``).
    """
    if isinstance(model, keras.Sequential):
        functional = _attr(model, "_functional")
        if functional is None:
            raise ValueError(
                f"{user} needs a built model; Sequential model {model.name!r} has no input "
                "shape yet (add a keras.Input or call build())."
            )
        model = functional
    if not isinstance(model, _functional_class()):
        raise ValueError(
            f"{user} needs a Functional or Sequential model; {model.name!r} is a "
            f"{type(model).__name__} without a layer graph."
        )
    return model


def calls(model, include_inputs: bool = False, user: str = "kerascnn") -> list[Call]:
    """Every call of ``model``'s graph in topological order (deepest first: inputs to
    outputs; keras' order within a depth). A nested model is one call; the InputLayer
    calls are left out unless ``include_inputs``. ``user`` as in :func:`graph_model`."""
    by_depth = _attr(graph_model(model, user), "_nodes_by_depth")
    found = []
    for depth in sorted(by_depth, reverse=True):
        for node in by_depth[depth]:
            if include_inputs or not isinstance(node.operation, keras.layers.InputLayer):
                found.append(_call(node))
    return found


def model_call(model, layer):
    """The call of ``layer`` in ``model``'s own graph, or None (no such call, or no graph).

    A layer of a nested model has its own ``layer.output``, the tensor inside the nested
    graph; this is the call its parent made."""
    if not is_graph_model(model) or (isinstance(model, keras.Sequential)
                                     and _attr(model, "_functional") is None):
        return None
    for call in calls(model, include_inputs=True):
        if call.layer is layer:
            return call
    return None


def edges(model) -> list[tuple]:
    """``(source layer, destination layer)`` of every tensor passed between two layers of
    ``model``'s graph, in ``model.layers`` order (one pair per input tensor)."""
    pairs = []
    for layer in model.layers:
        for call in layer_calls(layer, model):
            pairs += [(op, layer) for op in map(producer, call.inputs) if op is not None]
    return pairs


def topology(model):
    """``(ops, order, parents, children)`` of ``model``'s graph, over its first calls.

    ``ops`` is ``model.operations``; ``order`` a topological order of their indices;
    ``parents[i]`` the indices of the ops feeding op ``i`` (argument order);
    ``children[j]`` the ``(i, argument position)`` pairs op ``j`` feeds.
    """
    ops = list(model.operations)
    index = {id(op): i for i, op in enumerate(ops)}
    parents = {i: [] for i in range(len(ops))}
    children = {i: [] for i in range(len(ops))}
    for i, op in enumerate(ops):
        own = layer_calls(op)
        if not own:
            continue
        for pos, tensor in enumerate(own[0].inputs):
            j = index.get(id(producer(tensor)))
            if j is None:
                continue
            parents[i].append(j)
            children[j].append((i, pos))
    # Topological order (Functional keeps one, but do not rely on it).
    order, seen = [], set()
    for start in range(len(ops)):
        stack = [(start, False)]
        while stack:
            k, done = stack.pop()
            if done:
                if k not in seen:
                    seen.add(k)
                    order.append(k)
                continue
            if k in seen:
                continue
            stack.append((k, True))
            for p in reversed(parents[k]):
                if p not in seen:
                    stack.append((p, False))
    return ops, order, parents, children


def leaf_layers(model) -> list:
    """The layers under ``model`` (recursively: inside nested models and custom layers)
    that hold weights none of their own sublayers holds, in keras' flattening order."""
    found = []
    for layer in _attr(model, "_flatten_layers")(include_self=False, recursive=True):
        if layer.weights and not any(sub.weights for sub in _attr(layer, "_layers")):
            found.append(layer)
    return found


def check_keras_internals() -> None:
    """Builds a two-layer Functional and a Sequential model and reads every private
    attribute this module relies on; raises :class:`KerasInternalsError` naming the
    first one keras lacks (names given explicitly: keras' automatic names are untouched)."""
    inputs = keras.Input((2,), name="kerascnn_graph_probe_input")
    dense = keras.layers.Dense(2, name="kerascnn_graph_probe_dense")
    outputs = dense(inputs)
    model = keras.Model(inputs, outputs, name="kerascnn_graph_probe")
    sequential = keras.Sequential([keras.Input((2,), name="kerascnn_graph_probe_seq_input"),
                                   keras.layers.Dense(2, name="kerascnn_graph_probe_seq_dense")],
                                  name="kerascnn_graph_probe_sequential")
    _attr(outputs, "_keras_history")
    for name in ("_inbound_nodes", "_outbound_nodes"):
        _attr(dense, name)
    for name in ("_nodes_by_depth", "_nodes"):
        _attr(model, name)
    _attr(sequential, "_functional")
    _attr(dense, "_layers")
    if producer(outputs) is not dense or inbound_layers(dense) != [model.layers[0]] or \
            outbound_layers(model.layers[0]) != [dense] or len(calls(model)) != 1 or \
            graph_model(sequential) is None or leaf_layers(model) != [dense]:
        raise KerasInternalsError(
            f"keras {keras.__version__}'s layer graph no longer reads as kerascnn.graph "
            f"expects (checked against keras {KERAS_CHECKED}.x).")
