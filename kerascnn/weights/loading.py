"""Loading a weight set or a checkpoint file into a built kerascnn model."""

from __future__ import annotations

import os

from kerascnn.weights.core import WeightsError, converter_for, read_state_dict, weight_sets

__all__ = ["CHECKPOINT_SUFFIXES", "is_checkpoint", "load_checkpoint", "source_of", "resolve_weights",
           "allowed_weights", "download", "fetch", "load_weight_set", "check_reachable"]

# Files converted from another framework's layout (keras' own .keras/.weights.h5 load as is).
CHECKPOINT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin", ".zip")


def is_checkpoint(weights) -> bool:
    return isinstance(weights, (str, os.PathLike)) and \
        os.fspath(weights).endswith(CHECKPOINT_SUFFIXES)


def source_of(model_name: str, tag: str | None = None) -> str:
    """The state-dict layout a checkpoint for ``model_name`` has: the given weight set's
    source, else the ``"imagenet"`` set's, else the model's only source."""
    sets = weight_sets(model_name)
    if not sets:
        raise WeightsError(f"{model_name} has no converted weight sets: weights= takes None or "
                           "a .keras/.weights.h5 file of this architecture.")
    if tag is not None:
        return sets[tag].source
    if "imagenet" in sets:
        return sets["imagenet"].source
    sources = sorted({ws.source for ws in sets.values()})
    if len(sources) > 1:
        raise WeightsError(f"{model_name} reads checkpoints of {', '.join(sources)}: "
                           "name the weight set's tag instead of a file.")
    return sources[0]


def load_checkpoint(model, model_name: str, path, *, skip_classifier: bool = False,
                    source: str | None = None) -> None:
    """Converts the checkpoint at ``path`` into ``model`` (every tensor must find its place;
    with ``skip_classifier`` the classifier's tensors are left out)."""
    sd = read_state_dict(path)
    source = source or source_of(model_name)
    converter_for(source)(sd, model, skip_classifier=skip_classifier)
    sd.check_all_used()


# ---------------------------------------------------------------------------------------------
# weights= arguments: what a constructor was given.

KERAS_SUFFIXES = (".keras", ".weights.h5", ".h5")


def allowed_weights(model_name: str) -> str:
    """One phrase listing what ``weights=`` accepts for ``model_name``."""
    tags = sorted(weight_sets(model_name))
    files = "a .safetensors/.pth/.pt/.bin (or .pth.zip) checkpoint or a .keras/.weights.h5 file" if tags \
        else "a .keras/.weights.h5 file of this architecture"
    if not tags:
        return f"None (random initialization) or {files} ({model_name} has no published " \
               "weight sets)"
    return f"None (random initialization), a tag ({', '.join(repr(t) for t in tags)}) or {files}"


def resolve_weights(model_name: str, weights, *, argument: str = "`weights`"):
    """Classifies a ``weights=`` argument: returns ``(kind, value)`` with kind ``None``,
    ``"tag"`` (value: the :class:`WeightSet`), ``"checkpoint"`` or ``"keras"`` (value: the
    path). Anything else is a one-line :class:`WeightsError` naming what is allowed.

    The one reading of a weights value, for the constructors' ``weights=`` and fit.py's
    ``--weights`` alike: ``argument`` names it in the messages.
    """
    from kerascnn.weights.core import WeightSet

    if weights is None:
        return None, None
    if isinstance(weights, WeightSet):
        return "tag", weights
    allowed = f"{model_name} takes {allowed_weights(model_name)}"
    if isinstance(weights, os.PathLike) or (isinstance(weights, str) and (
            os.sep in weights or weights.endswith(CHECKPOINT_SUFFIXES + KERAS_SUFFIXES))):
        path = os.fspath(weights)
        if not path.endswith(CHECKPOINT_SUFFIXES + KERAS_SUFFIXES):
            raise WeightsError(f"{argument} file {path} has an unknown type: {allowed}.")
        if not os.path.exists(path):
            raise WeightsError(f"{argument} file {path} does not exist.")
        return ("checkpoint" if is_checkpoint(path) else "keras"), path
    sets = weight_sets(model_name)
    if isinstance(weights, str) and weights in sets:
        return "tag", sets[weights]
    if weights == "imagenet":
        raise WeightsError(f"This architecture has no ImageNet weights ({model_name}): "
                           f"{argument} must be {allowed_weights(model_name)}.")
    if isinstance(weights, str) and os.path.exists(weights):
        raise WeightsError(f"{argument} file {weights} has an unknown type: {allowed}.")
    raise WeightsError(f"{argument} for {model_name} must be {allowed_weights(model_name)}; "
                       f"got weights={weights!r}.")


# ---------------------------------------------------------------------------------------------
# Downloads: keras.utils.get_file into the Keras cache, never a long hang offline.

CACHE_SUBDIR = os.path.join("models", "kerascnn")
KERAS_CACHE_SUBDIR = "models"  # where keras.applications keeps its own files
CONNECT_TIMEOUT = 2.5
READ_TIMEOUT = 60.0


def keras_home() -> str:
    """The Keras cache directory ``keras.utils.get_file`` writes to: ``$KERAS_HOME`` (read
    now, not at import) or keras' own (``~/.keras``); as keras does, a temporary one where
    that is not writable."""
    base = os.path.expanduser(os.environ.get("KERAS_HOME") or os.path.join("~", ".keras"))
    try:
        os.makedirs(base, exist_ok=True)
    except OSError:
        pass
    if not os.access(base, os.W_OK):
        import tempfile

        base = os.path.join("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir(), ".keras")
    return base


def cache_path(file_name: str, cache_subdir: str = CACHE_SUBDIR) -> str:
    return os.path.join(keras_home(), cache_subdir, file_name)


def _resolve_host(host: str, timeout: float):
    """getaddrinfo in a thread, abandoned after ``timeout`` seconds (it has no timeout of
    its own and can wait tens of seconds for an unreachable DNS server)."""
    import socket
    import threading

    result = {}

    def work():
        try:
            result["addrs"] = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except OSError as e:
            result["error"] = e

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise OSError(f"name resolution of {host} timed out")
    if "error" in result:
        raise OSError(f"cannot resolve {host}: {result['error']}")
    return result["addrs"]


def check_reachable(url: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Raises OSError unless a TCP connection to ``url``'s host (or its proxy) opens
    within ``timeout`` seconds."""
    import socket
    import urllib.request
    from urllib.parse import urlparse

    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https", "ftp"):
        raise OSError(f"unsupported URL scheme {parsed.scheme!r}")
    proxy = urllib.request.getproxies().get(parsed.scheme)
    if proxy and not urllib.request.proxy_bypass(parsed.hostname or ""):
        parsed = urlparse(proxy if "://" in proxy else f"http://{proxy}")
    host = parsed.hostname
    port = parsed.port or {"https": 443, "ftp": 21}.get(parsed.scheme, 80)
    addresses = _resolve_host(host, timeout)
    addresses = sorted(addresses, key=lambda a: a[0] != socket.AF_INET)[:2]  # IPv4 first
    errors = []
    for family, _, _, _, address in addresses:
        try:
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout)
                sock.connect((address[0], port))
            return
        except OSError as e:
            errors.append(f"{address[0]}:{port}: {e.strerror or e}")
    raise OSError("cannot connect to " + "; ".join(errors))


def _hash_matches(path: str, file_hash: str | None) -> bool:
    """Whether the file's md5 (32 hex digits) or sha256 (64) is ``file_hash``."""
    if not file_hash:
        return True
    import hashlib

    digest = hashlib.sha256() if len(file_hash) == 64 else hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest() == file_hash.lower()


def download(url: str, file_name: str, *, file_hash: str | None = None,
             cache_subdir: str = CACHE_SUBDIR) -> str:
    """The local path of ``url``'s file: the Keras cache's copy, else downloaded there once
    with ``keras.utils.get_file`` and checked against ``file_hash`` (md5 or sha256; a file
    already in the cache, downloaded or put there by hand, is not checked again).

    Offline (no connection within a few seconds) or on a failed download: one-line
    :class:`WeightsError` naming the URL and the path where the file can be put by hand.
    A download whose hash does not match is deleted.
    """
    import socket

    import keras

    path = cache_path(file_name, cache_subdir)
    if os.path.exists(path):  # checked when downloaded; a file put there by hand is trusted
        return path
    try:
        check_reachable(url)
    except OSError as e:
        raise WeightsError(f"Cannot download {url} ({e}); put the file at {path} "
                           "(offline use) and call again.") from None
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(READ_TIMEOUT)
    try:
        got = keras.utils.get_file(fname=file_name, origin=url, file_hash=file_hash,
                                   cache_subdir=cache_subdir, cache_dir=keras_home())
    except Exception as e:
        if os.path.exists(path):
            os.remove(path)
        detail = str(e).splitlines()[0] if str(e) else type(e).__name__
        if "hash" in detail.lower():
            raise WeightsError(f"Downloaded {url} does not match its published hash "
                               f"{file_hash}: the file was deleted (a damaged download or a "
                               "changed file; try again).") from None
        raise WeightsError(f"Cannot download {url} ({detail}); put the file at {path} "
                           "(offline use) and call again.") from None
    finally:
        socket.setdefaulttimeout(previous)
    if not _hash_matches(got, file_hash):  # keras leaves a mismatching download in place
        os.remove(got)
        raise WeightsError(f"Downloaded {url} does not match its published hash {file_hash}: "
                           "the file was deleted (a damaged download or a changed file; try "
                           "again).")
    return got


def fetch(ws) -> str:
    """The weight set's file, from the Keras cache or downloaded there once."""
    subdir = KERAS_CACHE_SUBDIR if ws.source.startswith("keras:") else CACHE_SUBDIR
    return download(ws.url, ws.file_name, file_hash=ws.hash, cache_subdir=subdir)


# ---------------------------------------------------------------------------------------------
# Converted weights, cached as keras .weights.h5 files.

_NOT_LOADED_ATTR = "kerascnn_not_loaded"


def layout_key(model, ws) -> str:
    """A short hash of the model's variables (paths and shapes) and of the weight set's
    source and URL: a cached conversion is reused only by the same layout."""
    import hashlib
    import json

    layout = [(w.path, [int(d) for d in w.shape]) for w in model.weights]
    text = json.dumps([layout, ws.source, ws.url])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def converted_path(model, model_name: str, ws, *, include_top: bool, skip_classifier: bool) -> str:
    head = "top" if include_top and not skip_classifier else (
        "newtop" if include_top else "notop")
    name = f"{model_name}-{ws.tag}-{head}-{layout_key(model, ws)}.weights.h5"
    return cache_path(name, os.path.join(CACHE_SUBDIR, "converted"))


def _fingerprints(model) -> dict:
    import numpy as np

    out = {}
    for w in model.weights:
        a = np.asarray(w.numpy(), dtype=np.float64)
        out[w.path] = (float(a.sum()), float(np.abs(a).sum()), float(a.ravel()[0]) if a.size
                       else 0.0)
    return out


def save_converted(model, path: str, not_loaded) -> None:
    """Saves ``model``'s weights at ``path`` (atomically), recording which variables the
    conversion left as initialised (a new classifier): a later load keeps those fresh."""
    import json

    import h5py

    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path[:-len('.weights.h5')]}.{os.getpid()}.tmp.weights.h5"
    try:
        model.save_weights(tmp)
        with h5py.File(tmp, "a") as f:
            f.attrs[_NOT_LOADED_ATTR] = json.dumps(sorted(not_loaded))
        os.replace(tmp, path)
    except OSError:  # a read-only cache: the model is loaded, only the cache is lost
        if os.path.exists(tmp):
            os.remove(tmp)


def load_converted(model, path: str) -> None:
    """Loads a cached conversion; the variables it did not load stay as the model has them."""
    import json

    import h5py

    with h5py.File(path, "r") as f:
        not_loaded = set(json.loads(f.attrs.get(_NOT_LOADED_ATTR, "[]")))
    keep = {w.path: w.numpy() for w in model.weights if w.path in not_loaded}
    model.load_weights(path)
    for w in model.weights:
        if w.path in keep:
            w.assign(keep[w.path])


def load_weight_set(model, model_name: str, ws, *, include_top: bool, classes,
                    convert=None) -> str:
    """Loads the weight set ``ws`` into ``model`` (built with random weights), through the
    converted cache; returns the path of the cached ``.weights.h5``.

    Args:
        include_top, classes: the model's; without the top, or with another number of
            classes than the set's, everything but the classifier is loaded.
        convert: ``convert(model, skip_classifier)`` for sources no converter reads
            (keras' own files, loaded through the keras twin); default: download the
            file and convert it with the source's converter.
    """
    skip = not include_top or classes != ws.classes
    cached = converted_path(model, model_name, ws, include_top=include_top,
                            skip_classifier=skip)
    if os.path.exists(cached):
        try:
            load_converted(model, cached)
            return cached
        except Exception:  # a damaged cache entry: convert again
            os.remove(cached)
    before = _fingerprints(model) if skip else None
    if convert is not None:
        convert(model, skip)
    else:
        load_checkpoint(model, model_name, fetch(ws), skip_classifier=skip, source=ws.source)
    not_loaded = []
    if skip:
        after = _fingerprints(model)
        not_loaded = [p for p, f in after.items() if before[p] == f]
    save_converted(model, cached, not_loaded)
    return cached


def source_file(ws, *, top: bool = True) -> tuple[str, str, str | None, str]:
    """``(url, file name, hash, cache subdir)`` of the file a load of ``ws`` reads: keras'
    own files come with and without the top (``top=False``: keras' ``_notop`` file)."""
    if ws.source.startswith("keras:"):
        from kerascnn.weights.keras_twins import KERAS_FILES

        name = ws.file_name
        if not top:
            name = name.replace("_tf.h5", "_tf_no_top.h5") if name.startswith("mobilenet") \
                else name.replace(".h5", "_notop.h5")
        url, file_hash = KERAS_FILES.get(name, (ws.url, ws.hash))
        return url, name, file_hash, KERAS_CACHE_SUBDIR
    return ws.url, ws.file_name, ws.hash, CACHE_SUBDIR


def check_available(model_name: str, ws, *, top: bool = True) -> None:
    """Fails fast, before a model is built, when a tag can be neither read from the cache
    nor downloaded: one line naming the URL and the path to put the file at."""
    import glob

    converted = glob.glob(cache_path(f"{model_name}-{ws.tag}-*.weights.h5",
                                     os.path.join(CACHE_SUBDIR, "converted")))
    url, name, _, subdir = source_file(ws, top=top)
    path = cache_path(name, subdir)
    if converted or os.path.exists(path):
        return
    try:
        check_reachable(url)
    except OSError as e:
        raise WeightsError(f"Cannot download {url} ({e}); put the file at {path} "
                           "(offline use) and call again.") from None
