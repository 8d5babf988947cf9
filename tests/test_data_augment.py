"""Augmentation layers (shapes, ranges, determinism) and the (seed, epoch) pipeline."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerascnn.data import EpochCounter, make_dataset
from kerascnn.data import augment as A


@pytest.fixture(scope="module")
def cifar(shared_data):
    with np.load(shared_data / "cifar10-subset" / "cifar10_subset.npz", allow_pickle=False) as f:
        return f["x_train"][:256], f["y_train"][:256]


@pytest.fixture(scope="module")
def batch(cifar):
    return tf.constant(cifar[0][:16].astype(np.float32) / 255.0)


def _layers(cifar):
    pca = A.pca_lighting_stats(cifar[0])
    return [A.RandomResizedCrop((24, 24)), A.ScaleJitter((24, 24), (28, 40)),
            A.RandomHorizontalFlip(), A.RandomRotation(15), A.RandomBrightness(0.3),
            A.RandomContrast(0.5, 1.5), A.RandomSaturation(0.5, 1.5), A.PCALighting(*pca)]


def test_layers_keep_shape_and_range_and_are_seeded(cifar, batch):
    seed, other = tf.constant([3, 4]), tf.constant([3, 5])
    for layer in _layers(cifar):
        out = layer.augment(batch, seed).numpy()
        size = (24, 24) if layer.changes_size else (32, 32)
        assert out.shape == (16,) + size + (3,), layer.name
        assert out.min() >= 0.0 and out.max() <= 1.0, layer.name
        np.testing.assert_array_equal(out, layer.augment(batch, seed).numpy())
        assert not np.array_equal(out, layer.augment(batch, other).numpy()), layer.name
        # as a Keras layer: a seeded layer repeats itself, inference leaves colors alone
        again = layer.__class__.from_config(layer.get_config())
        assert again.get_config() == layer.get_config()
        assert layer(batch).shape == out.shape


def test_full_crops_are_the_identity(batch):
    crop = A.RandomResizedCrop((32, 32), area=(1.0, 1.0), aspect=(1.0, 1.0))
    np.testing.assert_allclose(crop.augment(batch, tf.constant([1, 2])), batch, atol=1e-5)
    jitter = A.ScaleJitter((32, 32), (32, 32))
    np.testing.assert_allclose(jitter.augment(batch, tf.constant([1, 2])), batch, atol=1e-5)


def test_flip_mirrors_about_half(batch):
    out = A.RandomHorizontalFlip().augment(batch, tf.constant([0, 1])).numpy()
    x = batch.numpy()
    flipped = [bool(np.array_equal(o, xi[:, ::-1])) for o, xi in zip(out, x)]
    kept = [bool(np.array_equal(o, xi)) for o, xi in zip(out, x)]
    assert all(f != k for f, k in zip(flipped, kept))
    assert 3 <= sum(flipped) <= 13


def test_pca_lighting_shifts_every_pixel_along_the_components(cifar):
    values, vectors = A.pca_lighting_stats(cifar[0])
    np.testing.assert_allclose(vectors.T @ vectors, np.eye(3), atol=1e-5)
    assert values[0] > values[1] > values[2] > 0
    mid = tf.fill((4, 8, 8, 3), 0.5)  # away from the clip
    out = A.PCALighting(values, vectors, std=0.1).augment(mid, tf.constant([7, 7])).numpy()
    shift = out - 0.5
    np.testing.assert_allclose(shift, np.broadcast_to(shift[:, :1, :1], shift.shape), atol=1e-6)
    alpha = shift[:, 0, 0] @ vectors / values  # the N(0, 0.1) draws
    assert np.abs(alpha).max() < 0.5 and np.abs(alpha).max() > 0


def test_mixup_and_cutmix_mix_labels_by_content(batch):
    labels = tf.one_hot(tf.range(16) % 10, 10)
    for layer in (A.MixUp(0.4), A.CutMix(1.0)):
        x, y = layer.augment_pair(batch, labels, tf.constant([5, 6]))
        assert x.shape == batch.shape
        np.testing.assert_allclose(tf.reduce_sum(y, axis=1), np.ones(16), atol=1e-5)
        assert float(tf.reduce_max(y)) <= 1.0 + 1e-6


def test_presets_and_errors():
    names = [layer.name for layer in A.build_augmentation("standard", (32, 32),
                                                          pca=([1.0], [[1.0]]))]
    assert names == ["crop", "flip", "rotate", "lighting", "brightness", "saturation",
                     "contrast"]
    assert [type(la).__name__ for la in A.build_augmentation("alexnet,mixup", (224, 224),
                                                             pca=([1.0], [[1.0]]))] == [
        "ScaleJitter", "RandomHorizontalFlip", "PCALighting", "MixUp"]
    vgg = A.build_augmentation("vgg", (224, 224))[0]
    assert vgg.scale_range == (256.0, 512.0)
    assert A.build_augmentation("none", (32, 32)) == []
    with pytest.raises(ValueError, match=r"^Unknown augmentation 'blur'; allowed: presets none, "
                                         r"cifar, standard, alexnet, vgg, inception or crop, "
                                         r"pad_crop, scale"):
        A.build_augmentation("flip,blur", (32, 32))
    assert [la.name for la in A.build_augmentation("cifar", (32, 32))] == ["pad_crop", "flip"]


def test_pad_crop_shifts_each_image_within_four_pixels():
    import numpy as np

    x = np.zeros((6, 8, 8, 1), np.float32)
    x[:, 4, 4, 0] = 1.0  # one bright pixel in each image
    layer = A.PadCrop(4)
    out = np.asarray(layer.augment(x, np.array([3, 7], np.int32)))
    assert out.shape == x.shape
    for img in out:
        ys, xs = np.nonzero(img[..., 0])
        assert img.sum() <= 1.0  # moved (or pushed out), never duplicated
        for y, xx in zip(ys, xs):
            assert abs(y - 4) <= 4 and abs(xx - 4) <= 4
    # a different seed gives other offsets; the same seed, the same ones
    again = np.asarray(layer.augment(x, np.array([3, 7], np.int32)))
    np.testing.assert_array_equal(out, again)


def _epoch(ds):
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
    return np.concatenate(xs), np.concatenate(ys)


def test_order_and_augmentation_are_functions_of_seed_and_epoch(cifar):
    x, y = cifar
    kw = dict(batch_size=64, image_size=(24, 24), training=True, seed=11, augment="standard")
    running = make_dataset(x, y, **kw)
    epoch0, epoch1 = _epoch(running), _epoch(running)
    assert not np.array_equal(epoch0[1], epoch1[1])  # reshuffled
    assert sorted(epoch0[1]) == sorted(y.tolist())  # every image once
    # a resumed run at epoch 1 sees exactly epoch 1's batches
    resumed = make_dataset(x, y, epoch=1, **kw)
    np.testing.assert_array_equal(_epoch(resumed)[0], epoch1[0])
    np.testing.assert_array_equal(_epoch(resumed)[1], epoch1[1])  # an int epoch stays put
    counter = EpochCounter()
    ds = make_dataset(x, y, epoch=counter, **kw)
    counter.set(1)
    np.testing.assert_array_equal(_epoch(ds)[0], epoch1[0])
    assert counter.value == 2
    other = _epoch(make_dataset(x, y, epoch=1, **{**kw, "seed": 12}))
    assert not np.array_equal(other[1], epoch1[1])


def test_epoch_counter_follows_keras_fit(cifar):
    x, y = cifar
    seen = []
    counter = EpochCounter()
    ds = make_dataset(x[:64], y[:64], batch_size=32, training=True, seed=0, epoch=counter)

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(counter.value)

    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(),
                              keras.layers.Dense(10)])
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(ds, epochs=4, initial_epoch=2, verbose=0,
              callbacks=[counter.callback(), Record()])
    assert seen == [3, 4]  # epochs 2 and 3 were drawn, each once


def test_eval_resize_modes_and_one_hot():
    x = np.zeros((2, 40, 20, 3), np.uint8)
    x[:, 10:30] = 255  # the central 20x20 square is white
    crop = next(iter(make_dataset(x, np.array([1, 2]), batch_size=2, image_size=(20, 20),
                                  resize="crop", one_hot=True, num_classes=3)))
    assert crop[0].shape == (2, 20, 20, 3) and float(tf.reduce_min(crop[0])) == 255.0
    np.testing.assert_array_equal(crop[1], [[0, 1, 0], [0, 0, 1]])
    plain = next(iter(make_dataset(x, np.array([1, 2]), batch_size=2, image_size=(20, 20),
                                   resize="plain")))
    assert float(tf.reduce_min(plain[0])) == 0.0
