"""kerascnn.data.load on every kind of source, built from the real files in ../shared/data."""

import gzip
import os
import shutil
import time

import h5py
import numpy as np
import pytest

from kerascnn.data import DataError, MissingSplit, load, load_source, read_path
from kerascnn.data.sources import FASHION_MNIST_DIR


def load_split(name, split="train", **kwargs):
    """One split of kerascnn.data.load as a tf.data.Dataset, with the set's info."""
    data = load(name, require=(), **kwargs)
    return data.tf_dataset(split), data.info

def _write_png(path, array):
    import tensorflow as tf

    tf.io.write_file(str(path), tf.io.encode_png(array))


@pytest.fixture(scope="module")
def cifar(shared_data):
    with np.load(shared_data / "cifar10-subset" / "cifar10_subset.npz", allow_pickle=False) as f:
        return {k: f[k] for k in ("x_train", "y_train", "x_test", "y_test", "class_names")}


def _class_folder(root, cifar, classes=(0, 1, 2), per_class=4):
    """train/<class>/ and test/<class>/ PNGs of real CIFAR images."""
    names = [str(cifar["class_names"][c]) for c in classes]
    expected = {}
    for split in ("train", "test"):
        xs, ys = [], []
        for index, c in enumerate(classes):
            os.makedirs(root / split / names[index])
            picks = np.flatnonzero(cifar[f"y_{split}"] == c)[:per_class]
            for k, i in enumerate(picks):
                _write_png(root / split / names[index] / f"img {k}.png", cifar[f"x_{split}"][i])
                xs.append(cifar[f"x_{split}"][i])
                ys.append(index)
        expected[split] = (np.stack(xs), np.array(ys))
    return names, expected


def test_signs_folder_as_a_path(signs_dir):
    ds, info = load_split(str(signs_dir), "val")
    assert info.kind == "local" and info.num_classes == 6
    assert info.split_sizes == {"train": 864, "val": 216, "test": 120}
    assert info.image_shape == (64, 64, 3) and info.skipped == []
    x, y = next(iter(ds.batch(216)))
    assert x.shape == (216, 64, 64, 3) and x.dtype == "uint8"
    assert sorted(set(y.numpy().tolist())) == list(range(6))


def test_class_subfolders_read_exactly_and_bad_files_are_skipped(cifar, tmp_path):
    names, expected = _class_folder(tmp_path, cifar)
    (tmp_path / "train" / names[1] / "notes.txt").write_text("not an image")
    (tmp_path / "train" / names[2] / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    with pytest.warns(UserWarning, match="2 unreadable or non-image file"):
        source = read_path(tmp_path)
    assert source.class_names == tuple(sorted(names))
    assert sorted(os.path.basename(p) for p, _ in source.skipped) == ["broken.png", "notes.txt"]
    order = [sorted(names).index(n) for n in names]
    for split in ("train", "test"):
        x, y = source.splits[split]
        ex, ey = expected[split]
        # folders are read class by class (sorted names), files in name order
        perm = np.argsort([order[v] for v in ey], kind="stable")
        np.testing.assert_array_equal(x, ex[perm])  # PNG is lossless
        np.testing.assert_array_equal(y, np.array([order[v] for v in ey])[perm])
    with pytest.raises(DataError, match=r"notes\.txt is not a readable image \(Unknown "
                                        r"image file format\..*\); remove it or run without "
                                        r"--strict to skip such files\.$"):
        read_path(tmp_path, strict=True)


def test_empty_class_folder(cifar, tmp_path):
    names, _ = _class_folder(tmp_path, cifar)
    for f in os.listdir(tmp_path / "test" / names[0]):
        os.remove(tmp_path / "test" / names[0] / f)
    with pytest.raises(DataError, match=rf"Class folder .*test/{names[0]} is empty"):
        read_path(tmp_path)


def test_mixed_sizes_name_the_file_or_are_resized(cifar, tmp_path):
    names, _ = _class_folder(tmp_path, cifar)
    big = np.repeat(np.repeat(cifar["x_train"][0], 2, axis=0), 2, axis=1)
    _write_png(tmp_path / "train" / names[0] / "zz_big.png", big)
    with pytest.raises(DataError, match=r"zz_big\.png is 64x64 but .* is 32x32: images of "
                                        r"mixed sizes; pass image_size"):
        read_path(tmp_path)
    source = read_path(tmp_path, image_size=24)
    assert source.image_shape == (24, 24, 3)


def test_label_prefixed_files_label_out_of_range(signs_dir, tmp_path):
    for split in ("train", "test"):
        os.makedirs(tmp_path / f"{split}_signs")
        for f in sorted(os.listdir(signs_dir / f"{split}_signs"))[:6]:
            shutil.copy(signs_dir / f"{split}_signs" / f, tmp_path / f"{split}_signs" / f)
    source = load_source("signs", str(tmp_path), val_fraction=0)
    assert source.split_sizes() == {"train": 6, "test": 6}
    first = sorted(os.listdir(tmp_path / "test_signs"))[0]
    os.rename(tmp_path / "test_signs" / first, tmp_path / "test_signs" / ("9" + first[1:]))
    with pytest.raises(DataError, match=r"test_signs/9.*: label 9 is out of range for 6 "
                                        r"classes \(0-5\)"):
        load_source("signs", str(tmp_path))


def test_missing_split(cifar, tmp_path):
    names, _ = _class_folder(tmp_path, cifar)
    shutil.rmtree(tmp_path / "test")
    ds, info = load_split(str(tmp_path), "val", val_fraction=0.25, seed=1)
    assert info.split_sizes == {"train": 9, "val": 3}
    with pytest.raises(DataError, match=r"has no test split \(it has train, val\)"):
        load_split(str(tmp_path), "test")


def test_h5_course_layout(shared_data, signs_dir, tmp_path):
    with h5py.File(shared_data / "signs" / "test_signs.h5", "r") as f:
        x, y, classes = f["test_set_x"][:], f["test_set_y"][:], f["list_classes"][:]
    with h5py.File(tmp_path / "train_signs.h5", "w") as f:
        f["train_set_x"], f["train_set_y"], f["list_classes"] = x[:100], y[:100], classes
    shutil.copy(shared_data / "signs" / "test_signs.h5", tmp_path / "test_signs.h5")
    source = read_path(tmp_path)
    assert source.split_sizes() == {"train": 100, "test": 120}
    assert source.class_names == tuple(str(c) for c in range(6))
    # the same 120 photos as the JPEG test folder: same label counts
    jpeg = load_source(str(signs_dir), val_fraction=0).splits["test"][1]
    np.testing.assert_array_equal(np.bincount(source.splits["test"][1]), np.bincount(jpeg))
    with h5py.File(tmp_path / "train_signs.h5", "a") as f:
        f["train_set_y"][0] = 7
    with pytest.raises(DataError, match=r"train_signs\.h5: train_set_y\[0\] = 7 is out of "
                                        r"range for 6 classes \(0-5\) named in list_classes"):
        read_path(tmp_path)


def test_npz_path_and_no_pickles(shared_data, tmp_path):
    ds, info = load_split(str(shared_data / "cifar10-subset" / "cifar10_subset.npz"), "train",
                    val_fraction=0.1, seed=0)
    assert info.split_sizes == {"train": 4577, "val": 508, "test": 1017}
    assert info.class_names[:2] == ("airplane", "automobile") and info.num_classes == 10
    np.savez(tmp_path / "evil.npz", x_train=np.array([{"a": 1}], dtype=object),
             y_train=np.zeros(1), x_test=np.zeros((1, 2, 2)), y_test=np.zeros(1))
    with pytest.raises(DataError, match=r"Cannot read npz file .*evil\.npz: Object arrays "
                                        r"cannot be loaded when allow_pickle=False"):
        load_split(str(tmp_path / "evil.npz"))


def _write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_idx_gz_folder_and_file(shared_data, tmp_path):
    with np.load(shared_data / "mnist" / "mnist.npz", allow_pickle=False) as f:
        x, y, xt, yt = f["x_train"][:500], f["y_train"][:500], f["x_test"][:100], f["y_test"][:100]
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", x)
    _write_idx(tmp_path / "train-labels-idx1-ubyte.gz", y)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", xt)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", yt)
    for path in (tmp_path, tmp_path / "t10k-images-idx3-ubyte.gz"):
        ds, info = load_split(str(path), "test")
        assert info.split_sizes == {"train": 450, "val": 50, "test": 100}
        images, labels = next(iter(ds.batch(100)))
        np.testing.assert_array_equal(images.numpy()[..., 0], xt)
        np.testing.assert_array_equal(labels.numpy(), yt)


def test_fashion_mnist_debian_path():
    if not os.path.isdir(FASHION_MNIST_DIR):
        pytest.skip("dataset-fashion-mnist is not installed")
    ds, info = load_split(FASHION_MNIST_DIR, "test")
    assert info.split_sizes == {"train": 54000, "val": 6000, "test": 10000}
    assert info.class_names[-1] == "Ankle boot"


# --- TFDS -------------------------------------------------------------------------------

def _same_examples(x, y, ex, ey):
    key = lambda images, labels: sorted(  # noqa: E731
        im.tobytes() + bytes([int(lab)]) for im, lab in zip(images, labels))
    assert key(x, y) == key(ex, ey)


@pytest.fixture(scope="module")
def tfds_dir(tmp_path_factory, shared_data):
    """A prepared TFDS data_dir for ``mnist`` written from the real MNIST files (no network)."""
    import tensorflow_datasets as tfds
    from tensorflow_datasets.image_classification import mnist

    with np.load(shared_data / "mnist" / "mnist.npz", allow_pickle=False) as f:
        data = {k: f[k] for k in f.files}

    class LocalMNIST(mnist.MNIST, skip_registration=True):
        name = "mnist"

        def _split_generators(self, dl_manager):
            return {"train": self._examples(data["x_train"][:1000], data["y_train"][:1000]),
                    "test": self._examples(data["x_test"][:300], data["y_test"][:300])}

        def _examples(self, x, y):
            for i in range(len(y)):
                yield i, {"image": x[i][..., None], "label": int(y[i])}

    root = tmp_path_factory.mktemp("tfds")
    LocalMNIST(data_dir=str(root)).download_and_prepare(
        download_config=tfds.download.DownloadConfig(try_download_gcs=False))
    return root, data


def test_tfds_prepared_dir_reads_offline(tfds_dir):
    root, data = tfds_dir
    ds, info = load_split("mnist", "test", data_dir=str(root))
    assert info.kind == "tfds" and info.num_classes == 10 and info.image_shape == (28, 28, 1)
    assert info.split_sizes == {"train": 900, "val": 100, "test": 300}
    images, labels = next(iter(ds.batch(300)))
    # TFDS stores examples in its own (hashed) order: compare as sets of (image, label)
    _same_examples(images.numpy()[..., 0], labels.numpy(), data["x_test"][:300],
                   data["y_test"][:300])
    train, _ = load_split("mnist", "train", data_dir=str(root))
    val, _ = load_split("mnist", "val", data_dir=str(root))
    (xt, yt), (xv, yv) = (next(iter(d.batch(1000))) for d in (train, val))
    assert len(yt) == 900 and len(yv) == 100
    _same_examples(np.concatenate([xt, xv])[..., 0], np.concatenate([yt, yv]),
                   data["x_train"][:1000], data["y_train"][:1000])
    source = load_source("tfds:mnist", str(root), val_fraction=0.2, seed=0)
    assert source.split_sizes() == {"train": 800, "val": 200, "test": 300}


@pytest.mark.parametrize("name, command", [
    ("cifar10", "`tfds build cifar10 --data_dir {d}` and pass that --data-dir"),
    ("imagenet2012", "`tfds build imagenet2012 --data_dir {d} --manual_dir <folder with the "
                     "downloaded archives>`"),
])
def test_tfds_unprepared_fails_fast_naming_dir_and_command(name, command, tmp_path):
    start = time.perf_counter()
    with pytest.raises(DataError) as info:
        load_split(name, "train", data_dir=str(tmp_path))
    assert time.perf_counter() - start < 20  # a download attempt hangs for minutes
    message = str(info.value)
    assert message.startswith(f"TFDS data set {name!r} is not prepared in {tmp_path} and "
                              "nothing is downloaded here; prepare it with ")
    assert command.format(d=tmp_path) in message and "\n" not in message


def test_unknown_and_missing_sources(tmp_path):
    with pytest.raises(DataError, match=r"^Unknown dataset 'nope'; allowed: cifar10_subset, "
                                        r"fashion_mnist, mnist, signs, a local path"):
        load("nope", data_dir=str(tmp_path))
    with pytest.raises(DataError, match=r"^No such file or folder: /no/such/folder\.$"):
        load("/no/such/folder")
    with pytest.raises(MissingSplit, match=r"^mnist has no dev split \(it has train, test, "
                                          r"val\)\.$"):
        load_split("mnist", "dev", data_dir="/work/shared/data/mnist")


def test_tfds_set_is_streamed_through_a_whole_run(tfds_dir, tmp_path):
    import keras

    from kerascnn.training.config import FitConfig
    from kerascnn.training.data import prepare_data
    from kerascnn.training.run import run

    root, data = tfds_dir
    config = FitConfig(model="resnet20_cifar", dataset="mnist", data_dir=str(root), epochs=1,
                       batch_size=100, output_dir=str(tmp_path / "run"), verbose=0)
    prepared = prepare_data(config)
    assert not prepared.data.in_memory  # streamed from the prepared directory
    mean, _ = prepared.normalization(3)
    np.testing.assert_allclose(mean, [data["x_train"][:900].mean() / 255] * 3, rtol=0.05)
    # precise BN's images: drawn from the whole stream (not its first ones), fixed by the seed
    drawn = prepared.bn_images(64)
    first = next(prepared.data.split("train").batch(64).as_numpy_iterator())[0]
    assert drawn.shape == (64, 28, 28, 1) and not np.array_equal(drawn, first)
    np.testing.assert_array_equal(drawn, prepared.bn_images(64))
    train_images = {im.astype(np.float32).tobytes() for im in data["x_train"][:1000, ..., None]}
    assert all(im.tobytes() in train_images for im in drawn)
    metrics = run(config)
    assert metrics["split_sizes"] == {"train": 900, "val": 100, "test": 300}
    assert metrics["input_shape"] == [28, 28, 1]
    model = keras.saving.load_model(tmp_path / "run" / metrics["model_file"])
    x, y = data["x_test"][:300, ..., None], data["y_test"][:300]
    accuracy = float(np.mean(model.predict(x, verbose=0).argmax(1) == y))
    assert accuracy == pytest.approx(metrics["test_accuracy"], abs=1e-9)
