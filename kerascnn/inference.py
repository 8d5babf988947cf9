"""Run a trained model on image files: what scripts/predict.py does.

    from kerascnn.inference import load_trained, predict_files
    model = load_trained("runs/r/best.keras")          # or the run directory
    results, unreadable = predict_files(model, ["photo.jpg", "more_photos/"], top_k=3)

A model saved by fit.py or tune.py takes raw images and holds its preprocessing,
so images are only decoded here: to the channels of the model's input, and, for
a model with a fixed input size, resized to it with the largest central crop of
that aspect (``keras.layers.Resizing(crop_to_aspect_ratio=True)``, as the saved
resizing models do). A model whose input is ``(None, None, C)`` resizes by
itself and gets each image as it is. Class names come from the model's
``preprocess_info`` layer; without it a class is named ``class I``.

Only regular files are read (a FIFO, a device or a socket is refused without being
opened for long), and an image's pixel count is read from its header before it is
decoded: one over ``max_pixels`` (PIL's own limit by default) is refused, as is a
file larger than an image within that limit can be. Each refusal is one line.
"""

from __future__ import annotations

import json
import os
import stat
import threading

import numpy as np

__all__ = ["IMAGE_EXTENSIONS", "MAX_PIXELS", "InferenceError", "load_trained", "model_file",
           "run_model_name", "class_names_of", "list_images", "read_image", "max_file_bytes",
           "to_channels", "predict_images", "predict_files", "top_k"]

# What a folder is searched for (a file named on the command line is tried whatever it is).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp")
# The most pixels an image may have: PIL's Image.MAX_IMAGE_PIXELS (a 3-channel float32
# copy of such an image is 1 GiB).
MAX_PIXELS = 89_478_485
_FORMATS = ("PNG", "JPEG", "GIF", "BMP")


class InferenceError(ValueError):
    """A model or input that cannot be used (one-line message)."""


def run_model_name(metrics_path, name):
    """``name`` (a run's metrics.json ``model_file``) if it is a plain file name, which
    stays inside the run directory; a path elsewhere is refused in one line."""
    if name is None:
        return None
    plain = isinstance(name, str) and name not in ("", ".", "..") and \
        os.path.basename(name) == name and not (os.altsep and os.altsep in name)
    if not plain:
        raise InferenceError(f"{metrics_path} names the model file {name!r}, not a file name "
                             "inside the run directory; give the model file itself "
                             "(--model-path FILE.keras)")
    return name


def model_file(path) -> str:
    """The model file of ``path``: the file itself, or in a run directory the model its
    metrics.json describes (``model_file``: a file name inside the directory, anything
    else is refused), else ``best.keras``, else ``model.keras``."""
    path = os.fspath(path)
    if not os.path.isdir(path):
        if not os.path.isfile(path):
            raise InferenceError(f"no model file {path}")
        return path
    metrics_path = os.path.join(path, "metrics.json")
    if os.path.isfile(metrics_path):
        try:
            with open(metrics_path, encoding="utf-8") as f:
                name = json.load(f).get("model_file")
        except (OSError, ValueError, AttributeError):
            name = None
        name = run_model_name(metrics_path, name)
        if name is not None and os.path.isfile(os.path.join(path, name)):
            return os.path.join(path, name)
    for name in ("best.keras", "model.keras"):
        if os.path.isfile(os.path.join(path, name)):
            return os.path.join(path, name)
    raise InferenceError(f"{path} holds no best.keras or model.keras (a fit.py run directory "
                         "or a .keras file is expected)")


def load_trained(path):
    """Loads a ``.keras`` model (or a run directory's) for inference; one-line errors."""
    import keras

    import kerascnn.layers  # noqa: F401  (registers kerascnn's layers)

    path = model_file(path)
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as e:  # noqa: BLE001  (zip, h5 and deserialization errors alike)
        first = str(e).splitlines()[0][:160] if str(e) else "unreadable"
        raise InferenceError(f"cannot load {path}: {type(e).__name__}: {first} (a truncated "
                             "or foreign file?)") from None


def class_names_of(model) -> list:
    """The model's class names (its ``preprocess_info`` layer), ``class I`` where missing."""
    units = int(_main_output(model).shape[-1])
    names = []
    try:
        names = list(model.get_layer("preprocess_info").class_names)
    except ValueError:
        pass
    return [names[i] if i < len(names) and names[i] else f"class {i}" for i in range(units)]


def _main_output(model):
    return model.outputs[0]


def list_images(paths) -> list:
    """Files named in ``paths``, folders walked recursively (image extensions only),
    in sorted order; a path that does not exist is kept (reading it fails)."""
    files = []
    for path in paths:
        path = os.fspath(path)
        if os.path.isdir(path):
            found = []
            for root, dirs, names in os.walk(path):
                dirs.sort()
                found.extend(os.path.join(root, n) for n in names
                             if n.lower().endswith(IMAGE_EXTENSIONS) and not n.startswith("."))
            files.extend(sorted(found))
        else:
            files.append(path)
    return files


def _input_spec(model):
    shape = tuple(model.inputs[0].shape[1:])
    if len(shape) != 3 or shape[-1] not in (1, 3, 4):
        raise InferenceError(f"the model's input is {shape}; image models take (H, W, C) with "
                             "C 1, 3 or 4")
    return shape


def max_file_bytes(max_pixels=MAX_PIXELS) -> int:
    """The largest file read as an image of at most ``max_pixels``: 8 bytes a pixel (a
    16-bit RGBA PNG stored uncompressed) and 64 MiB for what else a file holds."""
    return 8 * int(max_pixels) + (64 << 20)


_NOT_REGULAR = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
                (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
                (stat.S_ISDIR, "a folder"))


def _check_regular(path, mode) -> None:
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _NOT_REGULAR if test(mode)), "not a file")
    if os.path.islink(path):
        kind += f" ({os.path.realpath(path)})"
    raise InferenceError(f"cannot read {path}: {kind}, not a regular file")


def _read_bytes(path, max_pixels) -> bytes:
    """The file's bytes: a regular file (after links) of at most :func:`max_file_bytes`;
    opened without blocking, so a FIFO put in its place meanwhile cannot hang the read."""
    limit = max_file_bytes(max_pixels)
    try:
        _check_regular(path, os.stat(path).st_mode)
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
        fd = os.open(path, flags)
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(f.fileno())
            _check_regular(path, info.st_mode)
            size = info.st_size
            data = f.read(limit + 1) if size <= limit else b""
    except OSError as e:
        raise InferenceError(f"cannot read {path}: {e.strerror or type(e).__name__}") from None
    if size > limit or len(data) > limit:
        raise InferenceError(f"cannot read {path}: {max(size, len(data))} bytes, more than an "
                             f"image within the limit of {max_pixels} pixels takes ({limit} "
                             "bytes; --max-pixels raises it)")
    return data


_PIL_LIMIT_LOCK = threading.Lock()


def _header_size(path, data, max_pixels) -> tuple:
    """(width, height) from the image's header (PIL reads no pixels for it), checked
    against ``max_pixels``; PIL's own limit is set aside: ``max_pixels`` is the limit here."""
    import io
    import warnings

    from PIL import Image, UnidentifiedImageError

    with _PIL_LIMIT_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        pil_limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            with Image.open(io.BytesIO(data), formats=_FORMATS) as image:
                width, height = image.size
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
            raise InferenceError(f"cannot read {path}: not a PNG, JPEG, GIF or BMP "
                                 "image") from None
        finally:
            Image.MAX_IMAGE_PIXELS = pil_limit
    if width * height > max_pixels:
        raise InferenceError(f"cannot read {path}: {width}x{height} pixels ({width * height}), "
                             f"over the limit of {max_pixels} (--max-pixels raises it)")
    return width, height


def _decode(path, data, width, height) -> np.ndarray:
    """The image's first frame as float32 0-255 in its own channels: 1 (grey), 2 (grey +
    alpha), 3 (RGB) or 4 (RGBA); palette images give RGB, or RGBA when they have
    transparency. Decoded with PIL, so no TensorFlow is needed."""
    import io
    import warnings

    from PIL import Image

    try:
        with _PIL_LIMIT_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            pil_limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
            try:
                with Image.open(io.BytesIO(data), formats=_FORMATS) as image:
                    image.seek(0)
                    mode = image.mode
                    if mode in ("L", "LA", "RGB", "RGBA"):
                        pass
                    elif mode == "P" or mode == "PA":
                        mode = "RGBA" if ("transparency" in image.info or mode == "PA") \
                            else "RGB"
                    elif mode in ("1", "I", "I;16", "I;16B", "I;16L", "F"):
                        if mode.startswith("I;16") or mode == "I":  # 16-bit: to 8 bits
                            array = np.floor(np.asarray(image, np.float64) / 256.0)
                            return array[..., None].astype(np.float32)
                        mode = "L"
                    else:  # CMYK, YCbCr, LAB, HSV...
                        mode = "RGB"
                    array = np.asarray(image.convert(mode), np.float32)
            finally:
                Image.MAX_IMAGE_PIXELS = pil_limit
    except MemoryError:
        raise InferenceError(f"cannot read {path}: out of memory for its {width}x{height} "
                             "pixels (a lower --max-pixels refuses such images)") from None
    except (OSError, ValueError, SyntaxError, EOFError):
        raise InferenceError(f"cannot read {path}: not a PNG, JPEG, GIF or BMP image") from None
    return array if array.ndim == 3 else array[..., None]


def read_image(path, shape, max_pixels=MAX_PIXELS) -> np.ndarray:
    """``path`` decoded (PNG, JPEG, GIF, BMP; with PIL) as float32 0-255 with ``shape``'s
    channels, resized with a central crop to ``shape``'s H, W when they are fixed.

    Raises InferenceError for a file that cannot be read or decoded, that is not a
    regular file, or whose header gives more than ``max_pixels`` pixels.
    """
    data = _read_bytes(path, max_pixels)
    width, height = _header_size(path, data, max_pixels)
    image = to_channels(_decode(path, data, width, height), shape[-1])
    height_to, width_to = shape[:2]
    if height_to is not None and tuple(image.shape[:2]) != (height_to, width_to):
        import keras

        image = keras.layers.Resizing(height_to, width_to, crop_to_aspect_ratio=True,
                                      dtype="float32")(image)
        image = keras.ops.convert_to_numpy(image)
    return np.asarray(image, np.float32)


# tf.image.rgb_to_grayscale's weights (ITU-R BT.601 luma)
_GREY_WEIGHTS = (0.2989, 0.5870, 0.1140)


def to_channels(image, channels):
    """Grey, grey + alpha, RGB or RGBA (float 0-255, last axis; one image or a batch) ->
    ``channels`` 1, 3 or 4 (alpha dropped, or opaque when asked for; RGB -> grey with
    ``tf.image.rgb_to_grayscale``'s weights). A NumPy array is converted with NumPy (no
    TensorFlow); a TensorFlow tensor (inside a ``tf.data`` map) with TensorFlow."""
    have = image.shape[-1]
    if have == channels:
        return image
    if isinstance(image, np.ndarray):
        image = image.astype(np.float32, copy=False)
        if have in (2, 4):
            image, have = image[..., :have - 1], have - 1
        if channels == 1 and have == 3:
            image = np.tensordot(image, np.asarray(_GREY_WEIGHTS, np.float32),
                                 axes=([-1], [0]))[..., None].astype(np.float32)
        elif channels in (3, 4) and have == 1:
            image = np.repeat(image, 3, axis=-1)
        if channels == 4:
            image = np.concatenate([image, np.full(image.shape[:-1] + (1,), 255.0,
                                                   np.float32)], axis=-1)
        return image
    import tensorflow as tf

    if have in (2, 4):
        image, have = image[..., :have - 1], have - 1
    if channels == 1 and have == 3:
        image = tf.image.rgb_to_grayscale(image)
    elif channels in (3, 4) and have == 1:
        image = tf.image.grayscale_to_rgb(image)
    if channels == 4:
        image = tf.concat([image, tf.fill(tf.shape(image[..., :1]), 255.0)], axis=-1)
    return image


def top_k(probabilities, names, k) -> list:
    """``[{"index", "class", "probability"}, ...]`` of the ``k`` highest (clipped)."""
    probabilities = np.asarray(probabilities, np.float64)
    order = np.argsort(-probabilities, kind="stable")[:max(1, min(k, len(probabilities)))]
    return [{"index": int(i), "class": names[i], "probability": float(probabilities[i])}
            for i in order]


def predict_images(model, images, batch_size=32) -> np.ndarray:
    """The main output of ``model`` for a list of images (inference mode); images of the
    same size are batched, consecutive ones together."""
    out = []
    i = 0
    while i < len(images):
        j = i + 1
        while j < len(images) and j - i < batch_size and images[j].shape == images[i].shape:
            j += 1
        y = model(np.stack(images[i:j]), training=False)
        y = y[0] if isinstance(y, (list, tuple)) else y
        import keras

        out.append(np.asarray(keras.ops.convert_to_numpy(y), np.float32))  # torch: detached
        i = j
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def predict_files(model, paths, top=5, batch_size=32, on_error=None,
                  max_pixels=MAX_PIXELS):
    """Top-``top`` classes of every image in ``paths`` (files, folders walked).

    Returns ``(results, unreadable)``: results a list of ``{"file", "top_k"}`` in file
    order, unreadable a list of one-line messages (also passed to ``on_error`` as they
    happen): files that cannot be read, are not regular files or have more than
    ``max_pixels`` pixels. Images are read ``batch_size`` at a time.
    """
    shape = _input_spec(model)
    names = class_names_of(model)
    files = list_images(paths)
    results, unreadable = [], []
    for start in range(0, len(files), batch_size):
        chunk, images = [], []
        for path in files[start:start + batch_size]:
            try:
                images.append(read_image(path, shape, max_pixels))
                chunk.append(path)
            except InferenceError as e:
                unreadable.append(str(e))
                if on_error is not None:
                    on_error(str(e))
        if not images:
            continue
        probabilities = predict_images(model, images, batch_size)
        results.extend({"file": path, "top_k": top_k(p, names, top)}
                       for path, p in zip(chunk, probabilities))
    return results, unreadable
