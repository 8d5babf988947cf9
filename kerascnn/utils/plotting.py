"""Architecture diagrams and the gallery table, for every registered model.

* :func:`plot_architecture` draws a model with ``keras.utils.plot_model`` (shapes, layer
  names, nested models expanded) to PNG or SVG; SVG output is minified (same drawing, about
  a third of graphviz's bytes) so diagrams can live in the repository.
* :func:`gallery_row` measures one registry entry (parameters against the reference table,
  MACs at the default input size) and :func:`gallery_markdown` / :func:`models_table_markdown`
  turn rows into ``docs/architectures.md`` and the README's model table.

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
          ".h,.hb{font-size:16px;fill:#fff}.hb{font-weight:bold}</style>")


def minify_svg(text: str) -> str:
    """Shrinks a graphviz SVG without changing the drawing.

    Drops comments, titles and ids, rounds coordinates to whole points, writes rectangles
    as ``<rect>`` (merging graphviz's separate fill and stroke polygons) and moves the
    repeated font attributes into one stylesheet.
    """
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
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
    text = re.sub(r">\s+<", "><", text)
    return re.sub(r"(<svg\b[^>]*>)", lambda m: m.group(1) + _STYLE, text, count=1)


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
                max_layers: int | None = None) -> dict:
    """Measures one registered model for the gallery (and draws it if asked).

    Parameters are counted on the reference table's configuration (its input size, classes
    and constructor arguments) so they compare with the reference; MACs and the diagram use
    the default input size.

    Args:
        name: a registry name.
        diagram_path: where to draw the diagram; None draws nothing.
        fmt: ``"svg"`` or ``"png"``.
        max_layers: models with more layers than this are not drawn (a diagram of
            thousands of repeated blocks is megabytes that no reader follows); None
            draws every model.

    Returns:
        A JSON-serialisable dict: name, family, paper, year, params, reference_params,
        params_diff, gmacs, layers, default_input_shape, min_input_size, diagram (None when
        not drawn).
    """
    import keras

    from kerascnn import registry
    from kerascnn.utils.macs import count_macs

    info = registry.model_info(name)
    row = registry.reference_rows().get(info["name"])
    default_shape = tuple(info["default_input_shape"])
    if row:
        ref_shape = tuple(int(v) for v in row["input"].split("x"))
        ref_kwargs = dict(json.loads(row["kwargs"]) if row["kwargs"] else {},
                          classes=int(row["classes"]))
        model = registry.create_model(name, input_shape=ref_shape, **ref_kwargs)
        params = _trainable(model)
        if ref_shape != default_shape:
            keras.backend.clear_session()
            model = registry.create_model(name, input_shape=default_shape, **ref_kwargs)
    else:
        model = registry.create_model(name, input_shape=default_shape)
        params = _trainable(model)
    macs = count_macs(model)
    layers = len(model.layers)
    if max_layers is not None and layers > max_layers:
        diagram_path = None
    if diagram_path is not None:
        plot_architecture(model, diagram_path, fmt)
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
    }


def _fmt_int(value) -> str:
    return "—" if value is None else f"{value:,}"


def _fmt_diff(value) -> str:
    if value is None:
        return "—"
    return "0" if value == 0 else f"{value:+,}"


def _shape(shape) -> str:
    return "x".join(str(d) for d in shape)


def gallery_markdown(rows: list[dict], link_base: str | None = None) -> str:
    """The gallery table (``docs/architectures.md``).

    Args:
        rows: :func:`gallery_row` dicts.
        link_base: directory of the gallery file, to make diagram links relative.
    """
    lines = [
        "| Model | Family | Paper (year) | Params | Reference | Diff | GMACs | Input | "
        "Min input | Diagram |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | --- | ---: | --- |",
    ]
    for r in sorted(rows, key=lambda r: (r["family"], natural_key(r["name"]))):
        diagram = "—"
        if r.get("layers") and not r.get("diagram"):
            diagram = f"not drawn ({r['layers']:,} layers)"
        if r.get("diagram"):
            target = r["diagram"]
            if link_base is not None:
                target = os.path.relpath(target, link_base)
            diagram = f"[{os.path.splitext(os.path.basename(target))[1][1:]}]" \
                      f"({target.replace(os.sep, '/')})"
        lines.append(
            f"| `{r['name']}` | {r['family']} | {r['paper']} ({r['year']}) | "
            f"{_fmt_int(r['params'])} | {_fmt_int(r['reference_params'])} | "
            f"{_fmt_diff(r['params_diff'])} | {r['gmacs']:.2f} | "
            f"{_shape(r['default_input_shape'])} | {r['min_input_size']} | {diagram} |"
        )
    return "\n".join(lines) + "\n"


def models_table_markdown(rows: list[dict]) -> str:
    """The README's compact model table."""
    lines = ["| Model | Family | Paper (year) | Params | GMACs | Input |",
             "| --- | --- | --- | ---: | ---: | --- |"]
    for r in sorted(rows, key=lambda r: (r["family"], natural_key(r["name"]))):
        lines.append(f"| `{r['name']}` | {r['family']} | {r['paper']} ({r['year']}) | "
                     f"{r['params'] / 1e6:.1f} M | {r['gmacs']:.2f} | "
                     f"{_shape(r['default_input_shape'])} |")
    return "\n".join(lines) + "\n"


def replace_between_markers(text: str, block: str, start: str, end: str) -> str:
    """Replaces what lies between the ``start`` and ``end`` marker lines of ``text``."""
    i, j = text.find(start), text.find(end)
    if i < 0 or j < i:
        raise ValueError(f"Markers {start} ... {end} not found.")
    return text[: i + len(start)] + "\n" + block + text[j:]
