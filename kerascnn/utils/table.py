"""The model table as data: parameters, MACs and receptive field of every registered model.

Building all registered models takes minutes, so the table is computed once and shipped in
the package (``kerascnn/models_table.json``); :func:`models_table` reads it, which is instant.
Regenerate the file after adding or changing an architecture::

    python -m kerascnn.utils.table --update          # rebuilds every model (minutes on CPU)
    python -m kerascnn.utils.table                   # prints the table from the cache
    python -m kerascnn.utils.table --check lenet5    # compares cached rows with fresh ones
    python -m kerascnn.utils.table --weights         # the table of pretrained weight sets
    python -m kerascnn.utils.table --update-weights  # rewrites it in docs/models/weights.md

The weight-set table (:func:`weights_table`) is read from ``model_info(name)["weights"]``
(nothing is built); ``--update-weights`` writes it into the site's page of weight sets
(``docs/models/weights.md``) between
``<!-- weights:start -->`` and ``<!-- weights:end -->``.

Each row is computed from the model as ``kerascnn.create_model(name)`` builds it (its default
input size and classes, no weights): ``params`` is keras' ``count_params()``, ``macs`` is
:func:`kerascnn.utils.count_macs` (one image), ``receptive_field`` / ``stride`` are those of
the last spatial layer (before global pooling or Flatten) from
:func:`kerascnn.utils.receptive_field`, square in every registered model.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys

__all__ = ["models_table", "compute_row", "update_cache", "format_table", "CACHE_PATH",
           "weights_table", "weights_table_markdown", "update_weights_page",
           "measured_results", "RESULTS_PATH"]

CACHE_PATH = os.path.join(os.path.dirname(os.path.dirname(__file__)), "models_table.json")
WEIGHTS_PAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
                            "docs", "models", "weights.md")
WEIGHTS_START, WEIGHTS_END = "<!-- weights:start -->", "<!-- weights:end -->"
# The accuracies a user measured with evaluate.py --results-csv (docs/pretrained.md).
RESULTS_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
                            "docs", "pretrained_results.csv")
FIELDS = ("name", "family", "params", "macs", "receptive_field", "stride",
          "last_spatial_layer", "input_size")


def _square(pair, what, name):
    if pair[0] != pair[1]:
        raise ValueError(f"{name}: the {what} of its last spatial layer is not square: {pair}.")
    return int(pair[0])


def compute_row(name: str) -> dict:
    """Builds the registered model ``name`` and measures its row of the table (slow)."""
    import keras

    from kerascnn.api import get_spec
    from kerascnn.utils.macs import count_macs
    from kerascnn.utils.receptive_field import receptive_field

    spec = get_spec(name)
    model = spec.build(input_shape=tuple(spec.default_input))
    try:
        last = receptive_field(model)[-1]
        return {
            "name": name,
            "family": spec.family,
            "params": int(model.count_params()),
            "macs": int(count_macs(model)),
            "receptive_field": _square(last["receptive_field"], "receptive field", name),
            "stride": _square(last["stride"], "stride", name),
            "last_spatial_layer": last["layer"],
            "input_size": [int(d) for d in spec.default_input],
        }
    finally:
        del model
        keras.backend.clear_session()


@functools.lru_cache(maxsize=1)
def _cache() -> dict:
    if not os.path.exists(CACHE_PATH):
        return {}
    with open(CACHE_PATH, encoding="utf-8") as f:
        return {row["name"]: row for row in json.load(f)["models"]}


def models_table(pattern: str = "*") -> list[dict]:
    """One row per registered model matching ``pattern`` (fnmatch), from the shipped cache.

    Each row: ``name``, ``family``, ``params`` (keras ``count_params()`` of the default
    build), ``macs`` (multiply-accumulates of one image at ``input_size``), ``receptive_field``
    and ``stride`` (input pixels) of ``last_spatial_layer``, and ``input_size`` (height,
    width, channels). A registered model missing from the cache is computed on the spot
    (slow); run ``python -m kerascnn.utils.table --update`` to refresh the cache.

    Example:
        >>> [r["receptive_field"] for r in models_table("vgg16")]  # doctest: +SKIP
        [212]
    """
    from kerascnn.api import list_models

    cache = _cache()
    return [dict(cache[n]) if n in cache else compute_row(n) for n in list_models(pattern)]


def update_cache(names=None, path: str = CACHE_PATH, log=None) -> list[dict]:
    """Recomputes the rows of ``names`` (all registered models by default) and writes them."""
    from kerascnn.api import list_models
    from kerascnn.utils.io import write_json_atomic

    names = list_models() if names is None else list(names)
    rows = []
    for name in names:
        rows.append(compute_row(name))
        if log:
            log(f"{name}: {rows[-1]['params']} params, {rows[-1]['macs']} MACs, "
                f"receptive field {rows[-1]['receptive_field']}")
    write_json_atomic(path, {
        "about": "kerascnn.models_table() cache; regenerate with "
                 "`python -m kerascnn.utils.table --update`",
        "models": rows,
    })
    _cache.cache_clear()
    return rows


def format_table(rows) -> str:
    """A plain-text table of :func:`models_table` rows (MACs as multiply-accumulates)."""
    from kerascnn.utils.macs import format_macs

    header = ("model", "family", "params", "MACs", "RF", "stride", "input")
    lines = [header]
    for r in rows:
        lines.append((r["name"], r["family"], f"{r['params'] / 1e6:.2f} M", format_macs(r["macs"]),
                      str(r["receptive_field"]), str(r["stride"]),
                      "x".join(str(d) for d in r["input_size"])))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip()
                     for line in lines)


def measured_results(path: str | None = None) -> dict:
    """``{(model, tag): row}``: the last row of each weight set in the results CSV that
    ``evaluate.py --results-csv`` appends to (``docs/pretrained_results.csv``); rows of
    checkpoint files (not a tag) are left out. {} when the file is absent."""
    import csv

    path = RESULTS_PATH if path is None else path
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8", newline="") as f:
        return {(row["model"], row["weights"]): row for row in csv.DictReader(f)}


def weights_table(results: str | None = None) -> list[dict]:
    """One row per weight set of every model: ``model``, ``tag``, ``source``,
    ``input_size``, ``transform`` (the publisher's evaluation: ``resize_size``,
    ``resize_mode``, ``interpolation``, ``channel_order``), ``top1``/``top5`` (as
    published), ``num_params``, ``recipe``, ``license``, ``url``, ``note`` (from
    ``model_info(name)["weights"]``), and ``measured_top1``/``measured_top5`` from the
    results CSV (None without a row), sorted by model and tag."""
    from kerascnn.api import model_info
    from kerascnn.utils.plotting import natural_key
    from kerascnn.weights.core import models_with_weight_sets

    measured = measured_results(results)
    rows = []
    for name in sorted(models_with_weight_sets(), key=natural_key):
        for tag, ws in model_info(name)["weights"].items():
            m = measured.get((name, tag), {})
            rows.append({"model": name, "tag": tag, "source": ws["source"],
                         "input_size": list(ws["input_size"]),
                         "resize_size": ws["resize_size"], "resize_mode": ws["resize_mode"],
                         "interpolation": ws["interpolation"],
                         "channel_order": ws["channel_order"],
                         "top1": ws["top1"], "top5": ws["top5"],
                         "num_params": ws["num_params"], "recipe": ws["recipe"],
                         "license": ws["license"], "url": ws["url"], "note": ws["note"],
                         "measured_top1": float(m["top1"]) if m.get("top1") else None,
                         "measured_top5": float(m["top5"]) if m.get("top5") else None,
                         "measured_images": int(m["images"]) if m.get("images") else None})
    return rows


def _pair(a, b) -> str:
    if a is None and b is None:
        return ""
    return " / ".join("–" if v is None else f"{v:.2f}" for v in (a, b))


def _transform(r) -> str:
    h, w = r["input_size"][:2]
    if r["resize_mode"] == "squash":
        text = f"{h}x{w} {r['interpolation']}"
    else:
        text = f"{r['resize_size']} → {h}x{w} {r['interpolation']}"
    return text + (", BGR" if r["channel_order"] == "BGR" else "")


def weights_table_markdown(rows=None) -> str:
    """The site's table of weight sets: the publisher's evaluation transform (shorter side
    resized to N, centre crop HxW; or resized straight to HxW), top-1 / top-5 (ImageNet or
    CIFAR-10 validation accuracy, %) as published and as measured by ``evaluate.py`` where
    ``docs/pretrained_results.csv`` has a row, the parameter count."""
    rows = weights_table() if rows is None else rows
    lines = ["| Model | Tag | Source | Eval transform | Top-1 / Top-5 (published) | "
             "Measured | Params | Licence |",
             "| --- | --- | --- | --- | ---: | ---: | ---: | --- |"]
    for r in rows:
        measured = _pair(r["measured_top1"], r["measured_top5"])
        if measured and r["top1"] is not None:
            measured += f" ({r['measured_top1'] - r['top1']:+.2f})"
        params = "" if r["num_params"] is None else f"{r['num_params'] / 1e6:.1f}M"
        lines.append(f"| `{r['model']}` | `{r['tag']}` | [`{r['source']}`]({r['url']}) | "
                     f"{_transform(r)} | {_pair(r['top1'], r['top5'])} | {measured} | "
                     f"{params} | {r['license']} |")
    return "\n".join(lines) + "\n"


def update_weights_page(path: str = WEIGHTS_PAGE) -> bool:
    """Rewrites the weight-set table of the page at ``path``; True if it changed."""
    from kerascnn.utils.plotting import replace_between_markers

    with open(path, encoding="utf-8") as f:
        text = f.read()
    new = replace_between_markers(text, weights_table_markdown(), WEIGHTS_START, WEIGHTS_END)
    if new != text:
        from kerascnn.utils.io import atomic_write

        atomic_write(path, new)
    return new != text


def update_all(page: str = WEIGHTS_PAGE) -> int:
    """Regenerates what the package derives from the registry (``--update-all``): the model
    table's cache, the feature taps and the site's weight-set table. Each is checked
    current by a test."""
    from kerascnn.features import write_feature_info

    update_cache(log=lambda line: print(line, flush=True))
    write_feature_info()
    changed = update_weights_page(page)
    print(f"wrote {CACHE_PATH}, the feature taps and ({'updated' if changed else 'unchanged'}) "
          f"the weight-set table of {page}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kerascnn.utils.table",
        description="Print kerascnn's model table, or regenerate its cache.")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--update", action="store_true",
                       help="rebuild every registered model and rewrite the cache (minutes)")
    group.add_argument("--check", nargs="+", metavar="NAME",
                       help="compare the cached rows of these models with fresh computations")
    group.add_argument("--weights", action="store_true",
                       help="print the table of pretrained weight sets (markdown)")
    group.add_argument("--update-weights", action="store_true",
                       help="rewrite the weight-set table of the site (--weights-page)")
    group.add_argument("--update-all", action="store_true",
                       help="regenerate every file generated from the registry: this table's "
                            "cache, the feature taps (kerascnn/feature_info.json) and the "
                            "site's weight-set table (minutes; the diagrams and the site's "
                            "model table: scripts/plot_models.py --update-docs; the model "
                            "pages: python3 -m kerascnn.utils.docs --update)")
    parser.add_argument("--weights-page", default=WEIGHTS_PAGE,
                        help="page of --update-weights (default docs/models/weights.md)")
    parser.add_argument("--pattern", default="*", help="fnmatch pattern of the models to print")
    args = parser.parse_args(argv)
    if args.weights:
        print(weights_table_markdown(), end="")
        return 0
    if args.update_weights:
        changed = update_weights_page(args.weights_page)
        print(f"{'updated' if changed else 'unchanged'}: the weight-set table of "
              f"{args.weights_page}")
        return 0
    if args.update:
        update_cache(log=lambda line: print(line, flush=True))
        return 0
    if args.update_all:
        return update_all(args.weights_page)
    if args.check:
        cache = _cache()
        stale = [n for n in args.check if cache.get(n) != compute_row(n)]
        for name in stale:
            print(f"{name}: cached row differs from a fresh computation", file=sys.stderr)
        return 1 if stale else 0
    print(format_table(models_table(args.pattern)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
