"""The publisher's evaluation transform of a weight set, with PIL and numpy only.

A converted weight set gives its publisher's accuracy only on the publisher's input: the
same RGB conversion, the same resize with the same resampling kernel, the same crop.
:func:`load_image` makes it, step by step as the publishers do:

* **RGB**: ``PIL.Image.open(path).convert("RGB")`` (torchvision's and timm's image loaders,
  ``keras.utils.load_img``): grey is repeated, alpha dropped (not blended), a palette
  looked up, CMYK converted by PIL; a GIF gives its first frame;
* **resize** (``resize_mode="shorter"``: torchvision ``Weights.transforms()``, timm's
  ``create_transform(**resolve_data_config({}, model=m))``, pytorchcv's ImageNet
  evaluation): the shorter side to ``resize_size``, the longer to
  ``int(resize_size * long / short)`` (torchvision's rounding), with PIL's bilinear or
  bicubic (antialiased when shrinking: PIL's filters widen with the scale);
  (``resize_mode="squash"``: keras.applications' documented use,
  ``keras.utils.load_img(path, target_size=(h, w))``): straight to the crop size with
  PIL's nearest neighbour, the aspect ratio not kept;
* **centre crop** to ``crop_size``, offsets ``round((size - crop) / 2)`` as torchvision's
  ``center_crop`` rounds them (zero padding if the image were smaller).

The result is float32 0-255 RGB, ``(height, width, 3)``: the normalization (``x / 255``,
mean, std, BGR for keras' caffe-mode files) is
:func:`kerascnn.preprocessing.preprocess_input`'s.

This module imports neither Keras nor TensorFlow, so data loaders' worker processes can use
it cheaply.
"""

from __future__ import annotations

import os

import numpy as np

__all__ = ["ImageError", "IMAGE_FORMATS", "open_rgb", "transform_image", "load_image",
           "load_images", "resized_size", "centre_crop_box", "normalize", "load_batch"]

# What PIL is asked to decode (a file of another format is refused by name).
IMAGE_FORMATS = ("JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP", "PPM")


class ImageError(ValueError):
    """An image file that cannot be read (one line naming it)."""


def _resample(interpolation: str):
    from PIL import Image

    return {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC,
            "nearest": Image.Resampling.NEAREST}[interpolation]


def resized_size(width: int, height: int, size: int) -> tuple[int, int]:
    """``(width, height)`` after resizing the shorter side to ``size`` as torchvision's
    ``Resize(size)`` computes it (the longer side truncated)."""
    if width <= height:
        return size, int(size * height / width)
    return int(size * width / height), size


def centre_crop_box(width: int, height: int, crop_h: int, crop_w: int) -> tuple:
    """PIL's ``(left, top, right, bottom)`` of torchvision's ``center_crop``."""
    top = int(round((height - crop_h) / 2.0))
    left = int(round((width - crop_w) / 2.0))
    return left, top, left + crop_w, top + crop_h


def open_rgb(path):
    """The image at ``path`` as a loaded RGB PIL image (the first frame of an animation);
    an unreadable, truncated or non-image file is one :class:`ImageError` line."""
    from PIL import Image, UnidentifiedImageError

    path = os.fspath(path)
    try:
        with Image.open(path, formats=IMAGE_FORMATS) as image:
            image.load()  # decodes now: a truncated file fails here
            return image if image.mode == "RGB" else image.convert("RGB")
    except FileNotFoundError:
        raise ImageError(f"cannot read {path}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"cannot read {path}: a folder, not an image file") from None
    except UnidentifiedImageError:
        raise ImageError(f"cannot read {path}: not a JPEG, PNG, GIF, BMP, TIFF, WebP or PPM "
                         "image") from None
    except Image.DecompressionBombError as e:
        raise ImageError(f"cannot read {path}: {e}") from None
    except (OSError, SyntaxError, ValueError) as e:
        detail = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ImageError(f"cannot read {path}: {detail} (a damaged or truncated "
                         "file?)") from None


def transform_image(image, ws) -> np.ndarray:
    """An RGB PIL image through the weight set's resize and centre crop: float32 0-255,
    ``(crop height, crop width, 3)``."""
    from PIL import Image

    if image.mode != "RGB":
        image = image.convert("RGB")
    crop_h, crop_w = ws.crop_size
    resample = _resample(ws.interpolation)
    if ws.resize_mode == "squash":
        if image.size != (crop_w, crop_h):
            image = image.resize((crop_w, crop_h), resample)
        return np.asarray(image, dtype=np.float32)
    size = resized_size(*image.size, int(ws.resize_size))
    if size != image.size:
        image = image.resize(size, resample)
    width, height = image.size
    if crop_w > width or crop_h > height:  # torchvision pads with zeros, then crops
        padded = Image.new("RGB", (max(width, crop_w), max(height, crop_h)))
        padded.paste(image, ((padded.width - width) // 2, (padded.height - height) // 2))
        image, (width, height) = padded, padded.size
    image = image.crop(centre_crop_box(width, height, crop_h, crop_w))
    return np.asarray(image, dtype=np.float32)


def load_image(path, ws) -> np.ndarray:
    """The file at ``path`` through the weight set's evaluation transform (float32 0-255
    RGB at its crop size); :class:`ImageError` (one line) if it cannot be read."""
    return transform_image(open_rgb(path), ws)


def load_images(paths, ws, *, on_error=None) -> np.ndarray:
    """Several files through :func:`load_image`, stacked ``(N, height, width, 3)``.

    ``on_error``: None raises the first :class:`ImageError`; a callable is given each
    one-line message and the file is left out (the others go on).
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    images = []
    for path in paths:
        try:
            images.append(load_image(path, ws))
        except ImageError as e:
            if on_error is None:
                raise
            on_error(str(e))
    crop_h, crop_w = ws.crop_size
    if not images:
        return np.zeros((0, crop_h, crop_w, 3), np.float32)
    return np.stack(images)


def normalize(x, ws) -> np.ndarray:
    """0-255 RGB ``x`` -> the weight set's input, with numpy alone: ``(x / 255 - mean) /
    std`` in RGB, then the channels reversed for a ``"BGR"`` set (keras' caffe files: the
    same numbers as :func:`kerascnn.preprocessing.preprocess_input`, which works in the
    network's channel order)."""
    x = (np.asarray(x, np.float32) * np.float32(1 / 255) - np.asarray(ws.mean, np.float32)) \
        / np.asarray(ws.std, np.float32)
    return np.ascontiguousarray(x[..., ::-1]) if ws.channel_order == "BGR" else x


def load_batch(paths, labels, ws) -> tuple:
    """A batch for evaluation (what a data loader's worker process runs): ``(x, y,
    errors)``; ``x`` the normalized inputs of the readable files, ``y`` their labels,
    ``errors`` one line per file that could not be read (left out)."""
    images, kept, errors = [], [], []
    for path, label in zip(paths, labels):
        try:
            images.append(load_image(path, ws))
            kept.append(label)
        except ImageError as e:
            errors.append(str(e))
    crop_h, crop_w = ws.crop_size
    x = np.stack(images) if images else np.zeros((0, crop_h, crop_w, 3), np.float32)
    return normalize(x, ws), np.asarray(kept, np.int64), errors
