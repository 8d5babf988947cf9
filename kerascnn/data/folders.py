"""Local sources recognised by what they hold.

:func:`read_path` reads any of:

* an ``.npz`` file (``x_train, y_train, x_test, y_test`` [, ``x_val, y_val``,
  ``class_names``]), read with ``allow_pickle=False``;
* a folder of idx files (``train-images-idx3-ubyte[.gz]`` ...; MNIST,
  Fashion-MNIST, e.g. ``/usr/share/datasets/fashion-mnist``), or one idx file in it;
* the course's h5 layout: a folder with ``train_*.h5`` and ``test_*.h5`` holding
  ``train_set_x/train_set_y[/list_classes]`` and ``test_set_x/test_set_y``;
* an image folder split into ``train/ [val/] test/`` (or ``train_*/ val_*/
  test_*/`` as SIGNS is), or a single unsplit folder, where each split holds
  either one subfolder per class or files whose names start with the label
  (``3_IMG_5447.jpg``, names may contain spaces).

Bad data: a file that is not a decodable image is skipped and counted in
``Source.skipped`` (``strict=True`` stops with its name instead); an empty class
folder, a class (folder or label) none of whose files is a readable image, a
label out of range, images of mixed sizes (without ``image_size``) and a missing
split stop with a one-line :class:`DataError` naming the file or folder. The
classes are the class folders of ``train/`` or, for label-prefixed files, the
given class list, else 0..(largest train label): a stray ``7_extra.jpg`` in
``test/`` beside train labels 0-5 is refused by name, never an 8th class. Arrays
(npz, idx, h5) are checked as :mod:`kerascnn.data.sources` says. Images are
decoded in parallel threads.
"""

from __future__ import annotations

import concurrent.futures
import glob
import os
import re
import warnings

import numpy as np

from kerascnn.data.sources import (
    FASHION_MNIST_CLASSES,
    DataError,
    MixedSizes,
    Source,
    _read_h5,
    check_classes,
    checked_source,
    class_list,
    load_idx_dataset,
    load_npz,
)

__all__ = ["read_path", "read_image_folder", "read_h5_folder", "looks_like_local",
           "load_signs", "SPLIT_ALIASES", "SIGNS_CLASSES"]

SIGNS_CLASSES = ("0", "1", "2", "3", "4", "5")

SPLIT_ALIASES = {"train": ("train", "training"), "val": ("val", "valid", "validation"),
                 "test": ("test", "testing")}
_LABEL_PREFIX = re.compile(r"^(\d+)")


def looks_like_local(source) -> bool:
    """True when ``source`` names an existing file or folder."""
    return isinstance(source, (str, os.PathLike)) and os.path.exists(source)


def _decode(path):
    """(image uint8 HWC, None) or (None, reason)."""
    import tensorflow as tf

    try:
        raw = tf.io.read_file(path)
        image = tf.io.decode_image(raw, expand_animations=False).numpy()
    except (tf.errors.OpError, ValueError) as e:
        text = re.sub(r"\{\{.*?\}\}|\s*\[Op:.*$", "", str(e)).strip()
        return None, (text.splitlines()[0][:120] if text else type(e).__name__)
    return image, None


def _unify_channels(image, channels):
    if image.shape[-1] == channels:
        return image
    if image.shape[-1] == 1 and channels == 3:
        return np.repeat(image, 3, axis=-1)
    if image.shape[-1] == 4:  # RGBA -> RGB (or gray)
        image = image[..., :3]
    if image.shape[-1] == 2:  # gray + alpha
        image = image[..., :1]
    if channels == 1 and image.shape[-1] == 3:
        return np.round(image @ np.array([0.2989, 0.587, 0.114])).astype(np.uint8)[..., None]
    return np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image


def _resize_center_crop(image, resizer):
    """The largest central square crop, resized (uint8)."""
    resized = np.asarray(resizer(image.astype(np.float32)))
    return np.clip(np.round(resized), 0, 255).astype(np.uint8)


def _decode_all(entries, strict, image_size, where, workers=8):
    """Decodes [(path, label)] in threads; returns (images, labels, paths, skipped)."""
    paths = [p for p, _ in entries]
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        decoded = list(pool.map(_decode, paths))
    images, labels, skipped = [], [], []
    for (path, label), (image, reason) in zip(entries, decoded):
        if image is None:
            if strict:
                raise DataError(f"{path} is not a readable image ({reason}); remove it or "
                                "run without --strict to skip such files.")
            skipped.append((path, reason))
            continue
        images.append((path, image))
        labels.append(label)
    if not images:
        raise DataError(f"No readable image in {where}.")
    channels = 3 if any(im.shape[-1] != 1 for _, im in images) else 1
    resizer = None
    if image_size is not None:
        import keras

        resizer = keras.layers.Resizing(image_size, image_size, crop_to_aspect_ratio=True,
                                        antialias=True, dtype="float32")
    out = []
    first_path, first = images[0]
    resized = False
    for path, image in images:
        image = _unify_channels(image, channels)
        if image_size is not None:
            if image.shape[:2] != (image_size, image_size):
                image = _resize_center_crop(image, resizer)
                resized = True
        elif image.shape[:2] != first.shape[:2]:
            raise MixedSizes(
                f"{path} is {image.shape[1]}x{image.shape[0]} but {first_path} is "
                f"{first.shape[1]}x{first.shape[0]}: images of mixed sizes; pass image_size "
                "(--image-size) to resize them on reading."
            )
        out.append(image)
    return (np.stack(out), np.asarray(labels, np.int64), [p for p, _ in images], skipped,
            resized)


def _list_files(folder):
    return sorted(f for f in glob.glob(os.path.join(glob.escape(folder), "*"))
                  if os.path.isfile(f))


def _class_subfolders(folder):
    return sorted(d for d in os.listdir(folder)
                  if os.path.isdir(os.path.join(folder, d)) and not d.startswith("."))


def _split_folders(root):
    """{split: folder} for train/val/test (or train_*/val_*/test_*) subfolders."""
    found = {}
    for entry in sorted(os.listdir(root)):
        path = os.path.join(root, entry)
        if not os.path.isdir(path):
            continue
        key = entry.lower()
        for split, aliases in SPLIT_ALIASES.items():
            if key in aliases or any(key.startswith(a + "_") for a in aliases):
                if split in found:
                    raise DataError(f"{root} has two folders for the {split} split: "
                                    f"{os.path.basename(found[split])} and {entry}.")
                found[split] = path
    return found


def _entries_class_folders(folder, class_names):
    entries = []
    for index, name in enumerate(class_names):
        sub = os.path.join(folder, name)
        if not os.path.isdir(sub):
            continue
        files = _list_files(sub)
        if not files:
            raise DataError(f"Class folder {sub} is empty; remove it or add its images.")
        entries += [(f, index) for f in files]
    extra = set(_class_subfolders(folder)) - set(class_names)
    if extra:
        raise DataError(f"{folder} has class folders absent from the training split: "
                        f"{', '.join(sorted(extra))}.")
    return entries


def _check_no_class_lost(entries, labels, skipped, folder, class_names):
    """Refuses a class whose files were all skipped as unreadable."""
    lost = sorted(set(label for _, label in entries) - set(labels.tolist()))
    if not lost:
        return
    files = [p for p, label in entries if label == lost[0]]
    reason = dict(skipped).get(files[0], "unreadable")
    example = f"e.g. {os.path.basename(files[0])}: {reason}"
    if class_names is not None:
        raise DataError(f"Class folder {os.path.dirname(files[0])}: none of its {len(files)} "
                        f"file(s) is a readable image ({example}); remove the folder or add "
                        "readable images.")
    raise DataError(f"{folder}: none of the {len(files)} file(s) of label {lost[0]} is a "
                    f"readable image ({example}); remove them or add readable images.")


def _entries_label_prefixed(folder, strict):
    entries, skipped = [], []
    files = _list_files(folder)
    if not files:
        raise DataError(f"Folder {folder} holds no files.")
    for f in files:
        match = _LABEL_PREFIX.match(os.path.basename(f))
        if match is None:
            if strict:
                raise DataError(f"{f}: the file name must start with its integer label "
                                "(e.g. 3_IMG_5447.jpg).")
            skipped.append((f, "file name does not start with a label"))
            continue
        entries.append((f, int(match.group(1))))
    return entries, skipped


def read_image_folder(root, *, strict=False, image_size=None, num_classes=None,
                      class_names=None, name=None) -> Source:
    """An image folder, split or unsplit, class subfolders or label-prefixed files.

    An unsplit folder is read as the train split (``Source.unsplit``).
    """
    unsplit = not _split_folders(root)
    splits_dirs = _split_folders(root) or {"train": root}
    train_dir = splits_dirs.get("train") or next(iter(splits_dirs.values()))
    by_class = bool(_class_subfolders(train_dir))
    if by_class:
        class_names = tuple(_class_subfolders(train_dir))
    splits, paths, skipped, resized = {}, {}, [], False
    for split, folder in splits_dirs.items():
        if by_class:
            entries = _entries_class_folders(folder, class_names)
        else:
            entries, bad = _entries_label_prefixed(folder, strict)
            skipped += bad
        if not entries:
            raise DataError(f"No image files in {folder}.")
        x, y, paths[split], bad, was_resized = _decode_all(entries, strict, image_size, folder)
        resized = resized or was_resized
        skipped += bad
        _check_no_class_lost(entries, y, bad, folder, class_names if by_class else None)
        splits[split] = (x, y)
    if by_class:
        names, origin = class_list(
            {}, class_names, f"of the class folders of {os.path.basename(train_dir)}/")
    elif class_names is not None or num_classes is not None:
        names, origin = class_list({}, class_names or range(num_classes),
                                   f"of {name}" if class_names and name else None)
    else:
        names, origin = class_list({s: v[1] for s, v in splits.items()})
    check_classes({s: v[1] for s, v in splits.items()}, len(names), origin,
                  lambda split, i, label: f"{paths[split][i]}: label {label}", root)
    class_names = names
    if skipped:
        warnings.warn(f"{len(skipped)} unreadable or non-image file(s) skipped under {root}, "
                      f"e.g. {skipped[0][0]} ({skipped[0][1]}).", stacklevel=2)
    shapes = {s: v[0].shape[1:] for s, v in splits.items()}
    if len(set(shapes.values())) > 1:
        raise MixedSizes(f"Splits of {root} have images of mixed sizes {shapes}; pass image_size "
                        "(--image-size) to resize them on reading.")
    return Source(name or os.path.basename(os.path.normpath(root)), splits, tuple(class_names),
                  skipped=skipped, unsplit=unsplit, resized_on_read=resized)


def read_h5_folder(root, *, name=None, num_classes=None) -> Source:
    """The course's layout: ``train_*.h5`` and ``test_*.h5`` (``{split}_set_x/y``)."""
    import h5py

    raw, class_names, origin = {}, None, None
    for split in ("train", "val", "test"):
        files = sorted(glob.glob(os.path.join(glob.escape(root), f"{split}_*.h5")))
        if len(files) > 1:
            raise DataError(f"{root} has several {split}_*.h5 files: "
                            f"{', '.join(os.path.basename(f) for f in files)}.")
        if files:
            raw[split] = (*_read_h5(files[0], split), f"{split}_set_x", f"{split}_set_y",
                          files[0])
            try:
                with h5py.File(files[0], "r") as f:
                    if "list_classes" in f and class_names is None:
                        class_names = tuple(
                            c.decode() if isinstance(c, bytes) else str(c)
                            for c in f["list_classes"][:])
                        origin = f"named in list_classes of {os.path.basename(files[0])}"
            except OSError:
                pass
    if not raw:
        raise DataError(f"{root} has no train_*.h5, val_*.h5 or test_*.h5 file.")
    if class_names is None and num_classes is not None:
        class_names, origin = range(num_classes), None
    return checked_source(name or os.path.basename(os.path.normpath(root)), raw, root,
                          class_names, origin)


def _h5_files(folder):
    return [f for split in ("train", "val", "test")
            for f in glob.glob(os.path.join(glob.escape(folder), f"{split}_*.h5"))]


def _has_idx(folder):
    return bool(glob.glob(os.path.join(glob.escape(folder), "*-idx3-ubyte*")))


def read_path(path, *, strict=False, image_size=None) -> Source:
    """Reads the local source at ``path``, recognised by what it holds."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DataError(f"No such file or folder: {path}.")
    if os.path.isfile(path):
        if path.endswith(".npz"):
            return load_npz(path)
        if "-idx" in os.path.basename(path) and "ubyte" in path:
            path = os.path.dirname(path) or "."
        elif path.endswith(".h5"):
            path = os.path.dirname(path) or "."
        else:
            raise DataError(f"{path}: not a recognised data file (expected .npz, an idx file "
                            "or a folder).")
    name = os.path.basename(os.path.normpath(path))
    if _has_idx(path):
        fashion = "fashion" in path.lower()
        return load_idx_dataset(name.replace("-", "_"), path,
                                FASHION_MNIST_CLASSES if fashion else None)
    if _h5_files(path) and not _split_folders(path):
        return read_h5_folder(path, name=name)
    npz = glob.glob(os.path.join(glob.escape(path), "*.npz"))
    if len(npz) == 1 and not _split_folders(path) and not _class_subfolders(path):
        return read_path(npz[0])
    return read_image_folder(path, strict=strict, image_size=image_size, name=name)


def load_signs(data_dir, *, strict=False, image_size=None) -> Source:
    """The SIGNS hand-gesture set (6 classes) from its JPEG folders or h5 files.

    ``data_dir`` holds ``train_signs/ [val_signs/] test_signs/`` (label = first
    character of each file name; names may contain spaces) or the course's
    ``train_signs.h5`` and ``test_signs.h5``. Without a validation folder, the
    caller carves one out of the training split.
    """
    if data_dir is None or not os.path.isdir(data_dir):
        raise DataError(
            f"SIGNS data directory {data_dir!r} does not exist: pass --data-dir pointing at the "
            "folder holding train_signs/ val_signs/ test_signs/ (or train_signs.h5, test_signs.h5)."
        )
    if os.path.isdir(os.path.join(data_dir, "train_signs")):
        return read_image_folder(data_dir, strict=strict, image_size=image_size,
                                 class_names=SIGNS_CLASSES, name="signs")
    raw = {}
    for split in ("train", "val", "test"):
        h5 = os.path.join(data_dir, f"{split}_signs.h5")
        if os.path.isfile(h5):
            raw[split] = (*_read_h5(h5, split), f"{split}_set_x", f"{split}_set_y", h5)
    for required in ("train", "test"):
        if required not in raw:
            raise DataError(
                f"{data_dir} has no {required}_signs/ folder or {required}_signs.h5 file."
            )
    return checked_source("signs", raw, data_dir, SIGNS_CLASSES, "of signs")
