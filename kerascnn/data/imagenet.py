"""ImageNet-style validation data for a pretrained weight set: what evaluate.py's
``--model NAME --weights TAG --data DIR`` reads.

Two layouts are recognised (everything is checked before any image is decoded):

* **one folder per WordNet id**: ``DIR/n01440764/*.JPEG`` ... (torchvision's
  ``ImageFolder`` layout of the validation set); every folder must be one of the 1,000
  ImageNet-1k ids, the label is the id's index in the sorted list
  (:func:`kerascnn.preprocessing.imagenet_classes`);
* **a flat folder** of ``ILSVRC2012_val_*.JPEG`` with a ground-truth file
  (``--ground-truth FILE``, or one of :data:`GROUND_TRUTH_NAMES` in the folder): Kaggle's
  ``LOC_val_solution.csv`` (``ImageId,PredictionString``, the WordNet id first), or a text
  file of ``FILE LABEL`` lines, the label a WordNet id or a 0-999 index in the sorted order
  (Caffe's ``val.txt``). The devkit's ``ILSVRC2012_validation_ground_truth.txt`` (one
  ILSVRC2012_ID per line, in the devkit's own class order) is refused with that reason.
  Every image must have a label; labels of images that are not there are ignored (a subset
  of the 50,000).

Images are decoded and transformed (:mod:`kerascnn.weights.transform`: PIL and numpy only)
in worker processes, a few batches ahead of the network, in order (:func:`batches`).
"""

from __future__ import annotations

import collections
import csv
import math
import os
import re

import numpy as np

from kerascnn.data.sources import DataError

__all__ = ["GROUND_TRUTH_NAMES", "IMAGE_SUFFIXES", "find_validation", "read_ground_truth",
           "wilson_interval", "batches"]

IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm")
GROUND_TRUTH_NAMES = ("LOC_val_solution.csv", "val.txt", "ground_truth.txt")
_WNID = re.compile(r"^n\d{8}$")


def _wnid_index() -> dict:
    from kerascnn.preprocessing import imagenet_classes

    return {wnid: i for i, (wnid, _) in enumerate(imagenet_classes())}


def _images_in(folder) -> list:
    return sorted(os.path.join(folder, n) for n in os.listdir(folder)
                  if n.lower().endswith(IMAGE_SUFFIXES) and not n.startswith(".")
                  and os.path.isfile(os.path.join(folder, n)))


def _short(names, count=5) -> str:
    names = list(names)
    return ", ".join(names[:count]) + (f" and {len(names) - count} more" if len(names) > count
                                       else "")


def read_ground_truth(path, index=None) -> dict:
    """``{file name: label}`` of a ground-truth file (see the module's formats)."""
    index = index or _wnid_index()
    try:
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read the ground-truth file {path}: "
                        f"{getattr(e, 'strerror', None) or type(e).__name__}") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise DataError(f"the ground-truth file {path} is empty")
    labels = {}
    if lines[0].replace(" ", "").lower().startswith("imageid,predictionstring"):
        for row in list(csv.reader(lines))[1:]:
            wnid = row[1].split()[0] if len(row) > 1 and row[1].split() else ""
            if wnid not in index:
                raise DataError(f"{path}: image {row[0] if row else '?'} has the label "
                                f"{wnid!r}, not an ImageNet-1k WordNet id")
            labels[row[0]] = index[wnid]
        return labels
    if all(line.strip().isdigit() for line in lines[:20]):
        raise DataError(f"{path} holds one number a line: the devkit's ILSVRC2012_ID "
                        "labels, whose class order is not the WordNet-sorted one; give "
                        "Kaggle's LOC_val_solution.csv or a 'FILE WNID' list instead")
    for number, line in enumerate(lines, start=1):
        parts = line.split()
        if len(parts) != 2:
            raise DataError(f"{path} line {number}: expected 'FILE LABEL' (a WordNet id or "
                            f"a 0-999 index), got {line.strip()[:80]!r}")
        name, label = parts
        if label in index:
            labels[name] = index[label]
        elif label.isdigit() and int(label) < 1000:
            labels[name] = int(label)
        else:
            raise DataError(f"{path} line {number}: the label {label!r} is neither an "
                            "ImageNet-1k WordNet id nor an index 0-999")
    return labels


def _strip(name: str) -> str:
    return os.path.splitext(os.path.basename(name))[0]


def find_validation(data_dir, ground_truth=None, limit=None) -> tuple[list, list, str]:
    """``(paths, labels, layout)`` of an ImageNet-style validation folder, checked whole
    before anything is decoded; ``limit``: the first N images (sorted). One-line
    :class:`~kerascnn.data.sources.DataError` for a missing or empty folder, unknown
    WordNet ids or a ground-truth file that does not match the images."""
    data_dir = os.fspath(data_dir)
    if not os.path.isdir(data_dir):
        raise DataError(f"--data {data_dir} is not a folder")
    index = _wnid_index()
    folders = sorted(n for n in os.listdir(data_dir)
                     if os.path.isdir(os.path.join(data_dir, n)) and not n.startswith("."))
    flat = _images_in(data_dir)
    paths, labels = [], []
    if folders and not flat:
        unknown = [n for n in folders if n not in index]
        if unknown:
            raise DataError(f"--data {data_dir}: {len(unknown)} of its {len(folders)} folders "
                            f"are not ImageNet-1k WordNet ids: {_short(unknown)}")
        for name in folders:
            found = _images_in(os.path.join(data_dir, name))
            paths += found
            labels += [index[name]] * len(found)
        layout = "wnid folders"
    elif flat:
        path = ground_truth or next((os.path.join(data_dir, n) for n in GROUND_TRUTH_NAMES
                                     if os.path.isfile(os.path.join(data_dir, n))), None)
        if path is None:
            raise DataError(f"--data {data_dir} is a flat folder of {len(flat)} images: it "
                            "needs --ground-truth FILE (Kaggle's LOC_val_solution.csv or "
                            "'FILE WNID' lines)")
        truth = {_strip(k): v for k, v in read_ground_truth(path, index).items()}
        missing = [os.path.basename(p) for p in flat if _strip(p) not in truth]
        if missing:
            raise DataError(f"the ground-truth file {path} does not match --data {data_dir}: "
                            f"no label for {len(missing)} of its {len(flat)} images "
                            f"({_short(missing, 3)})")
        paths = flat
        labels = [truth[_strip(p)] for p in flat]
        layout = "flat folder + ground truth"
    else:
        raise DataError(f"--data {data_dir} holds no images (one folder per WordNet id, or "
                        "ILSVRC2012_val_*.JPEG with a ground-truth file, are expected)")
    if not paths:
        raise DataError(f"--data {data_dir}: its WordNet-id folders hold no images")
    if limit is not None:
        paths, labels = paths[:limit], labels[:limit]
    return paths, labels, layout


def wilson_interval(correct: int, total: int, z: float = 1.959964) -> tuple[float, float]:
    """The 95 % Wilson score interval of an accuracy ``correct / total`` (as fractions)."""
    if total <= 0:
        return 0.0, 1.0
    p = correct / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def batches(paths, labels, ws, batch_size: int, workers: int):
    """Yields ``(x, y, errors)`` (:func:`kerascnn.weights.transform.load_batch`) in order,
    decoded by ``workers`` processes (0: in this one) at most ``2 * workers`` batches
    ahead. The worker processes are started fresh (``spawn``): they import PIL, numpy
    and the transform only, never the network's framework."""
    from kerascnn.weights.transform import load_batch

    chunks = [(paths[i:i + batch_size], labels[i:i + batch_size])
              for i in range(0, len(paths), batch_size)]
    if workers <= 0:
        for p, y in chunks:
            yield load_batch(p, y, ws)
        return
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        pending = collections.deque()
        ahead = max(2, 2 * workers)
        for p, y in chunks:
            pending.append(pool.apply_async(load_batch, (p, y, ws)))
            if len(pending) >= ahead:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def top_k_correct(logits, labels, k: int) -> int:
    """How many rows of ``logits`` hold their label among their ``k`` largest."""
    logits = np.asarray(logits)
    top = np.argpartition(-logits, kth=min(k, logits.shape[1]) - 1, axis=1)[:, :k]
    return int(np.sum(np.any(top == np.asarray(labels)[:, None], axis=1)))


def validate(model, paths, labels, ws, *, batch_size=32, workers=2, on_error=None,
             progress=True) -> dict:
    """Top-1 and top-5 of ``model`` (logits or probabilities over 1,000 classes) on the
    images, made by the weight set's transform in ``workers`` processes.

    Returns a dict: ``images`` (scored), ``unreadable``, ``top1``/``top5`` (percent) with
    their 95 % Wilson intervals ``top1_interval``/``top5_interval``, and the timing:
    ``seconds`` (wall), ``model_seconds`` (the network alone), ``wait_seconds`` (waiting
    for the loader), ``images_per_second`` (end to end) and ``model_images_per_second``.
    ``on_error`` is given one line per unreadable file (the others go on).
    """
    import time

    import keras

    bar = keras.utils.Progbar(len(paths), unit_name="image",
                              stateful_metrics=["images/s", "top1"]) if progress else None
    seen = correct1 = correct5 = unreadable = done = 0
    model_time = wait_time = 0.0
    start = time.perf_counter()
    stream = batches(paths, labels, ws, batch_size, workers)
    while True:
        t0 = time.perf_counter()
        try:
            x, y, errors = next(stream)
        except StopIteration:
            break
        wait_time += time.perf_counter() - t0
        for line in errors:
            unreadable += 1
            if on_error is not None:
                on_error(line)
        if len(x):
            t1 = time.perf_counter()
            logits = model.predict_on_batch(x)
            logits = logits[0] if isinstance(logits, (list, tuple)) else logits
            logits = np.asarray(keras.ops.convert_to_numpy(logits))
            model_time += time.perf_counter() - t1
            correct1 += top_k_correct(logits, y, 1)
            correct5 += top_k_correct(logits, y, 5)
            seen += len(y)
        done += len(x) + len(errors)
        if bar is not None:
            rate = done / max(time.perf_counter() - start, 1e-9)
            bar.update(done, values=[("images/s", round(rate, 1)),
                                     ("top1", round(100 * correct1 / max(seen, 1), 2))])
    seconds = time.perf_counter() - start
    top1_low, top1_high = wilson_interval(correct1, seen)
    top5_low, top5_high = wilson_interval(correct5, seen)
    return {"images": seen, "unreadable": unreadable,
            "top1": 100 * correct1 / max(seen, 1), "top5": 100 * correct5 / max(seen, 1),
            "top1_interval": (100 * top1_low, 100 * top1_high),
            "top5_interval": (100 * top5_low, 100 * top5_high),
            "seconds": seconds, "model_seconds": model_time, "wait_seconds": wait_time,
            "images_per_second": seen / max(seconds, 1e-9),
            "model_images_per_second": seen / max(model_time, 1e-9)}


RESULT_COLUMNS = ("date", "model", "weights", "images", "unreadable", "top1", "top1_low",
                  "top1_high", "top5", "top5_low", "top5_high", "published_top1",
                  "published_top5", "top1_difference", "top5_difference", "transform",
                  "backend", "layout")


def check_results_csv(path) -> None:
    """Refuses (one line) a ``--results-csv`` that cannot take a row: a folder, a file with
    other columns, an unwritable folder. Called before any work."""
    if os.path.isdir(path):
        raise DataError(f"--results-csv {path} is a folder; give a file name")
    if os.path.exists(path):
        try:
            with open(path, encoding="utf-8", newline="") as f:
                header = next(csv.reader(f), None)
        except (OSError, UnicodeDecodeError) as e:
            raise DataError(f"--results-csv {path} is unreadable "
                            f"({getattr(e, 'strerror', None) or type(e).__name__})") from None
        if header is not None and tuple(header) != RESULT_COLUMNS:
            raise DataError(f"--results-csv {path} has other columns ({_short(header, 4)}); "
                            f"a results file has {', '.join(RESULT_COLUMNS)}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK | os.X_OK):
        raise DataError(f"--results-csv {path}: the folder {folder} does not exist or is not "
                        "writable")


def result_row(name, weights, ws, result, layout, backend, date) -> dict:
    """The results-CSV row of a :func:`validate` result (percent, 3 decimals)."""
    def pct(v):
        return "" if v is None else f"{v:.3f}"

    return {"date": date, "model": name, "weights": weights, "images": result["images"],
            "unreadable": result["unreadable"], "top1": pct(result["top1"]),
            "top1_low": pct(result["top1_interval"][0]),
            "top1_high": pct(result["top1_interval"][1]), "top5": pct(result["top5"]),
            "top5_low": pct(result["top5_interval"][0]),
            "top5_high": pct(result["top5_interval"][1]),
            "published_top1": pct(ws.top1), "published_top5": pct(ws.top5),
            "top1_difference": "" if ws.top1 is None else pct(result["top1"] - ws.top1),
            "top5_difference": "" if ws.top5 is None else pct(result["top5"] - ws.top5),
            "transform": ws.transform, "backend": backend, "layout": layout}


def append_result(path, row: dict) -> None:
    """Appends ``row`` to the results CSV at ``path`` (with its header when new), writing
    the whole file anew and replacing it atomically."""
    import io

    from kerascnn.utils.io import atomic_write

    old = ""
    if os.path.exists(path):
        with open(path, encoding="utf-8", newline="") as f:
            old = f.read()
        if old and not old.endswith("\n"):
            old += "\n"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=RESULT_COLUMNS, lineterminator="\n")
    if not old:
        writer.writeheader()
    writer.writerow(row)
    atomic_write(path, old + out.getvalue())
