"""The run directory as a resource: ownership marker, exclusive lock, leftovers, space.

* :data:`MARKER` (``.kerascnn-run``) is written into every run directory fit.py
  starts; ``--overwrite`` deletes files only in a directory that it (or the
  ``run_config.json`` of an older kerascnn) proves is a kerascnn run.
* :class:`RunLock` (``.kerascnn-run.lock``, holding the pid, host and start
  time) makes one fit.py at a time own a directory; the lock of a dead process
  on this host is taken over with a message.
* :func:`clean_stale` removes the temporary files a killed run left.
* :func:`check_same_data`: a checkpoint continues only on the data its run was
  trained on (the fingerprint in ``run_config.json``).
* :class:`DiskFull`: a write that failed for lack of space, with one line naming
  the path and the space needed.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import json
import os
import shutil
import socket
import sys
import time
import warnings

from kerascnn.data.fingerprint import compare
from kerascnn.training.errors import ConfigError
from kerascnn.utils.io import is_marked_directory

__all__ = ["MARKER", "LOCK", "RunLock", "is_run_directory", "clean_stale", "DiskFull",
           "release_failed_writes", "quiet_failed_flushes",
           "is_disk_full", "write_marker", "check_same_data"]

MARKER = ".kerascnn-run"
LOCK = ".kerascnn-run.lock"


class DiskFull(RuntimeError):
    """A file could not be written for lack of space (one-line message)."""


def is_disk_full(error: BaseException) -> bool:
    """Whether ``error`` (an OSError, or h5py's wrapping of one) means "no space left"."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(error)
    return "No space left" in text or "errno = 28" in text or "Disk quota" in text


@contextlib.contextmanager
def quiet_failed_flushes():
    """Within: an object whose deallocation fails for lack of space is not reported.

    An HDF5 file whose write failed on a full disk retries its flush when it is deallocated
    and prints a traceback, inside keras' save or later when the garbage collector reaches
    it, next to the one line the run prints about the full disk. Any other unraisable
    exception is reported as usual."""
    previous, previous_print = sys.unraisablehook, sys.excepthook

    def hook(unraisable):
        if not is_disk_full(unraisable.exc_value):
            previous(unraisable)

    def print_hook(kind, value, traceback):  # h5py's Cython prints through excepthook first
        if not is_disk_full(value):
            previous_print(kind, value, traceback)

    sys.unraisablehook, sys.excepthook = hook, print_hook
    try:
        yield
    finally:
        sys.unraisablehook, sys.excepthook = previous, previous_print


def release_failed_writes(error: BaseException) -> None:
    """Frees now the files a write that failed for lack of space left open: drops the
    tracebacks of ``error`` and of the exceptions chained to it (their frames hold the
    files) and collects them, quietly (:func:`quiet_failed_flushes`)."""
    import gc

    with quiet_failed_flushes():  # dropping a traceback may free a file at once
        pending, seen = [error], set()
        while pending:
            e = pending.pop()
            if e is None or id(e) in seen:
                continue
            seen.add(id(e))
            e.__traceback__ = None
            pending += [e.__context__, e.__cause__]
        gc.collect()


def is_run_directory(path) -> bool:
    """Whether ``path`` holds our marker, or the run_config.json of an older kerascnn run."""
    return is_marked_directory(path, MARKER, "run_config.json", ("model", "dataset", "seed"))


def write_marker(run_dir) -> None:
    path = os.path.join(run_dir, MARKER)
    if not os.path.exists(path):
        with open(path, "w", encoding="utf-8") as f:
            f.write("a kerascnn fit.py run directory\n")


def check_same_data(run_dir, fingerprint: dict, source) -> None:
    """Refuses to continue the run in ``run_dir`` on data other than those its
    ``run_config.json`` records (:mod:`kerascnn.data.fingerprint`), naming what changed;
    warns about data files rewritten with the same content. A run_config.json without a
    fingerprint (unreadable, or of an older kerascnn) is not checked."""
    try:
        with open(os.path.join(run_dir, "run_config.json"), encoding="utf-8") as f:
            saved = json.load(f)
    except (OSError, ValueError):
        return
    saved = saved.get("data") if isinstance(saved, dict) else None
    if not isinstance(saved, dict):
        return
    changes, rewritten = compare(saved, fingerprint)
    if changes:
        raise ConfigError(
            f"{source}: the data differ from those the run in {run_dir} was trained on "
            f"({'; '.join(changes)}); its checkpoint cannot continue on other data: restore "
            "them, or start over with --overwrite or another --output-dir.")
    for name in rewritten:
        warnings.warn(f"{name} was modified since the run began; its split sizes, labels and "
                      "sampled images are the same: resuming.", stacklevel=2)


def clean_stale(run_dir) -> list[str]:
    """Removes the temporary files and checkpoint directories a killed run left
    (``checkpoints/.tmp-epoch-*``, ``.NAME.*.tmp*`` beside the files); returns them."""
    removed = []
    patterns = [os.path.join(glob.escape(run_dir), "checkpoints", ".tmp-epoch-*"),
                os.path.join(glob.escape(run_dir), ".*.tmp*")]
    for pattern in patterns:
        for path in glob.glob(pattern):
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """An exclusive lock on a run directory (a lock file created with O_EXCL)."""

    def __init__(self, run_dir):
        self.path = os.path.join(run_dir, LOCK)
        self.held = False
        self.created = False  # the directory did not exist: removed again if left empty

    def _holder(self):
        try:
            with open(self.path, encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def check(self) -> None:
        """Raises the refusal at once when a live process holds the lock (no waiting, no
        import of Keras: the command line calls it first)."""
        holder = self._holder()
        if holder is None:
            return
        if holder.get("host") == socket.gethostname() and not _alive(int(holder.get("pid", -1))):
            return  # stale: acquire() takes it over
        raise self._refusal(holder)

    def _refusal(self, holder) -> ConfigError:
        return ConfigError(
            f"--output-dir {os.path.dirname(self.path)} is in use by process "
            f"{holder.get('pid')} on {holder.get('host')} (since {holder.get('started')}); "
            "wait for it to finish or choose another directory.")

    def acquire(self) -> RunLock:
        directory = os.path.dirname(self.path)
        self.created = not os.path.exists(directory)
        os.makedirs(directory, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname(),
              "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder is None:  # being written, or damaged: look again
                    time.sleep(0.2)
                    holder = self._holder()
                if holder is None or (holder.get("host") == me["host"]
                                      and not _alive(int(holder.get("pid", -1)))):
                    who = f"process {holder['pid']}" if holder else "an unknown process"
                    print(f"fit.py: taking over the stale lock of {who}, which is no "
                          f"longer running ({self.path}).", file=sys.stderr)
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(self.path)
                    continue
                raise self._refusal(holder) from None
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(me, f)
            self.held = True
            return self
        raise ConfigError(f"Cannot take the lock {self.path}: it keeps changing.")

    def release(self) -> None:
        """Removes the lock file, and the directory when this lock created it and nothing
        else was written there (a refused start leaves no trace)."""
        if self.held:
            holder = self._holder()
            if holder is None or holder.get("pid") == os.getpid():
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path)
            self.held = False
            if self.created:
                with contextlib.suppress(OSError):  # not empty: something was written
                    os.rmdir(os.path.dirname(self.path))

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
