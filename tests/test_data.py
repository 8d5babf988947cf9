"""Data sources of the spine: idx files, SIGNS folders and h5, npz."""

import gzip

import numpy as np
import pytest

from kerascnn.data import DataError, load_signs, load_source, make_dataset, read_idx
from kerascnn.data.sources import FASHION_MNIST_DIR, load_npz


def _write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_read_idx_roundtrip(tmp_path):
    x = np.arange(2 * 3 * 4).reshape(2, 3, 4).astype(np.uint8)
    _write_idx(tmp_path / "a-idx3-ubyte.gz", x)
    np.testing.assert_array_equal(read_idx(tmp_path / "a-idx3-ubyte.gz"), x)


def test_read_idx_rejects_garbage(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04\x05")
    with pytest.raises(DataError, match="is not an idx file"):
        read_idx(tmp_path / "bad")


def test_mnist_npz_is_real_and_complete(shared_data):
    source = load_npz(shared_data / "mnist" / "mnist.npz", "mnist")
    assert source.split_sizes() == {"train": 60000, "test": 10000}
    assert source.image_shape == (28, 28, 1)
    assert source.num_classes == 10


def test_signs_folders(signs_dir):
    source = load_signs(str(signs_dir))
    assert source.split_sizes() == {"train": 864, "val": 216, "test": 120}
    assert source.image_shape == (64, 64, 3)
    x, y = source.splits["test"]
    assert x.dtype == np.uint8 and set(np.unique(y)) == set(range(6))


def test_signs_h5_equals_the_jpeg_test_folder_labels(shared_data, tmp_path):
    # The course's h5 layout: a folder with test_signs.h5 (train_signs.h5 needed too).
    import shutil

    shutil.copy(shared_data / "signs" / "test_signs.h5", tmp_path / "test_signs.h5")
    with pytest.raises(DataError, match="has no train_signs/ folder or train_signs.h5 file"):
        load_signs(str(tmp_path))
    shutil.copy(shared_data / "signs" / "test_signs.h5", tmp_path / "train_signs.h5")
    # train_signs.h5 here holds test_set_* keys, so reading it as train must say so.
    with pytest.raises(DataError, match="Cannot read train_set_x/train_set_y"):
        load_signs(str(tmp_path))


def test_fashion_mnist_from_debian_package():
    import os

    if not os.path.isdir(FASHION_MNIST_DIR):
        pytest.skip("dataset-fashion-mnist is not installed")
    source = load_source("fashion_mnist", val_fraction=0.1, seed=0)
    assert source.split_sizes() == {"train": 54000, "val": 6000, "test": 10000}
    assert source.num_classes == 10 and source.class_names[0] == "T-shirt/top"


def test_unknown_dataset():
    with pytest.raises(DataError, match=r"Unknown dataset 'nope'; allowed: "):
        load_source("nope")


def test_pipeline_resizes_and_repeats_gray():
    x = np.random.RandomState(0).randint(0, 255, (10, 28, 28, 1)).astype(np.uint8)
    y = np.arange(10) % 3
    ds = make_dataset(x, y, batch_size=4, image_size=(32, 32), channels=3)
    images, labels = next(iter(ds))
    assert images.shape == (4, 32, 32, 3)
    np.testing.assert_allclose(images[..., 0], images[..., 2])
    assert list(labels.numpy()) == [0, 1, 2, 0]


@pytest.mark.parametrize("training", [False, True])
def test_pipeline_rejects_images_and_labels_of_different_lengths(training):
    x = np.zeros((10, 8, 8, 3), np.uint8)
    for labels in (np.arange(8) % 2, np.arange(12) % 2):
        with pytest.raises(DataError, match=rf"^make_dataset: 10 images but {len(labels)} "):
            make_dataset(x, labels, batch_size=4, training=training)
