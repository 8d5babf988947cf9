"""Weight transfer between two models: by place in the graph, or by layer name.

:func:`copy_weights_by_name` copies each weighted layer into the layer of the same name
(the same network built twice, a classifier for another number of classes left out,
a Dense kernel reshaped into a convolution's).

:func:`transfer_weights` copies between two functional models of the same architecture.
Two implementations of one architecture (kerascnn's and keras.applications',
say) name their layers differently and may create them in another order (the
shortcut convolution of a residual block first or last). ``transfer_weights``
therefore matches layers by their place in the graph, not by name or creation
order: each layer gets a key made of what it is, what feeds it and what it
feeds, computed over the whole graph in both directions. What a layer is: its
type and the settings that define what it computes (strides, padding, pool
size, activation, epsilon, axis, ...; not its name, initializers, dropout rate
or BN momentum), its weights' roles and shapes, and its output shapes. So two
graphs that differ only in a weightless op (max vs average pooling, relu vs
sigmoid, a stride) are refused, naming the op. Inputs of commutative merges
(Add, Multiply, ...) are unordered; inputs of Concatenate keep their order.

Inside a layer, weights are matched by role (``kernel``, ``bias``, ``gamma``,
``beta``, ``moving_mean``, ``moving_variance``: the variable's path within its
layer), never by position: a BatchNormalization that creates its variables in
another order still receives gamma as gamma.
"""

from __future__ import annotations

import hashlib

import numpy as np

from kerascnn.graph import layer_calls, leaf_layers, producer, topology

__all__ = ["transfer_weights", "structural_keys", "weight_roles", "copy_weights_by_name",
           "WeightCopyError"]

_COMMUTATIVE = {"Add", "Multiply", "Maximum", "Minimum", "Average"}
# Settings that do not change what a trained layer computes at inference.
_IGNORED = {"name", "trainable", "dtype", "seed", "rate", "noise_shape", "momentum",
            "renorm_momentum", "synchronized", "autocast", "lora_rank", "lora_alpha",
            "quantization_config"}
_IGNORED_SUFFIXES = ("_initializer", "_regularizer", "_constraint")


def _h(*parts) -> str:
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:20]


def _shape(x):
    return tuple(x.shape[1:]) if x is not None and hasattr(x, "shape") else None


def weight_roles(layer) -> list[tuple[str, object]]:
    """``[(role, variable)]`` of ``layer``'s weights: the role is the variable's path
    inside the layer (``kernel``, ``gamma``, ``moving_mean``, or ``inner/kernel`` for a
    nested layer's); a role that repeats gets ``#1``, ``#2``, ... in creation order."""
    prefix = (getattr(layer, "path", None) or layer.name) + "/"
    roles, seen = [], {}
    for w in layer.weights:
        path = getattr(w, "path", None) or w.name
        role = path[len(prefix):] if path.startswith(prefix) else path.rsplit("/", 1)[-1]
        role = role.split(":")[0]
        n = seen.get(role, 0)
        seen[role] = n + 1
        roles.append((role if n == 0 else f"{role}#{n}", w))
    return roles


def _canonical(value):
    if isinstance(value, (list, tuple)):
        return tuple(_canonical(v) for v in value)
    if isinstance(value, dict):
        if "class_name" in value:  # a serialized object (an activation function, say)
            return (value.get("class_name"), _canonical(value.get("config")))
        return tuple(sorted((k, _canonical(v)) for k, v in value.items()))
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _settings(op, in_shape) -> tuple:
    """(kind, settings) of an op: its class and the config that defines what it computes,
    one spelling for ops that compute the same (a 1x1 max pooling with stride 2 and
    option A's zero-pad shortcut that adds no channels both subsample)."""
    kind = type(op).__name__
    rank = len(in_shape) if in_shape is not None else None
    try:
        config = op.get_config()
    except (NotImplementedError, TypeError, AttributeError):
        config = {}
    items = {k: _canonical(v) for k, v in config.items()
             if k not in _IGNORED and not k.endswith(_IGNORED_SUFFIXES)}
    axis = items.get("axis")
    if isinstance(axis, int) and axis < 0 and rank:
        items["axis"] = axis + rank
    # "same" and "valid" padding agree for 1x1 windows
    window = items.get("kernel_size", items.get("pool_size"))
    if isinstance(window, tuple) and set(window) == {1} and "padding" in items:
        items["padding"] = "valid"
    if kind in ("MaxPooling2D", "AveragePooling2D") and window == (1, 1):
        return "Subsample", (("strides", _pair(items.get("strides") or 1)),)
    if kind == "ZeroPadShortcut" and in_shape is not None and \
            in_shape[-1 if items.get("data_format") != "channels_first" else 1] == \
            items.get("filters"):
        return "Subsample", (("strides", _pair(items.get("strides", 1))),)
    # One activation, however it is spelled: Activation("relu") = ReLU() = Softmax() ...
    if kind == "ReLU" and items.get("negative_slope", 0) == 0 and \
            items.get("threshold", 0) == 0 and items.get("max_value") in (None, 6):
        return "Activation", (("activation", "relu" if items.get("max_value") is None
                               else "relu6"),)
    if kind == "Softmax" and items.get("axis") in (-1, rank - 1 if rank else None):
        return "Activation", (("activation", "softmax"),)
    if items.get("activation") in (None, "linear") and "activation" in items:
        items["activation"] = "linear"
    return kind, tuple(sorted(items.items()))


def _pair(value) -> tuple:
    return tuple(value) if isinstance(value, tuple) else (value, value)


def _describe(op) -> tuple:
    own = layer_calls(op)
    if not own:
        return ("input",)
    ins, outs = own[0].inputs, own[0].outputs
    if type(op).__name__ == "InputLayer":
        return ("input", _shape(outs[0]) if outs else None)
    kind, settings = _settings(op, tuple(ins[0].shape) if ins and hasattr(ins[0], "shape")
                               else None)
    weights = tuple(sorted((role, tuple(w.shape)) for role, w in weight_roles(op)))
    return (kind, settings, weights, tuple(_shape(o) for o in outs))


def _label(op, desc) -> str:
    """``MaxPooling2D(pool_size=(2, 2), strides=(2, 2), padding='valid')`` for messages."""
    if desc[0] == "input":
        return f"an input of shape {desc[1] if len(desc) > 1 else None}"
    kind, settings = desc[0], desc[1]
    shown = ", ".join(f"{k}={v!r}" for k, v in settings if k != "data_format")
    return f"{kind}({shown})"


def _forward(ops, order, parents, desc, commutative):
    fwd = {}
    for i in order:
        keys = [fwd[p] for p in parents[i]]
        if commutative[i]:
            keys = sorted(keys)
        fwd[i] = _h(desc[i], tuple(keys))
    return fwd


def _analyse(model):
    ops, order, parents, children = topology(model)
    desc = {i: _describe(op) for i, op in enumerate(ops)}
    commutative = {i: type(op).__name__ in _COMMUTATIVE for i, op in enumerate(ops)}
    fwd = _forward(ops, order, parents, desc, commutative)
    return ops, order, parents, children, desc, commutative, fwd


def structural_keys(model) -> list[tuple[str, object]]:
    """``(key, layer)`` for every layer of ``model`` that holds weights."""
    ops, order, parents, children, desc, commutative, fwd = _analyse(model)

    output_ops = {}
    for pos, tensor in enumerate(model.outputs):
        op = producer(tensor)
        if op is not None:
            output_ops.setdefault(id(op), []).append(pos)
    bwd = {}
    for i in reversed(order):
        items = []
        for child, pos in children[i]:
            items.append((bwd[child], 0 if commutative[child] else pos))
        for pos in output_ops.get(id(ops[i]), []):
            items.append(("output", pos))
        bwd[i] = _h(desc[i], tuple(sorted(items)))

    return [(_h(fwd[i], bwd[i]), ops[i]) for i in order if getattr(ops[i], "weights", [])]


def _first_difference(src, dst) -> str | None:
    """One line naming the first op (in ``dst``'s order) that its counterpart in ``src``
    computes differently, or None when every op's inputs and kind have a match."""
    s_ops, s_order, s_parents, _, s_desc, s_comm, s_fwd = _analyse(src)
    d_ops, d_order, d_parents, _, d_desc, d_comm, d_fwd = _analyse(dst)
    known, d_known = set(s_fwd.values()), set(d_fwd.values())

    def inputs(fwd, parents, comm, i):
        keys = [fwd[p] for p in parents[i]]
        return tuple(sorted(keys)) if comm[i] else tuple(keys)

    for i in d_order:
        if d_fwd[i] in known:
            continue
        feeds = inputs(d_fwd, d_parents, d_comm, i)
        twins = [j for j in s_order if inputs(s_fwd, s_parents, s_comm, j) == feeds
                 and (feeds or s_desc[j][0] == d_desc[i][0])]
        # the counterpart is one of src's ops that dst lacks (a branch point feeds several)
        twins = [j for j in twins if s_fwd[j] not in d_known] or twins
        op = d_ops[i]
        if twins:
            other = s_ops[twins[0]]
            return (f"Cannot transfer weights: {dst.name}'s layer {op.name!r} is "
                    f"{_label(op, d_desc[i])} where {src.name}'s {other.name!r} is "
                    f"{_label(other, s_desc[twins[0]])}; the architectures differ.")
        return (f"Cannot transfer weights: layer {op.name!r} of {dst.name} "
                f"({_label(op, d_desc[i])}) has no counterpart in {src.name}; the "
                "architectures differ.")
    return None


def _pairs_by_role(s, d) -> list:
    s_roles, d_roles = dict(weight_roles(s)), dict(weight_roles(d))
    if set(s_roles) != set(d_roles):
        raise ValueError(
            f"Cannot transfer weights: {s.name!r} has weights {sorted(s_roles)}, "
            f"{d.name!r} has {sorted(d_roles)}.")
    for role, ws in s_roles.items():
        wd = d_roles[role]
        if tuple(ws.shape) != tuple(wd.shape):
            raise ValueError(
                f"Cannot transfer weights: {s.name!r} has {role} of shape {tuple(ws.shape)}, "
                f"{d.name!r} of shape {tuple(wd.shape)}.")
    return [(s_roles[role], d_roles[role]) for role in s_roles]


def transfer_weights(src, dst, by: str = "structure") -> int:
    """Copies every weight of ``src`` into the same place of ``dst``.

    Args:
        src: a built functional model.
        dst: a built functional model of the same architecture (names and
            layer creation order may differ).
        by: ``"structure"`` (default) matches layers by their place in the
            graph; ``"order"`` matches the weighted layers in the order the
            models list them. Either way the weights inside a layer are matched
            by role (kernel to kernel, gamma to gamma), not by position.

    Returns:
        The number of layers whose weights were copied.

    Raises:
        ValueError: the two graphs do not correspond (a layer of one model has
            no counterpart in the other, a weightless op differs in kind or
            settings, or weight roles or shapes differ); one line.
    """
    if by not in ("structure", "order"):
        raise ValueError(f"`by` must be 'structure' or 'order'; got {by!r}.")
    if by == "order":
        src_layers = [op for op in src.operations if op.weights]
        dst_layers = [op for op in dst.operations if op.weights]
        if len(src_layers) != len(dst_layers):
            raise ValueError(
                f"Cannot transfer weights: {src.name} has {len(src_layers)} layers with "
                f"weights, {dst.name} has {len(dst_layers)}."
            )
        pairs = list(zip(src_layers, dst_layers))
    else:
        groups: dict[str, list] = {}
        for key, layer in structural_keys(src):
            groups.setdefault(key, []).append(layer)
        pairs = []
        for key, layer in structural_keys(dst):
            candidates = groups.get(key)
            if not candidates:
                raise ValueError(_first_difference(src, dst) or (
                    f"Cannot transfer weights: layer {layer.name!r} of {dst.name} has no "
                    f"structural counterpart in {src.name}; the architectures differ."))
            pairs.append((candidates.pop(0), layer))
        leftover = [layer.name for group in groups.values() for layer in group]
        if leftover:
            raise ValueError(_first_difference(dst, src) or (
                f"Cannot transfer weights: {len(leftover)} weighted layers of {src.name} "
                f"have no counterpart in {dst.name} (first: {leftover[0]!r})."))
    assignments = [p for s, d in pairs for p in _pairs_by_role(s, d)]
    for ws, wd in assignments:
        wd.assign(ws.value)
    return len(pairs)


class WeightCopyError(ValueError):
    """A copy by name that cannot be made; ``layer`` names the layer at fault (None when
    the two models' layer names differ as a whole)."""

    def __init__(self, message: str, layer: str | None = None):
        super().__init__(message)
        self.layer = layer


def _fits(s, d, reshape: bool) -> bool:
    if tuple(s.shape) == tuple(d.shape):
        return True
    return reshape and int(np.prod(s.shape)) == int(np.prod(d.shape))


def copy_weights_by_name(src, dst, *, missing: str = "raise", mismatched: str = "raise",
                         same_layers: bool = False, nested: bool = False, where=None,
                         reshape: bool = False) -> list[str]:
    """Copies each weighted layer of ``src`` into the layer of ``dst`` of the same name.

    Inside a layer the weights are matched by role (:func:`weight_roles`: kernel to
    kernel, gamma to gamma), never by position. Nothing is assigned unless every layer
    to copy fits.

    Args:
        src, dst: built models (or layers with sublayers).
        missing: ``"raise"`` or ``"skip"``: what a weighted layer of ``src`` that ``dst``
            lacks does.
        mismatched: ``"raise"`` or ``"skip"``: what a layer whose weight roles or shapes
            differ from its namesake's does (skipped, ``dst``'s layer keeps its weights:
            a classifier for another number of classes).
        same_layers: the two models must have the same weighted layer names.
        nested: the layers are the leaves of the layer tree (:func:`kerascnn.graph.
            leaf_layers`: the layers inside custom layers and nested models), not
            ``model.layers``.
        where: None, or ``layer -> bool``: only the layers (of either model) it accepts.
        reshape: a weight of ``dst``'s size but another shape is reshaped to ``dst``'s
            (a Dense kernel into a convolution's).

    Returns:
        The names of the layers copied, in ``src``'s order.

    Raises:
        WeightCopyError (a ValueError): a missing or mismatched layer not skipped, or
            ``same_layers`` and the names differ; one line.
    """
    for option, value in (("missing", missing), ("mismatched", mismatched)):
        if value not in ("raise", "skip"):
            raise ValueError(f"`{option}` must be 'raise' or 'skip'; got {option}={value!r}.")

    def weighted(model):
        found = leaf_layers(model) if nested else list(model.layers)
        return {layer.name: layer for layer in found
                if layer.weights and (where is None or where(layer))}

    theirs, mine = weighted(src), weighted(dst)
    if same_layers and set(theirs) != set(mine):
        differ = sorted(set(theirs) ^ set(mine))
        raise WeightCopyError(
            f"Cannot copy weights by name: {len(differ)} layers are not in both models "
            f"(first: {differ[0]!r}).")
    copied, assignments = [], []
    for name, layer in theirs.items():
        target = mine.get(name)
        if target is None:
            if missing == "skip":
                continue
            raise WeightCopyError(f"Cannot copy weights by name: {dst.name} has no layer "
                                  f"{name!r}.", name)
        s_roles, d_roles = dict(weight_roles(layer)), dict(weight_roles(target))
        if set(s_roles) != set(d_roles) or \
                not all(_fits(s_roles[r], d_roles[r], reshape) for r in s_roles):
            if mismatched == "skip":
                continue
            raise WeightCopyError(
                f"Cannot copy weights by name: {src.name}'s layer {name!r} has weights "
                f"{_role_shapes(s_roles)}, {dst.name}'s {_role_shapes(d_roles)}.", name)
        copied.append(name)
        assignments += [(s_roles[r], d_roles[r]) for r in s_roles]
    for s, d in assignments:
        value = s.value
        d.assign(np.reshape(value, tuple(d.shape)) if tuple(s.shape) != tuple(d.shape)
                 else value)
    return copied


def _role_shapes(roles: dict) -> dict:
    return {role: tuple(var.shape) for role, var in roles.items()}
