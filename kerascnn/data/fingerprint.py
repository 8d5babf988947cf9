"""A data set's fingerprint: what a resumed run checks to continue on the same data.

Cheap by design: the split sizes, the class count and image shape, a SHA-256 of each
split's labels and of a fixed sample of its images (:data:`SAMPLE` images at evenly
spaced indices, not every pixel of a big set), and the size and modification time of
the files read. A streamed TFDS set gives its name, split sizes and TFDS version.

:func:`compare` tells content that differs (the run must not continue on it) from
files that were only rewritten (sizes, labels and sampled images the same).
"""

from __future__ import annotations

import hashlib
import os

import numpy as np

__all__ = ["SAMPLE", "fingerprint", "compare"]

SAMPLE = 64  # images hashed per split
_MAX_FILES = 32  # files of a data folder whose size and mtime are kept


def _sha256(*arrays) -> str:
    digest = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        digest.update(str((a.dtype.str, a.shape)).encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def _sample(n: int) -> np.ndarray:
    return np.unique(np.linspace(0, n - 1, min(n, SAMPLE)).round().astype(np.int64)) if n else \
        np.zeros(0, np.int64)


def _files(location) -> dict:
    """``{name: {"size", "mtime_ns"}}`` of the file ``location``, or of the files directly
    inside the folder ``location`` (the first :data:`_MAX_FILES` by name)."""
    if location is None or not os.path.exists(location):
        return {}
    if os.path.isfile(location):
        paths = [location]
    else:
        with os.scandir(location) as entries:
            paths = sorted(e.path for e in entries if e.is_file())[:_MAX_FILES]
    out = {}
    for path in paths:
        st = os.stat(path)
        out[os.path.basename(path)] = {"size": int(st.st_size), "mtime_ns": int(st.st_mtime_ns)}
    return out


def fingerprint(data, location=None) -> dict:
    """The fingerprint of ``data`` (a :class:`kerascnn.data.Data`), JSON-ready.

    Args:
        location: the file or folder it was read from (its files' sizes and mtimes are
            kept), or None.
    """
    info = data.info
    out = {"name": info.name, "kind": info.kind, "classes": info.num_classes,
           "image_shape": list(info.image_shape), "splits": dict(info.split_sizes)}
    if not data.in_memory:
        out["tfds_version"] = info.version
        return out
    out["labels_sha256"] = {s: _sha256(y) for s, (_, y) in data.arrays.items()}
    out["images_sha256"] = {s: _sha256(x[_sample(len(x))]) for s, (x, _) in data.arrays.items()}
    out["files"] = _files(location)
    return out


def _split_changes(before: dict, now: dict) -> list[str]:
    changes = []
    sizes0, sizes1 = before.get("splits", {}), now.get("splits", {})
    order = {"train": 0, "val": 1, "test": 2}
    for split in sorted(dict.fromkeys([*sizes0, *sizes1]), key=lambda s: (order.get(s, 3), s)):
        if split not in sizes1 or split not in sizes0:
            changes.append(f"{split}: {'no longer there' if split in sizes0 else 'new'}")
        elif sizes0[split] != sizes1[split]:
            changes.append(f"{split}: {sizes0[split]} -> {sizes1[split]} images")
        else:
            what = [f"other {k}" for k in ("labels", "images")
                    if before.get(f"{k}_sha256", {}).get(split)
                    != now.get(f"{k}_sha256", {}).get(split)]
            if what:
                changes.append(f"{split}: {', '.join(what)}")
    return changes


def compare(before: dict, now: dict) -> tuple[list[str], list[str]]:
    """``(changes, rewritten)``: what differs in the content (one phrase each), and the
    files whose size or mtime changed while the content checked is the same."""
    changes = []
    if before.get("name") != now.get("name") or before.get("kind") != now.get("kind"):
        changes.append(f"data set {before.get('name')!r} -> {now.get('name')!r}")
    if before.get("classes") != now.get("classes"):
        changes.append(f"{before.get('classes')} -> {now.get('classes')} classes")
    if before.get("image_shape") != now.get("image_shape"):
        shape = ["x".join("?" if d is None else str(d) for d in s or ())
                 for s in (before.get("image_shape"), now.get("image_shape"))]
        changes.append(f"images {shape[0]} -> {shape[1]}")
    if before.get("tfds_version") != now.get("tfds_version"):
        changes.append(f"TFDS version {before.get('tfds_version')} -> {now.get('tfds_version')}")
    changes += _split_changes(before, now)
    files0, files1 = before.get("files", {}), now.get("files", {})
    rewritten = [name for name in files0 if name in files1 and files0[name] != files1[name]]
    return changes, rewritten
