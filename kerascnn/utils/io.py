"""Atomic file writes: a file is either absent or complete, never half-written."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile

__all__ = ["atomic_write", "write_json_atomic", "atomic_path", "is_marked_directory"]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path beside ``path``; renames it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is untouched. The
    file gets the permissions ``open`` gives a new file under the user's umask.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    base, ext = os.path.splitext(os.path.basename(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=f".tmp{ext}", dir=directory)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 -> what open() would have made
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write(path, text: str, encoding: str = "utf-8") -> None:
    """Writes ``text`` to ``path`` atomically (temp file + rename)."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding=encoding) as f:
            f.write(text)


def write_json_atomic(path, obj) -> None:
    """Writes ``obj`` as indented JSON to ``path`` atomically."""
    atomic_write(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def is_marked_directory(path, marker: str, legacy_file: str, legacy_keys) -> bool:
    """Whether ``path`` holds the ``marker`` file kerascnn writes into what it owns, or
    (written before the markers) a JSON ``legacy_file`` holding ``legacy_keys``."""
    if os.path.isfile(os.path.join(path, marker)):
        return True
    try:
        with open(os.path.join(path, legacy_file), encoding="utf-8") as f:
            saved = json.load(f)
    except (OSError, ValueError):
        return False
    return isinstance(saved, dict) and set(legacy_keys) <= set(saved)
