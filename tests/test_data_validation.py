"""Nothing read silently wrong (issue 13): pixels, labels and classes are checked on reading.

Every bad file is written into tmp_path by the test; the messages are asserted whole.
"""

import gzip
import os
import re
import shutil
import sys
import types
import warnings

import h5py
import numpy as np
import pytest

from kerascnn.data import DataError, load, read_path
from kerascnn.data.sources import BadValues, LabelOutOfRange
from kerascnn.data.tfds import tfds_info

PIXELS = ("allowed: integers 0..255, or finite floats all in [0, 1] (scaled by 255) or in "
          "[0, 255] (rounded).")
LABELS = "allowed: integers >= 0 (integral floats such as 3.0 are accepted)."


def _arrays(seed=0):
    """Small uint8 images of 3 classes: 6 train, 3 test."""
    rng = np.random.default_rng(seed)
    return {"x_train": rng.integers(0, 256, (6, 4, 4, 3), dtype=np.uint8),
            "y_train": np.array([0, 1, 2, 0, 1, 2]),
            "x_test": rng.integers(0, 256, (3, 4, 4, 3), dtype=np.uint8),
            "y_test": np.array([0, 1, 2])}


def _npz(tmp_path, **changes):
    arrays = {**_arrays(), **changes}
    path = tmp_path / "data.npz"
    np.savez(path, **arrays)
    return path


def _no_warning(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn(*args, **kwargs)


# --- pixels ----------------------------------------------------------------------------------

def test_uint8_and_integer_pixels_in_range_are_read_exactly(tmp_path):
    a = _arrays()
    source = _no_warning(read_path, _npz(tmp_path, x_train=a["x_train"].astype(np.int32)))
    np.testing.assert_array_equal(source.splits["train"][0], a["x_train"])
    np.testing.assert_array_equal(source.splits["test"][0], a["x_test"])
    assert source.splits["train"][0].dtype == np.uint8 and source.pixels == "integers 0..255"
    assert _no_warning(read_path, _npz(tmp_path)).pixels == "uint8"


def test_float_pixels_in_0_1_are_scaled_not_black(tmp_path):
    a = _arrays()
    path = _npz(tmp_path, x_train=a["x_train"] / 255.0, x_test=a["x_test"].astype("f4") / 255)
    with pytest.warns(UserWarning) as record:
        data = load(str(path), val_fraction=0)
    assert [str(w.message) for w in record] == [
        f"{path}: float pixels in [0, 1] detected (x_train, x_test, max 1): scaled by 255 and "
        "rounded to uint8."]
    np.testing.assert_array_equal(data.split("train")[0], a["x_train"])
    np.testing.assert_array_equal(data.split("test")[0], a["x_test"])
    assert data.info.pixels == "floats in [0, 1], scaled by 255"


def test_float_pixels_in_0_255_are_rounded(tmp_path):
    a = _arrays()
    x = a["x_train"].astype(np.float64)
    x[0, 0, 0, 0] = 254.6  # rounds to 255, not truncated to 254
    with pytest.warns(UserWarning) as record:
        source = read_path(_npz(tmp_path, x_train=x))
    assert [str(w.message) for w in record] == [
        f"{tmp_path / 'data.npz'}: float pixels in [0, 255] detected (x_train, max "
        f"{x.max():g}): rounded to uint8."]
    expected = a["x_train"].copy()
    expected[0, 0, 0, 0] = 255
    np.testing.assert_array_equal(source.splits["train"][0], expected)
    assert source.pixels == "floats in [0, 255], rounded"


def test_nan_and_inf_pixels_are_refused_with_count_and_first_index(tmp_path):
    x = _arrays()["x_train"] / 255.0
    x[2, 1, 3, 0] = np.nan
    x[4, 0, 0, 2] = np.inf
    path = _npz(tmp_path, x_train=x)
    with pytest.raises(BadValues) as info:
        read_path(path)
    assert str(info.value) == (f"{path}: x_train holds 2 NaN or infinite pixel value(s), the "
                               f"first at x_train[2, 1, 3, 0]; {PIXELS}")


@pytest.mark.parametrize("dtype, low, high, first", [
    (np.int16, 0, 1020, "[1, 2, 3, 1]"),   # would wrap modulo 256
    (np.float32, -3.5, 200, "[1, 2, 3, 1]"),
    (np.float64, 0, 300.25, "[1, 2, 3, 1]"),
])
def test_pixels_outside_0_255_are_refused(tmp_path, dtype, low, high, first):
    x = _arrays()["x_test"].astype(dtype)
    x[1, 2, 3, 1] = low if low < 0 else high
    x[2, 0, 0, 0] = low if low < 0 else high
    if low >= 0:
        x[0, 0, 0, 0] = 0
    path = _npz(tmp_path, x_test=x)
    with pytest.raises(BadValues) as info:
        read_path(path)
    assert str(info.value) == (
        f"{path}: x_test holds 2 pixel value(s) outside 0..255 (min {x.min():g}, max "
        f"{x.max():g}), the first at x_test{first}; {PIXELS}")


def test_float_splits_of_different_scales_are_refused(tmp_path):
    a = _arrays()
    x_train = a["x_train"] / 255.0
    path = _npz(tmp_path, x_train=x_train, x_test=a["x_test"].astype(np.float32))
    with pytest.raises(BadValues) as info:
        read_path(path)
    assert str(info.value) == (
        f"{path}: x_train holds floats in [0, 1] (max {x_train.max():g}) but x_test floats in "
        f"[0, 255] (max {a['x_test'].max():g}); all splits must use one scale: "
        "integers 0..255, or finite floats all in [0, 1] (scaled by 255) or in [0, 255] "
        "(rounded).")


def test_pixels_that_are_not_numbers_are_refused(tmp_path):
    path = _npz(tmp_path, x_test=np.full((3, 4, 4, 3), "a"))
    with pytest.raises(BadValues) as info:
        read_path(path)
    assert str(info.value) == f"{path}: x_test has pixels of dtype <U1; {PIXELS}"


def test_h5_float_pixels_are_checked_and_scaled(tmp_path):
    a = _arrays()
    with h5py.File(tmp_path / "train_set.h5", "w") as f:
        f["train_set_x"], f["train_set_y"] = a["x_train"] / 255.0, a["y_train"]
    with h5py.File(tmp_path / "test_set.h5", "w") as f:
        f["test_set_x"], f["test_set_y"] = a["x_test"] / 255.0, a["y_test"]
    with pytest.warns(UserWarning, match=r"float pixels in \[0, 1\] detected \(train_set_x, "
                                         r"test_set_x, max 1\): scaled by 255"):
        source = read_path(tmp_path)
    np.testing.assert_array_equal(source.splits["train"][0], a["x_train"])
    with h5py.File(tmp_path / "test_set.h5", "a") as f:
        f["test_set_x"][1, 0, 0, 0] = np.nan
    with pytest.raises(BadValues) as info:
        read_path(tmp_path)
    assert str(info.value) == (
        f"{tmp_path / 'test_set.h5'}: test_set_x holds 1 NaN or infinite pixel value(s), the "
        f"first at test_set_x[1, 0, 0, 0]; {PIXELS}")


# --- labels ----------------------------------------------------------------------------------

def test_integral_float_and_column_labels_are_accepted(tmp_path):
    path = _npz(tmp_path, y_train=np.array([[0.0], [1.0], [2.0], [0.0], [1.0], [2.0]]))
    source = _no_warning(read_path, path)
    np.testing.assert_array_equal(source.splits["train"][1], [0, 1, 2, 0, 1, 2])
    assert source.splits["train"][1].dtype == np.int64


@pytest.mark.parametrize("y, message", [
    ([0, 1, 2, 0.5, 1, 2.5], "holds 2 label(s) that are not integers, the first y_train[3] = 0.5"),
    ([0, 1, np.nan, 0, 1, 2], "holds 1 label(s) that are not integers, the first y_train[2] = nan"),
    ([0, 1, 2, 0, -1, 2], "holds 1 negative label(s), the first y_train[4] = -1"),
])
def test_bad_labels_are_refused(tmp_path, y, message):
    path = _npz(tmp_path, y_train=np.array(y))
    with pytest.raises(BadValues) as info:
        read_path(path)
    assert str(info.value) == f"{path}: y_train {message}; {LABELS}"


def test_one_hot_labels_are_refused(tmp_path):
    path = _npz(tmp_path, y_test=np.eye(3))
    with pytest.raises(BadValues) as info:
        read_path(path)
    assert str(info.value) == (f"{path}: y_test has shape (3, 3); one integer label per image "
                               "is needed (one-hot labels? take their argmax).")


# --- classes ---------------------------------------------------------------------------------

def test_test_label_outside_the_train_classes_is_refused_not_a_43rd_class(tmp_path):
    path = _npz(tmp_path, y_test=np.array([0, 42, 2]))
    with pytest.raises(LabelOutOfRange) as info:
        load(str(path))
    assert str(info.value) == (f"{path}: y_test[1] = 42 is out of range for 3 classes (0-2) "
                               "found in the train split (1 test label(s) out of range).")


def test_val_label_outside_the_own_class_list_is_refused(tmp_path):
    a = _arrays()
    path = _npz(tmp_path, x_val=a["x_test"], y_val=np.array([3, 0, 3]),
                class_names=np.array(["cat", "dog", "emu"]))
    with pytest.raises(LabelOutOfRange) as info:
        read_path(path)
    assert str(info.value) == (f"{path}: y_val[0] = 3 is out of range for 3 classes (0-2) "
                               "named in its class_names (2 val label(s) out of range).")


def test_a_class_without_training_images_is_warned_about(tmp_path):
    path = _npz(tmp_path, y_train=np.array([0, 2, 2, 0, 2, 0]))
    with pytest.warns(UserWarning) as record:
        source = read_path(path)
    assert [str(w.message) for w in record] == [
        f"{path}: the train split has no image of 1 of its 3 classes (label 1)."]
    assert source.num_classes == 3


def test_h5_test_label_outside_the_train_classes(tmp_path):
    a = _arrays()
    with h5py.File(tmp_path / "train_x.h5", "w") as f:
        f["train_set_x"], f["train_set_y"] = a["x_train"], a["y_train"]
    with h5py.File(tmp_path / "test_x.h5", "w") as f:
        f["test_set_x"], f["test_set_y"] = a["x_test"], np.array([[0, 1, 5]])
    with pytest.raises(LabelOutOfRange) as info:
        read_path(tmp_path)
    assert str(info.value) == (
        f"{tmp_path / 'test_x.h5'}: test_set_y[2] = 5 is out of range for 3 classes (0-2) "
        "found in the train split (1 test label(s) out of range).")


def _write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_idx_test_label_outside_the_train_classes(tmp_path):
    a = _arrays()
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", a["x_train"][..., 0])
    _write_idx(tmp_path / "train-labels-idx1-ubyte.gz", a["y_train"])
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", a["x_test"][..., 0])
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.array([0, 1, 7]))
    with pytest.raises(LabelOutOfRange) as info:
        read_path(tmp_path)
    assert str(info.value) == (
        f"{tmp_path}: t10k-labels-idx1-ubyte.gz[2] = 7 is out of range for 3 classes (0-2) "
        "found in the train split (1 test label(s) out of range).")


def _signs_copy(signs_dir, root):
    """train_signs/ with one real photo of each label 0-5, test_signs/ with three."""
    for split in ("train", "test"):
        os.makedirs(root / f"{split}_signs")
        files = sorted(os.listdir(signs_dir / f"{split}_signs"))
        picks = ([next(f for f in files if f[0] == label) for label in "012345"]
                 if split == "train" else files[:3])
        for f in picks:
            shutil.copy(signs_dir / f"{split}_signs" / f, root / f"{split}_signs" / f)


def test_stray_label_prefixed_file_in_test_is_named_not_an_8th_class(signs_dir, tmp_path):
    _signs_copy(signs_dir, tmp_path)
    assert _no_warning(read_path, tmp_path).num_classes == 6
    first = sorted(os.listdir(tmp_path / "test_signs"))[0]
    shutil.copy(tmp_path / "test_signs" / first, tmp_path / "test_signs" / "7_extra.jpg")
    stray = tmp_path / "test_signs" / "7_extra.jpg"
    with pytest.raises(LabelOutOfRange) as info:
        read_path(tmp_path)
    assert str(info.value) == (f"{stray}: label 7 is out of range for 6 classes (0-5) found in "
                               "the train split (1 test label(s) out of range).")
    with pytest.raises(LabelOutOfRange) as info:  # the built-in name: SIGNS' own 6 classes
        load("signs", str(tmp_path))
    assert str(info.value) == (f"{stray}: label 7 is out of range for 6 classes (0-5) of signs "
                               "(1 test label(s) out of range).")


def _write_png(path, array):
    import tensorflow as tf

    tf.io.write_file(str(path), tf.io.encode_png(array))


def test_class_folder_with_no_readable_image_is_refused(tmp_path):
    x = _arrays()["x_train"]
    for split in ("train", "test"):
        for k, name in enumerate(("cat", "dog")):
            os.makedirs(tmp_path / split / name)
            _write_png(tmp_path / split / name / "a.png", x[k])
    for f in ("a.png", "b.png"):
        (tmp_path / "train" / "dog" / f).write_text("not an image")
    with pytest.raises(DataError, match=(
            "^" + re.escape(f"Class folder {tmp_path / 'train' / 'dog'}: none of its 2 file(s) "
                            "is a readable image (e.g. a.png: Unknown image file format.")
            + r".*\); remove the folder or add readable images\.$")):
        read_path(tmp_path)


def test_label_with_no_readable_image_is_refused(tmp_path):
    x = _arrays()["x_train"]
    for split in ("train", "test"):
        os.makedirs(tmp_path / split)
        for label in range(3):
            _write_png(tmp_path / split / f"{label}_a.png", x[label])
    (tmp_path / "train" / "2_a.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    with pytest.raises(DataError, match=(
            "^" + re.escape(f"{tmp_path / 'train'}: none of the 1 file(s) of label 2 is a "
                            "readable image (e.g. 2_a.png: ")
            + r".+\); remove them or add readable images\.$")):
        read_path(tmp_path)


def test_tfds_images_that_are_not_uint8_are_refused():
    def builder(dtype):
        image = types.SimpleNamespace(shape=(8, 8, 3), dtype=dtype)
        label = types.SimpleNamespace(names=["a", "b"])
        info = types.SimpleNamespace(features={"image": image, "label": label}, splits={})
        return types.SimpleNamespace(name="fake", info=info)

    assert tfds_info(builder(np.uint8)) == (("a", "b"), (8, 8, 3), {})
    with pytest.raises(DataError) as info:
        tfds_info(builder(np.uint16))
    assert str(info.value) == ("TFDS data set 'fake' has uint16 images; only uint8 images "
                               "(pixels 0..255) are read.")


# --- fit.py ----------------------------------------------------------------------------------

@pytest.mark.parametrize("changes, message", [
    (dict(x_train=np.full((6, 4, 4, 3), np.nan)),
     "x_train holds 288 NaN or infinite pixel value(s), the first at x_train[0, 0, 0, 0]"),
    (dict(y_test=np.array([0, 42, 2])),
     "y_test[1] = 42 is out of range for 3 classes (0-2) found in the train split"),
])
def test_fit_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, changes, message):
    from kerascnn.training.cli import main

    path = _npz(tmp_path, **changes)
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as info:
        sys.exit(main(["--model", "resnet20_cifar", "--dataset", str(path), "--epochs", "1",
                       "--output-dir", str(out)]))
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"fit.py: error: {path}: {message}")
    assert len(err.splitlines()) == 1
    assert not out.exists()
    assert sorted(os.listdir(tmp_path)) == ["data.npz"]
