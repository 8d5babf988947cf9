"""Weight transfer between two functional models of the same architecture.

Two implementations of one architecture (kerascnn's and keras.applications',
say) name their layers differently and may create them in another order (the
shortcut convolution of a residual block first or last). ``transfer_weights``
therefore matches layers by their place in the graph, not by name or creation
order: each layer gets a key made of what it is (class and weight shapes, or
"shape-preserving op", or "op with output shape S"), what feeds it and what it
feeds, computed over the whole graph in both directions. Inputs of commutative
merges (Add, Multiply, ...) are unordered; inputs of Concatenate keep their
order.
"""

from __future__ import annotations

import hashlib

__all__ = ["transfer_weights", "structural_keys"]

_COMMUTATIVE = {"Add", "Multiply", "Maximum", "Minimum", "Average"}


def _h(*parts) -> str:
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:20]


def _shape(x):
    return tuple(x.shape[1:]) if x is not None and hasattr(x, "shape") else None


def _graph(model):
    """Returns ops in topological order, parents and children of each op."""
    ops = list(model.operations)
    index = {id(op): i for i, op in enumerate(ops)}
    parents = {i: [] for i in range(len(ops))}
    children = {i: [] for i in range(len(ops))}
    for i, op in enumerate(ops):
        nodes = [n for n in op._inbound_nodes if n.operation is op]
        if not nodes:
            continue
        node = nodes[0]
        for pos, tensor in enumerate(node.input_tensors):
            history = getattr(tensor, "_keras_history", None)
            if history is None:
                continue
            j = index.get(id(history[0]))
            if j is None:
                continue
            parents[i].append(j)
            children[j].append((i, pos))
    # Topological order (Functional keeps one, but do not rely on it).
    order, seen = [], set()

    def visit(i):
        stack = [(i, False)]
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

    for i in range(len(ops)):
        visit(i)
    return ops, order, parents, children


def _describe(op) -> tuple:
    name = type(op).__name__
    weights = getattr(op, "weights", [])
    if weights:
        return (name, tuple(tuple(w.shape) for w in weights))
    nodes = [n for n in getattr(op, "_inbound_nodes", []) if n.operation is op]
    if not nodes:
        return ("input",)
    node = nodes[0]
    ins = [t for t in node.input_tensors]
    outs = list(node.output_tensors)
    if name == "InputLayer":
        return ("input", _shape(outs[0]) if outs else None)
    if len(ins) > 1:
        return (name,)
    if len(ins) == 1 and len(outs) == 1 and _shape(ins[0]) == _shape(outs[0]):
        return ("same-shape",)
    return ("op", tuple(_shape(o) for o in outs))


def structural_keys(model) -> list[tuple[str, object]]:
    """``(key, layer)`` for every layer of ``model`` that holds weights."""
    ops, order, parents, children = _graph(model)
    desc = {i: _describe(op) for i, op in enumerate(ops)}
    commutative = {i: type(op).__name__ in _COMMUTATIVE for i, op in enumerate(ops)}

    fwd = {}
    for i in order:
        keys = [fwd[p] for p in parents[i]]
        if commutative[i]:
            keys = sorted(keys)
        fwd[i] = _h(desc[i], tuple(keys))

    output_ops = {}
    for pos, tensor in enumerate(model.outputs):
        history = getattr(tensor, "_keras_history", None)
        if history is not None:
            output_ops.setdefault(id(history[0]), []).append(pos)
    bwd = {}
    for i in reversed(order):
        items = []
        for child, pos in children[i]:
            items.append((bwd[child], 0 if commutative[child] else pos))
        for pos in output_ops.get(id(ops[i]), []):
            items.append(("output", pos))
        bwd[i] = _h(desc[i], tuple(sorted(items)))

    return [(_h(fwd[i], bwd[i]), ops[i]) for i in order if getattr(ops[i], "weights", [])]


def transfer_weights(src, dst, by: str = "structure") -> int:
    """Copies every weight of ``src`` into the same place of ``dst``.

    Args:
        src: a built functional model.
        dst: a built functional model of the same architecture (names and
            layer creation order may differ).
        by: ``"structure"`` (default) matches layers by their place in the
            graph; ``"order"`` matches the weighted layers in the order the
            models list them.

    Returns:
        The number of layers whose weights were copied.

    Raises:
        ValueError: the two graphs do not correspond (a layer of one model
            has no counterpart in the other, or weight shapes differ).
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
                raise ValueError(
                    f"Cannot transfer weights: layer {layer.name!r} of {dst.name} has no "
                    f"structural counterpart in {src.name}; the architectures differ."
                )
            pairs.append((candidates.pop(0), layer))
        leftover = [layer.name for group in groups.values() for layer in group]
        if leftover:
            raise ValueError(
                f"Cannot transfer weights: {len(leftover)} weighted layers of {src.name} "
                f"have no counterpart in {dst.name} (first: {leftover[0]!r})."
            )
    for s, d in pairs:
        s_shapes = [tuple(w.shape) for w in s.weights]
        d_shapes = [tuple(w.shape) for w in d.weights]
        if s_shapes != d_shapes:
            raise ValueError(
                f"Cannot transfer weights: {s.name!r} has weight shapes {s_shapes}, "
                f"{d.name!r} has {d_shapes}."
            )
    for s, d in pairs:
        for ws, wd in zip(s.weights, d.weights):
            wd.assign(ws.value)
    return len(pairs)
