#!/usr/bin/env python3
"""Does every family learn with fit.py's defaults? Trains each family's smallest member.

    python3 scripts/bench_learning.py --out docs/learning_results.csv
    python3 scripts/bench_learning.py --only lenet,resnet_cifar --out /tmp/results.csv

Each row runs ``scripts/fit.py --model NAME --dataset D --data-dir ... [--image-size S]``
with no other flag (the family's default recipe, adapted to the data's size), except the
rows that reproduce a source document's flags (their ``flags`` column says which). The data
suits the network's minimum input: SIGNS (64x64 hand signs, 864 train / 216 val / 120 test)
for every family, at 32x32 for the CIFAR networks; MNIST (padded to 32x32) for LeNet-5. The
extra rows: the CIFAR ResNet with n=1 and 8 filters on MNIST (the Lasagne book chapter
"Classifying images with residual networks": batch 500, about 0.98) with the chapter's flags
and with the family's default, ResNet-20 on MNIST with the family's default; ResNet-50 on SIGNS (the Keras blog's ResNet-50 reaches about
0.87 after 2 epochs).

The results table (CSV: row, family, model, data, image_size, flags, epochs, batch_size,
wall_seconds: fit.py's own wall time from start to report, test_accuracy, majority_baseline:
the test accuracy of always answering the most frequent training class, cpus, load: the
machine's one-minute load average when the row ended, note) is written only to ``--out``;
rows already in that file are kept unless run again (``--skip-done`` skips them), so a
benchmark stopped part way keeps what it measured; a row whose run was stopped part way (a
``--timeout``, a failed attempt) is resumed from its last checkpoint when run again with the same
``--work-dir``, its time the sum of the attempts. Run directories go to ``--work-dir``
(default: a temporary directory, removed at the end). The README's model table shows the
rows without extra flags (``python3 scripts/plot_models.py --update-docs``).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

FIELDS = ("row", "family", "model", "data", "image_size", "flags", "epochs", "batch_size",
          "wall_seconds", "test_accuracy", "majority_baseline", "cpus", "load", "note")
# data name -> (fit.py --dataset, folder under the data root)
DATA = {
    "signs": ("signs", os.path.join("signs", "64x64_SIGNS")),
    "mnist": ("mnist", "mnist"),
    "cifar10_subset": ("cifar10_subset", "cifar10-subset"),
}
# The families' data and image size; the others: SIGNS at 64.
FAMILY_DATA = {"lenet": ("mnist", 32)}
CIFAR_FAMILIES = ("resnet_cifar", "preact_resnet_cifar", "wide_resnet_cifar", "resnext_cifar",
                  "densenet", "nin")
# Rows beyond one per family: (row, family, model, data, image size, extra fit.py flags, note)
EXTRA_ROWS = (
    ("resnet_cifar:mnist_lasagne", "resnet_cifar", "resnet20_cifar", "mnist", None,
     ("--n", "1", "--num-filters", "8", "--batch-size", "500"),
     "the Lasagne book chapter's command (n=1, 8 filters, batch 500: 98 % there), the "
     "family's default recipe for the rest"),
    ("resnet_cifar:mnist", "resnet_cifar", "resnet20_cifar", "mnist", None,
     ("--n", "1", "--num-filters", "8"),
     "the same network (n=1, 8 filters) with the family's default recipe"),
    ("resnet_cifar:mnist_resnet20", "resnet_cifar", "resnet20_cifar", "mnist", None, (),
     "the family's default network (ResNet-20) and recipe on MNIST"),
    ("resnet:signs_resnet50", "resnet", "resnet50", "signs", 64, (),
     "the Keras blog's ResNet-50 on SIGNS: about 0.87 after 2 epochs there"),
    ("resnet:signs_recipe", "resnet", "resnet50", "signs", 64, ("--recipe", "signs", "--seed", "1"),
     "the Keras blog's set-up (--recipe signs: Adam 1e-3, batch 32, cosine, 25 epochs)"),
)
# The modern recipes against the family default at the same budget (the same epochs, so the
# same images seen; each row's time says what the budget cost): ResNet-20 on the CIFAR-10
# subset, ResNet-18 on SIGNS (issue 26). RECIPE_AUGMENT, when set, replaces the recipes'
# augmentation (a checkout without RandAugment / TrivialAugment / random erasing).
RECIPE_BUDGETS = (("resnet_cifar", "resnet20_cifar", "cifar10_subset", None, 2),
                  ("resnet", "resnet18", "signs", 64, 3))
RECIPE_NAMES = ("torchvision_2021", "rsb_a1", "rsb_a2", "rsb_a3")
RECIPE_AUGMENT = os.environ.get("KERASCNN_RECIPE_AUGMENT")


def recipe_rows() -> tuple:
    rows = []
    for family, model, data, size, epochs in RECIPE_BUDGETS:
        budget = ("--epochs", str(epochs), "--seed", "1")
        rows.append((f"{family}:{data}_default", family, model, data, size, budget,
                     f"the family default at the modern recipes' budget ({epochs} epochs)"))
        for recipe in RECIPE_NAMES:
            flags = ("--recipe", recipe) + budget
            note = f"--recipe {recipe} at the family default's budget"
            if RECIPE_AUGMENT:
                flags += ("--augment", RECIPE_AUGMENT)
                note += " (its RandAugment/TrivialAugment/random erasing not available here)"
            rows.append((f"{family}:{data}_{recipe}", family, model, data, size, flags, note))
    return tuple(rows)


EXTRA_ROWS += recipe_rows()


def smallest_members() -> dict:
    """``{family: model}``: each family's listed member with the fewest parameters (the
    shipped model table's counts)."""
    from kerascnn.utils.table import models_table

    best = {}
    for row in models_table():
        family = row["family"]
        if family not in best or row["params"] < best[family]["params"]:
            best[family] = row
    return {family: row["name"] for family, row in sorted(best.items())}


def planned_rows() -> list[dict]:
    """Every row the benchmark knows, the cheap ones first (fewest MACs at their size)."""
    from kerascnn.utils.table import models_table

    macs = {row["name"]: row["macs"] / (row["input_size"][0] ** 2) for row in models_table()}
    rows = []
    for family, model in smallest_members().items():
        data, size = FAMILY_DATA.get(family, ("signs", 32 if family in CIFAR_FAMILIES else 64))
        rows.append(dict(row=family, family=family, model=model, data=data, image_size=size,
                         flags=(), note="", cost=macs.get(model, 0) * size * size))
    for row, family, model, data, size, flags, note in EXTRA_ROWS:
        rows.append(dict(row=row, family=family, model=model, data=data, image_size=size,
                         flags=flags, note=note, cost=macs.get(model, 0) * (size or 28) ** 2))
    return sorted(rows, key=lambda r: r["cost"])


def majority_baseline(data: str, data_root: str) -> float:
    """The test accuracy of always answering the most frequent training class."""
    import numpy as np

    from kerascnn.data import load

    dataset, folder = DATA[data]
    loaded = load(dataset, os.path.join(data_root, folder), val_fraction=0.0)
    train = np.asarray(loaded.split("train")[1])
    test = np.asarray(loaded.split("test")[1])
    majority = np.bincount(train).argmax()
    return float(np.mean(test == majority))


def fit_command(row: dict, data_root: str, out_dir: str) -> list[str]:
    dataset, folder = DATA[row["data"]]
    cmd = [sys.executable, os.path.join(ROOT, "scripts", "fit.py"), "--model", row["model"],
           "--dataset", dataset, "--data-dir", os.path.join(data_root, folder)]
    if row["image_size"]:
        cmd += ["--image-size", str(row["image_size"])]
    return cmd + list(row["flags"]) + ["--output-dir", out_dir, "--verbose", "2"]


def read_results(path: str) -> dict:
    if not path or not os.path.exists(path):
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        return {r["row"]: r for r in csv.DictReader(f)}


def write_results(path: str, results: dict) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        for key in sorted(results):
            writer.writerow({k: results[key].get(k, "") for k in FIELDS})
    os.replace(tmp, path)


def run_row(row: dict, data_root: str, work_dir: str, timeout: float, log) -> dict:
    out_dir = os.path.join(work_dir, row["row"].replace(":", "_"))
    cmd = fit_command(row, data_root, out_dir)
    log(f"[{row['row']}] {' '.join(os.path.relpath(c, ROOT) if c.startswith(ROOT) else c for c in cmd[1:])}")
    start = time.perf_counter()
    result = {k: row[k] for k in ("row", "family", "model", "data", "image_size")}
    result["flags"] = " ".join(row["flags"])
    result["note"] = row["note"]
    result["cpus"] = os.cpu_count()
    result["majority_baseline"] = round(majority_baseline(row["data"], data_root), 4)
    metrics_path = os.path.join(out_dir, "metrics.json")
    # seconds spent on this row by earlier attempts that stopped part way (a timeout, a kill)
    elapsed_path = f"{out_dir}.elapsed"
    earlier = 0.0
    if os.path.exists(elapsed_path):
        with open(elapsed_path, encoding="utf-8") as f:
            earlier = float(f.read().strip() or 0)
    if os.path.exists(metrics_path):  # --work-dir holds this row's finished run: read it
        status = 0
        log(f"[{row['row']}] reading the finished run in {out_dir}")
    else:
        if os.path.exists(os.path.join(out_dir, "run_config.json")):
            cmd.append("--resume")  # an earlier attempt stopped part way: continue it
            log(f"[{row['row']}] resuming the run in {out_dir} ({earlier:.0f} s spent before)")
        name = row["row"].replace(":", "_")
        with open(os.path.join(work_dir, f"{name}.log"), "a") as out:
            try:
                done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT,
                                      timeout=timeout, cwd=ROOT,
                                      env={**os.environ, "PYTHONPATH": ROOT})
                status = done.returncode
            except subprocess.TimeoutExpired:
                status = "timeout"
        attempt = time.perf_counter() - start
        if status != 0:
            with open(elapsed_path, "w", encoding="utf-8") as f:
                f.write(f"{earlier + attempt:.1f}\n")
    result["wall_seconds"] = round(earlier + time.perf_counter() - start)
    result["load"] = round(os.getloadavg()[0], 1)  # other work on the machine slows the row
    if status == 0 and os.path.exists(metrics_path):
        with open(metrics_path, encoding="utf-8") as f:
            metrics = json.load(f)
        result.update(epochs=metrics["epochs"], batch_size=metrics["batch_size"],
                      test_accuracy=round(metrics["test_accuracy"], 4))
        if earlier:  # fit.py's own time covers the last attempt only
            result["wall_seconds"] = round(earlier + metrics["wall_seconds"])
            result["note"] = "; ".join(n for n in (
                result["note"], f"resumed: {earlier:.0f} s before the last attempt") if n)
        else:
            result["wall_seconds"] = round(metrics["wall_seconds"])
        adapted = "; ".join(metrics.get("recipe_adapted") or ())
        if adapted:
            result["note"] = "; ".join(n for n in (result["note"], f"adapted: {adapted}") if n)
    else:
        result["note"] = "; ".join(n for n in (result["note"], f"fit.py failed ({status})")
                                   if n)
    return result


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="the results CSV (rows already there are kept)")
    p.add_argument("--only", default=None,
                   help="comma list of rows, run in that order: family names (their smallest "
                        "member) and the extra rows (e.g. lenet,resnet:signs_resnet50; --list)")
    p.add_argument("--skip-done", action="store_true",
                   help="skip the rows --out already holds")
    p.add_argument("--data-root", default=os.environ.get(
        "KERASCNN_DATA", os.path.join(os.path.dirname(ROOT), "shared", "data")),
        help="the real data (default: ../shared/data beside the project)")
    p.add_argument("--work-dir", default=None,
                   help="run directories and logs (default: a temporary directory, removed)")
    p.add_argument("--timeout", type=float, default=3600, help="seconds per row")
    p.add_argument("--list", action="store_true", help="print the planned rows and exit")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    rows = planned_rows()
    if args.only:
        order = [w.strip() for w in args.only.split(",") if w.strip()]
        wanted = set(order)
        unknown = wanted - {r["row"] for r in rows}
        if unknown:
            print(f"bench_learning.py: error: unknown rows: {', '.join(sorted(unknown))} "
                  "(see --list)", file=sys.stderr)
            return 2
        rows = sorted((r for r in rows if r["row"] in wanted), key=lambda r: order.index(r["row"]))
    if args.list:
        for r in rows:
            print(f"{r['row']}: {r['model']} on {r['data']}"
                  + (f" at {r['image_size']}" if r["image_size"] else "")
                  + (f" with {' '.join(r['flags'])}" if r["flags"] else ""))
        return 0
    results = read_results(args.out)
    if args.skip_done:
        rows = [r for r in rows if r["row"] not in results]
    work_dir = args.work_dir or tempfile.mkdtemp(prefix="bench_learning_")
    os.makedirs(work_dir, exist_ok=True)

    def log(line):
        print(line, flush=True)

    try:
        for row in rows:
            result = run_row(row, args.data_root, work_dir, args.timeout, log)
            results[row["row"]] = result
            write_results(args.out, results)
            log(f"[{row['row']}] test accuracy {result.get('test_accuracy', '-')} (majority "
                f"{result['majority_baseline']}), {result.get('epochs', '-')} epochs, "
                f"{result['wall_seconds']} s")
    finally:
        if args.work_dir is None:
            shutil.rmtree(work_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
