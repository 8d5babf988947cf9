"""Architecture diagrams and the gallery table, for every registered model.

* :func:`plot_architecture` draws a model with ``keras.utils.plot_model`` (shapes, layer
  names, nested models expanded) to PNG or SVG; SVG output is minified (same drawing, about
  a third of graphviz's bytes) so diagrams can live in the repository.
* :func:`block_groups` collapses a model's layer graph into blocks (each residual,
  inception, dense, fire, VGG, NIN or SE block one node, found from the layer names) and
  :func:`plot_blocks` draws that graph: one box per block with its layers, output shape
  and parameters, readable for networks of any depth.
* :func:`gallery_row` measures one registry entry (parameters against the reference table,
  MACs at the default input size) and :func:`gallery_markdown` / :func:`models_table_markdown`
  turn rows into ``docs/architectures.md`` and the site's model table.

Every table states that it shows multiply-accumulates (MACs); FLOPs = 2 x MACs.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import tempfile

from kerascnn.utils.io import atomic_write

__all__ = [
    "GraphvizNotFoundError",
    "GRAPHVIZ_INSTALL",
    "check_graphviz",
    "plot_architecture",
    "block_groups",
    "plot_blocks",
    "blocks_dot",
    "minify_svg",
    "gallery_row",
    "gallery_markdown",
    "models_table_markdown",
    "replace_between_markers",
    "MACS_NOTE",
    "write_text",
    "natural_key",
]

GRAPHVIZ_INSTALL = "apt-get install -y graphviz"
MACS_NOTE = ("GMACs: multiply-accumulates of one forward pass of one image at the default "
             "input size, in billions (FLOPs as the papers use the word; arithmetic FLOPs = "
             "2 x MACs).")


class GraphvizNotFoundError(RuntimeError):
    """graphviz's ``dot`` program is not installed (one-line message)."""


def check_graphviz() -> str:
    """Returns the path of graphviz's ``dot``; raises GraphvizNotFoundError when absent."""
    dot = shutil.which("dot")
    if dot is None:
        raise GraphvizNotFoundError(
            "graphviz is not installed (no `dot` on PATH); install it with: "
            f"{GRAPHVIZ_INSTALL} (macOS: brew install graphviz; conda: conda install graphviz)"
        )
    return dot


def _rect(match: re.Match) -> str:
    attrs, points = match.group(1), match.group(2)
    nums = [float(v) for v in re.split(r"[ ,]+", points.strip())]
    xs, ys = nums[0::2], nums[1::2]
    if len(xs) != 5 or len(set(xs)) != 2 or len(set(ys)) != 2:
        return match.group(0)
    x0, y0 = min(xs), min(ys)
    return (f'<rect{attrs} x="{x0:g}" y="{y0:g}" width="{max(xs) - x0:g}" '
            f'height="{max(ys) - y0:g}"/>')


_GEOMETRY = r'( x="[^"]*" y="[^"]*" width="[^"]*" height="[^"]*")'
_STYLE = ("<style>text{font-family:Helvetica,sans-serif;font-size:14px}.b{font-weight:bold}"
          ".h,.hb{font-size:16px;fill:#fff}.hb{font-weight:bold}.k,.p,.a{fill:#000}"
          ".k,.w,.e,.a,.l,.p{stroke:#000}.w{fill:#fff}.e,.l{fill:none}.e,.a{stroke-width:2}"
          "</style>")
# The stroke and fill of graphviz's boxes, edges and arrowheads, as classes of _STYLE.
_CLASSES = (
    ('<rect fill="black" stroke="black"', '<rect class="k"'),
    ('<rect fill="white" stroke="black"', '<rect class="w"'),
    ('<path fill="none" stroke="black" stroke-width="2"', '<path class="e"'),
    ('<polygon fill="black" stroke="black" stroke-width="2"', '<polygon class="a"'),
    ('<path fill="none" stroke="black"', '<path class="l"'),
    ('<polygon fill="black" stroke="black"', '<polygon class="p"'),
)


def minify_svg(text: str) -> str:
    """Shrinks a graphviz SVG without changing the drawing.

    Drops comments, the DOCTYPE, titles, ids and the attribute-less ``<g>`` wrapper of every
    node and edge, rounds coordinates to whole points, writes rectangles as ``<rect>``
    (merging graphviz's separate fill and stroke polygons), moves the repeated font, fill and
    stroke attributes into one stylesheet and collapses the whitespace between elements.
    """
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = re.sub(r"<!DOCTYPE[^>]*>", "", text)
    text = re.sub(r"<title>.*?</title>", "", text, flags=re.S)
    text = re.sub(r' (id|class)="[^"]*"', "", text)
    text = re.sub(r' (x|y|cx|cy|rx|ry|width|height|points|d|viewBox|transform|font-size)="([^"]*)"',
                  lambda m: f' {m.group(1)}="' + re.sub(r"(-?\d+)\.\d+", r"\1", m.group(2))
                  + '"', text)
    text = text.replace(' stroke="transparent"', ' stroke="none"')
    text = re.sub(r'<polygon([^>]*?) points="([^"]*)"\s*/>', _rect, text)
    text = re.sub(r'<rect fill="([^"]+)" stroke="none"' + _GEOMETRY +
                  r'/>\s*<rect fill="none" stroke="black"\2/>',
                  r'<rect fill="\1" stroke="black"\2/>', text)
    text = re.sub(r'<rect fill="none" stroke="black"' + _GEOMETRY +
                  r'/>\s*<rect fill="([^"]+)" stroke="none"\1/>',
                  r'<rect fill="\2" stroke="black"\1/>', text)
    text = text.replace(' font-family="Helvetica,sans-Serif"', "")
    text = text.replace(' text-anchor="start"', "")
    text = text.replace(' font-weight="bold" font-size="16.00" fill="white"', ' class="hb"')
    text = text.replace(' font-weight="bold" font-size="16" fill="white"', ' class="hb"')
    text = re.sub(r' font-size="16(\.00)?" fill="white"', ' class="h"', text)
    text = re.sub(r' font-weight="bold" font-size="14(\.00)?"', ' class="b"', text)
    text = re.sub(r' font-size="14(\.00)?"', "", text)
    for attributes, css_class in _CLASSES:
        text = text.replace(attributes + " ", css_class + " ")
    text = _drop_bare_groups(re.sub(r">\s+<", "><", text))
    text = re.sub(r"\s+", " ", text)  # the newlines inside graphviz's <svg ...> tag
    return re.sub(r"(<svg\b[^>]*>)", lambda m: m.group(1) + _STYLE, text, count=1)


def _drop_bare_groups(text: str) -> str:
    """Removes ``<g>`` elements without attributes, keeping their content."""
    out, keep, pos = [], [], 0
    for m in re.finditer(r"<g\b[^>]*>|</g>", text):
        out.append(text[pos:m.start()])
        pos = m.end()
        if m.group(0) == "</g>":
            if keep.pop():
                out.append("</g>")
        else:
            keep.append(m.group(0) != "<g>")
            if keep[-1]:
                out.append(m.group(0))
    out.append(text[pos:])
    return "".join(out)


def plot_architecture(model, path, fmt: str | None = None, dpi: int = 96) -> str:
    """Draws ``model`` to ``path`` with ``keras.utils.plot_model``.

    Shapes and layer names are shown and nested models expanded. graphviz's orthogonal
    edges are tried first; on graphs where graphviz's ``ortho`` router aborts (deep
    networks), the drawing is redone with polyline edges. The file is written atomically.

    Args:
        model: a built ``keras.Model``.
        path: the output file.
        fmt: ``"svg"`` or ``"png"``; by default the extension of ``path``.
        dpi: resolution of PNG output.

    Returns:
        ``path``.

    Raises:
        GraphvizNotFoundError: graphviz is not installed.
        ValueError: an unsupported format.
    """
    import keras

    check_graphviz()
    path = os.fspath(path)
    fmt = (fmt or os.path.splitext(path)[1].lstrip(".") or "svg").lower()
    if fmt not in ("svg", "png"):
        raise ValueError(f"Diagram format must be 'svg' or 'png'; got {fmt!r}.")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, f"diagram.{fmt}")
        last_error = None
        for splines in ("ortho", "polyline"):
            try:
                # pydot prints graphviz's stderr when graphviz aborts: keep it quiet.
                with contextlib.redirect_stdout(io.StringIO()):
                        keras.utils.plot_model(model, to_file=out, show_shapes=True,
                                           show_layer_names=True, expand_nested=True,
                                           dpi=dpi if fmt == "png" else None,
                                           splines=splines)
                last_error = None
                break
            except Exception as e:
                # plot_model's return value (an IPython Image) cannot hold an SVG: the file
                # is written all the same. graphviz aborting writes no file.
                if os.path.exists(out):
                    last_error = None
                    break
                last_error = e
        if last_error is not None:
            raise RuntimeError(f"graphviz could not draw {model.name!r}: {last_error}")
        if fmt == "svg":
            with open(out, encoding="utf-8") as f:
                write_text(path, minify_svg(f.read()))
        else:
            shutil.copyfile(out, path + ".part")
            os.chmod(path + ".part", 0o644)
            os.replace(path + ".part", path)
    return path


# Block view -------------------------------------------------------------------------------
#
# A block is found from the layer names that kerascnn's builders give (the Caffe/Keras
# conventions of each paper's reference implementation). Each rule is (families it applies to
# or None for all, regex matched at the start of the layer name, group key template, kind).
_BLOCK_RULES = (
    # DenseNet: the whole dense block (conv2_block1 ... conv2_block6) is one node, and each
    # transition (pool2_bn, pool2_relu, pool2_conv, pool2_pool) another.
    (("densenet",), r"(conv\d+)_block\d+_", r"\1", "dense block"),
    (("densenet",), r"(pool\d+)_(?:bn|scale|relu|conv|drop|pool)$", r"\1", "transition"),
    # Caffe ResNet / SE-ResNet / ResNeXt: res2a_branch2a, bn2a_branch2a, res2a, res4b22_relu.
    (None, r"(?:res|bn|scale)(\d+[a-z]+\d*)(?:_|$)", r"res\1", None),
    # Keras ResNet v2 and DenseNet-style units, CIFAR ResNets, ShuffleNet units.
    (None, r"((?:conv|stage)\d+_(?:block|unit)\d+)(?:_|$)", r"\1", None),
    # Inception-ResNet: block35_1, block17_20, block8_10.
    (None, r"(block\d+_\d+)(?:_|$)", r"\1", None),
    # MobileNet: conv_dw_N, conv_pw_N and the padding before a strided depthwise conv.
    (None, r"conv_(?:dw|pw|pad)_(\d+)(?:_|$)", r"conv_dw_pw_\1", None),
    # Inception modules, reductions and stems, fire modules, VGG / Xception blocks, NIN stages.
    (None, r"(inception_(?:\d+[a-z]|[a-z]\d+)|mixed_?\d+[a-z]?|reduction_[a-z]|fire\d+|stem"
           r"|conv_\d+[a-z]|nin\d+|stage\d+|block\d+)(?:_|$)", r"\1", None),
)
_LEADING = re.compile(r"[A-Za-z]+\d+")
_ABBREV = {
    "Conv2D": "conv", "DepthwiseConv2D": "dwconv", "SeparableConv2D": "sepconv",
    "BatchNormalization": "bn", "ReLU": "relu", "Add": "add", "Concatenate": "concat",
    "Multiply": "mul", "MaxPooling2D": "maxpool", "AveragePooling2D": "avgpool",
    "GlobalAveragePooling2D": "gap", "GlobalMaxPooling2D": "gmp", "Dense": "fc",
    "Dropout": "dropout", "ZeroPadding2D": "pad", "Flatten": "flatten", "Reshape": "reshape",
    "InputLayer": "input",
}


def _block_key(name: str, family: str | None):
    for families, pattern, template, kind in _BLOCK_RULES:
        if families is not None and family not in families:
            continue
        m = re.match(pattern, name)
        if m:
            return m.expand(template), kind
    return None, None


def _layer_kind(layer) -> str:
    cls = type(layer).__name__
    if cls == "Activation":
        act = getattr(layer, "activation", None)
        return getattr(act, "__name__", "activation")
    return _ABBREV.get(cls, cls.lower())


def _shape_text(shape) -> str:
    dims = [str(d) for d in tuple(shape)[1:]]
    return "x".join(dims) if dims else "scalar"


def _model_edges(model):
    """(source layer, destination layer) pairs of a functional model, in layer order."""
    from kerascnn.graph import edges

    return edges(model)


def _output_shapes(model, layer) -> list[str]:
    from kerascnn.graph import layer_calls

    shapes = []
    for call in layer_calls(layer, model):
        shapes += [_shape_text(t.shape) for t in call.outputs]
    if not shapes and type(layer).__name__ == "InputLayer":
        shapes = [_shape_text(layer.output.shape)]
    return shapes


def block_groups(model, family: str | None = None) -> list[dict]:
    """Collapses ``model``'s layer graph into blocks, one group per block.

    Layers are grouped by the block prefix of their names (``_BLOCK_RULES``: ``res2a_*`` and
    ``bn2a_*`` form ResNet block ``res2a``; ``conv2_block1_*`` a ResNet-v2 block, or for the
    ``densenet`` family the whole dense block ``conv2`` with ``pool2_*`` its transition;
    ``inception_3a_*``, ``mixed5*``, ``fire2_*``, ``block1_*`` ...). Layers no rule names
    form the ``stem`` (before the first block) and the ``head`` (after the last); between
    blocks, and in networks without blocks (LeNet, AlexNet), they are grouped by their
    leading word and number (``conv1``, ``conv1_relu`` and ``conv1_pad`` form ``conv1``).
    Each input is a group of its own. Should the names ever give a cyclic graph of groups,
    the grouping falls back to runs of consecutive layers with the same block name, which is
    always acyclic.

    Args:
        model: a built functional ``keras.Model``.
        family: the registry family (``model_info(name)["family"]``), for family rules.

    Returns:
        Groups in topological order, each a dict: ``name``, ``kind`` (``"input"``,
        ``"stem"``, ``"head"``, ``"dense block"``, ``"transition"`` or None), ``layers``
        (layer names), ``types`` (layer kinds, e.g. ``["conv", "bn", "relu"]``), ``params``,
        ``output_shapes`` (of the layers whose outputs leave the group, batch axis dropped)
        and ``inputs`` (names of the groups feeding it).
    """
    from kerascnn.graph import producer

    layers = list(model.layers)
    keys = []
    for layer in layers:
        if type(layer).__name__ == "InputLayer":
            keys.append((layer.name, "input"))
        else:
            keys.append(_block_key(layer.name, family))
    matched = [i for i, (k, _) in enumerate(keys) if k is not None
               and keys[i][1] != "input"]
    for i, layer in enumerate(layers):
        if keys[i][0] is not None:
            continue
        if matched and i < matched[0]:
            keys[i] = ("stem", "stem")
        elif matched and i > matched[-1]:
            keys[i] = ("head", "head")
        else:
            m = _LEADING.match(layer.name)
            keys[i] = (m.group(0) if m else layer.name, None)
    edges = _model_edges(model)
    index = {id(layer): i for i, layer in enumerate(layers)}

    def assign(group_of):
        order, groups = [], {}
        for i in range(len(layers)):
            g = group_of[i]
            if g not in groups:
                groups[g] = {"name": g[0], "kind": keys[i][1], "members": []}
                order.append(g)
            groups[g]["members"].append(i)
        succ = {g: set() for g in order}
        for src, dst in edges:
            a, b = group_of[index[id(src)]], group_of[index[id(dst)]]
            if a != b:
                succ[a].add(b)
        return order, groups, succ

    group_of = [(k, 0) for k, _ in keys]
    order, groups, succ = assign(group_of)
    if _has_cycle(order, succ):
        runs, previous = 0, None
        for i, (k, _) in enumerate(group_of):
            runs += k != previous
            previous = k
            group_of[i] = (k, runs)
        order, groups, succ = assign(group_of)
    # Display names: repeated names (fallback runs) get a suffix.
    seen = {}
    for g in order:
        n = groups[g]["name"]
        seen[n] = seen.get(n, 0) + 1
        if seen[n] > 1:
            groups[g]["name"] = f"{n} ({seen[n]})"

    outputs = {id(producer(t)) for t in model.outputs}
    leaving = set()
    for src, dst in edges:
        if group_of[index[id(src)]] != group_of[index[id(dst)]]:
            leaving.add(id(src))
    result = []
    for g in order:
        members = [layers[i] for i in groups[g]["members"]]
        exits = [lay for lay in members if id(lay) in leaving or id(lay) in outputs] or \
            members[-1:]
        shapes = []
        for lay in exits:
            for s in _output_shapes(model, lay):
                if s not in shapes:
                    shapes.append(s)
        result.append({
            "name": groups[g]["name"],
            "kind": groups[g]["kind"],
            "layers": [lay.name for lay in members],
            "types": [_layer_kind(lay) for lay in members],
            "params": int(sum(lay.count_params() for lay in members if lay.built)),
            "output_shapes": shapes,
            "inputs": [],
        })
    position = {g: n for n, g in enumerate(order)}
    for a in order:
        for b in sorted(succ[a], key=position.get):
            result[position[b]]["inputs"].append(result[position[a]]["name"])
    for r in result:
        r["inputs"].sort(key=lambda n: [x["name"] for x in result].index(n))
    return result


def _has_cycle(order, succ) -> bool:
    state = {g: 0 for g in order}  # 0 new, 1 on the stack, 2 done
    for root in order:
        if state[root]:
            continue
        stack = [(root, iter(succ[root]))]
        state[root] = 1
        while stack:
            g, children = stack[-1]
            for c in children:
                if state[c] == 1:
                    return True
                if state[c] == 0:
                    state[c] = 1
                    stack.append((c, iter(succ[c])))
                    break
            else:
                state[g] = 2
                stack.pop()
    return False


def _count_text(types: list[str]) -> str:
    counts = {}
    for t in types:
        counts[t] = counts.get(t, 0) + 1
    return " · ".join(t if n == 1 else f"{n} {t}" for t, n in counts.items())


def _params_text(n: int) -> str:
    if n >= 1e6:
        return f"{n / 1e6:.2f} M params"
    if n >= 1e3:
        return f"{n / 1e3:.1f} K params"
    return f"{n} params"


def _html(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def _wrap(text: str, width: int = 44) -> list[str]:
    lines, line = [], ""
    for part in text.split(" · "):
        if line and len(line) + 3 + len(part) > width:
            lines.append(line)
            line = part
        else:
            line = f"{line} · {part}" if line else part
    return lines + [line] if line else lines


_FILL = {"input": "#ffffff", "stem": "#eeeeee", "head": "#eeeeee",
         "transition": "#fdf2dc"}


def blocks_dot(model, family: str | None = None, groups: list[dict] | None = None) -> str:
    """The DOT source of the block view of ``model`` (see :func:`block_groups`)."""
    groups = block_groups(model, family) if groups is None else groups
    ids = {g["name"]: f"n{i}" for i, g in enumerate(groups)}
    lines = [
        "digraph G {",
        'graph [rankdir=TB, ranksep=0.22, nodesep=0.3, fontname="Helvetica"];',
        'node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=14, '
        'margin="0.12,0.04", fillcolor="#e8f0fb"];',
        "edge [arrowsize=0.7];",
    ]
    for g in groups:
        title = _html(g["name"])
        if g["kind"] == "dense block":
            title += f" · dense block, {g['types'].count('concat')} layers"
        elif g["kind"] == "transition":
            title += " · transition"
        shapes = " | ".join(g["output_shapes"])
        if g["kind"] == "input":
            if sum(x["kind"] == "input" for x in groups) == 1:
                title = "input"
            label = f"<<B>{title}</B><BR/>{_html(shapes)}>"
            lines.append(f'{ids[g["name"]]} [label={label}, shape=ellipse, fillcolor="#ffffff"];')
            continue
        body = "<BR/>".join(_html(s) for s in _wrap(_count_text(g["types"])))
        label = (f"<<B>{title}</B><BR/>{body}<BR/><B>{_html(shapes)}</B> · "
                 f"{_params_text(g['params'])}>")
        fill = _FILL.get(g["kind"])
        extra = f', fillcolor="{fill}"' if fill else ""
        lines.append(f"{ids[g['name']]} [label={label}{extra}];")
    for g in groups:
        for src in g["inputs"]:
            lines.append(f"{ids[src]} -> {ids[g['name']]};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def plot_blocks(model, path, fmt: str | None = None, family: str | None = None,
                dpi: int = 96, groups: list[dict] | None = None) -> str:
    """Draws the block view of ``model`` (:func:`block_groups`) to ``path`` (SVG or PNG).

    One box per block: its name, the kinds of its layers with their counts, its output shape
    and its parameters; edges between blocks. SVG output is minified; the file is written
    atomically.

    Returns:
        ``path``.

    Raises:
        GraphvizNotFoundError: graphviz is not installed.
        ValueError: an unsupported format.
        RuntimeError: graphviz failed.
    """
    import subprocess

    dot = check_graphviz()
    path = os.fspath(path)
    fmt = (fmt or os.path.splitext(path)[1].lstrip(".") or "svg").lower()
    if fmt not in ("svg", "png"):
        raise ValueError(f"Diagram format must be 'svg' or 'png'; got {fmt!r}.")
    source = blocks_dot(model, family, groups)
    args = [dot, f"-T{fmt}"] + ([f"-Gdpi={dpi}"] if fmt == "png" else [])
    proc = subprocess.run(args, input=source.encode("utf-8"), capture_output=True)
    if proc.returncode != 0 or not proc.stdout:
        raise RuntimeError(f"graphviz could not draw the blocks of {model.name!r}: "
                           f"{proc.stderr.decode(errors='replace').strip()}")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if fmt == "svg":
        write_text(path, minify_svg(proc.stdout.decode("utf-8")))
    else:
        _write_bytes(path, proc.stdout)
    return path


def _write_bytes(path, data: bytes) -> None:
    with open(path + ".part", "wb") as f:
        f.write(data)
    os.chmod(path + ".part", 0o644)
    os.replace(path + ".part", path)


def write_text(path, text: str) -> None:
    """Atomic write that keeps an existing file's mode (0644 for a new file)."""
    mode = os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0o644
    atomic_write(path, text)
    os.chmod(path, mode)


def natural_key(name: str):
    """Sort key putting resnet50 before resnet101."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _trainable(model) -> int:
    import numpy as np

    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def gallery_row(name: str, diagram_path: str | None = None, fmt: str = "svg",
                max_layers: int | None = None, blocks_path: str | None = None) -> dict:
    """Measures one registered model for the gallery (and draws it if asked).

    Parameters are counted on the reference table's configuration (its input size, classes
    and constructor arguments) so they compare with the reference; MACs and the diagram use
    the default input size.

    Args:
        name: a registry name.
        diagram_path: where to draw the diagram; None draws nothing.
        fmt: ``"svg"`` or ``"png"``.
        max_layers: models with more layers than this get no layer-level diagram (a
            diagram of thousands of repeated layers is megabytes that no reader follows;
            the block view remains); None draws every model.
        blocks_path: where to draw the block view (:func:`plot_blocks`); None draws none.

    Returns:
        A JSON-serialisable dict: name, family, paper, year, params, reference_params,
        params_diff, gmacs, layers, default_input_shape, min_input_size, diagram (None when
        not drawn), blocks (nodes of the block view), blocks_diagram (None when not drawn).
    """
    import keras

    from kerascnn import api, registry
    from kerascnn.utils.macs import count_macs

    info = api.model_info(name)
    row = registry.reference_rows().get(info["name"])
    default_shape = tuple(info["default_input_shape"])
    if row:
        ref_shape = tuple(int(v) for v in row["input"].split("x"))
        ref_kwargs = dict(json.loads(row["kwargs"]) if row["kwargs"] else {},
                          classes=int(row["classes"]))
        model = api.create_model(name, input_shape=ref_shape, **ref_kwargs)
        params = _trainable(model)
        if ref_shape != default_shape:
            keras.backend.clear_session()
            model = api.create_model(name, input_shape=default_shape, **ref_kwargs)
    else:
        model = api.create_model(name, input_shape=default_shape)
        params = _trainable(model)
    macs = count_macs(model)
    layers = len(model.layers)
    if max_layers is not None and layers > max_layers:
        diagram_path = None
    if diagram_path is not None:
        plot_architecture(model, diagram_path, fmt)
    groups = block_groups(model, info["family"])
    if blocks_path is not None:
        plot_blocks(model, blocks_path, fmt, family=info["family"], groups=groups)
    keras.backend.clear_session()
    reference = info["reference_params"]
    return {
        "name": info["name"],
        "family": info["family"],
        "paper": info["paper"].get("title", ""),
        "year": info["paper"].get("year"),
        "params": params,
        "reference_params": reference,
        "params_diff": None if reference is None else params - reference,
        "macs": macs,
        "gmacs": round(macs / 1e9, 3),
        "layers": layers,
        "default_input_shape": list(default_shape),
        "min_input_size": info["min_input_size"],
        "diagram": diagram_path,
        "blocks": len(groups),
        "blocks_diagram": blocks_path,
    }


def _fmt_int(value) -> str:
    return "—" if value is None else f"{value:,}"


def _fmt_diff(value) -> str:
    if value is None:
        return "—"
    return "0" if value == 0 else f"{value:+,}"


def _shape(shape) -> str:
    return "x".join(str(d) for d in shape)


def gallery_markdown(rows: list[dict], link_base: str | None = None,
                     pages: str | None = None) -> str:
    """The gallery table (``docs/architectures.md``).

    Args:
        rows: :func:`gallery_row` dicts.
        link_base: directory of the gallery file, to make diagram links relative.
        pages: for the documentation site: each name links to ``{pages}{name}.md`` and a
            column shows the block diagram itself (a thumbnail linking to it).
    """
    def href(target):
        if link_base is not None:
            target = os.path.relpath(target, link_base)
        return target.replace(os.sep, "/")

    def link(text, target):
        return f"[{text}]({href(target)})"

    lines = [
        "| Model | Family | Paper (year) | Params | Reference | Diff | GMACs | Input | "
        "Min input | Diagrams |" + (" Blocks |" if pages is not None else ""),
        "| --- | --- | --- | ---: | ---: | ---: | ---: | --- | ---: | --- |"
        + (" --- |" if pages is not None else ""),
    ]
    for r in sorted(rows, key=lambda r: (r["family"], natural_key(r["name"]))):
        links = []
        if r.get("blocks_diagram"):
            links.append(link(f"blocks ({r['blocks']})", r["blocks_diagram"]))
        if r.get("diagram"):
            links.append(link(f"layers ({r['layers']:,})", r["diagram"]))
        elif r.get("layers"):
            links.append(f"layers not drawn ({r['layers']:,})")
        diagram = " · ".join(links) or "—"
        name = f"`{r['name']}`" if pages is None else f"[`{r['name']}`]({pages}{r['name']}.md)"
        thumbnail = ""
        if pages is not None:
            thumbnail = " |"
            if r.get("blocks_diagram"):
                image = f"![{r['name']} blocks]({href(r['blocks_diagram'])})"
                thumbnail = " " + link(image, r["blocks_diagram"]) + " |"
        lines.append(
            f"| {name} | {r['family']} | {r['paper']} ({r['year']}) | "
            f"{_fmt_int(r['params'])} | {_fmt_int(r['reference_params'])} | "
            f"{_fmt_diff(r['params_diff'])} | {r['gmacs']:.2f} | "
            f"{_shape(r['default_input_shape'])} | {r['min_input_size']} | {diagram} |"
            + thumbnail
        )
    return "\n".join(lines) + "\n"


DATA_NAMES = {"signs": "SIGNS", "mnist": "MNIST", "cifar10_subset": "CIFAR-10 subset",
              "fashion_mnist": "Fashion-MNIST"}


def read_learning_results(path) -> dict:
    """``{model: row}`` of the learning benchmark's results (``scripts/bench_learning.py``),
    the rows trained with fit.py's defaults only (no extra flags) that finished."""
    import csv

    if not path or not os.path.exists(path):
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if not r.get("flags") and r.get("test_accuracy")]
    # a family's own row (its name alone) wins over an extra row of the same model
    rows.sort(key=lambda r: ":" not in r["row"])
    return {r["model"]: r for r in rows}


def _measured(row) -> str:
    if not row:
        return ""
    data = DATA_NAMES.get(row["data"], row["data"])
    size = f" {row['image_size']}px" if row.get("image_size") else ""
    return (f"{float(row['test_accuracy']):.3f} ({data}{size}, {row['epochs']} ep, "
            f"{float(row['wall_seconds']) / 60:.0f} min)")


def learning_table_markdown(path) -> str:
    """Every row of the learning benchmark's results (``scripts/bench_learning.py``),
    extra flags and source-document rows included: the table of ``docs/guides/training.md``."""
    import csv

    lines = ["| Row | Model | Data | Flags | Epochs | Batch | Time | Load | Test acc. | Majority |",
             "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    if not path or not os.path.exists(path):
        return "\n".join(lines) + "\n"
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for r in sorted(rows, key=lambda r: natural_key(r["row"])):
        data = DATA_NAMES.get(r["data"], r["data"])
        if r.get("image_size"):
            data += f" {r['image_size']}px"
        flags = f"`{r['flags']}`" if r.get("flags") else ""
        acc = f"{float(r['test_accuracy']):.3f}" if r.get("test_accuracy") else "not finished"
        minutes = f"{float(r['wall_seconds']) / 60:.1f} min" if r.get("wall_seconds") else ""
        lines.append(f"| {r['row']} | `{r['model']}` | {data} | {flags} | {r.get('epochs', '')} "
                     f"| {r.get('batch_size', '')} | {minutes} | {r.get('load', '')} | {acc} | "
                     f"{float(r['majority_baseline']):.3f} |")
    return "\n".join(lines) + "\n"


def models_table_markdown(rows: list[dict], learning: dict | None = None,
                          pages: str | None = None) -> str:
    """The site's compact model table (``docs/models/index.md``); ``learning``
    (:func:`read_learning_results`) fills the column of test accuracies measured with fit.py's
    defaults; with ``pages`` (a link prefix) each name links to ``{pages}{name}.md``."""
    learning = learning or {}
    lines = ["| Model | Family | Paper (year) | Params | GMACs | Input | Learns: test acc. "
             "(data, epochs, time) |",
             "| --- | --- | --- | ---: | ---: | --- | --- |"]
    for r in sorted(rows, key=lambda r: (r["family"], natural_key(r["name"]))):
        name = f"`{r['name']}`" if pages is None else f"[`{r['name']}`]({pages}{r['name']}.md)"
        lines.append(f"| {name} | {r['family']} | {r['paper']} ({r['year']}) | "
                     f"{r['params'] / 1e6:.1f} M | {r['gmacs']:.2f} | "
                     f"{_shape(r['default_input_shape'])} | {_measured(learning.get(r['name']))} |")
    return "\n".join(lines) + "\n"


def replace_between_markers(text: str, block: str, start: str, end: str) -> str:
    """Replaces what lies between the ``start`` and ``end`` marker lines of ``text``."""
    i, j = text.find(start), text.find(end)
    if i < 0 or j < i:
        raise ValueError(f"Markers {start} ... {end} not found.")
    return text[: i + len(start)] + "\n" + block + text[j:]
