"""LocalResponseNormalization, vgg_block and nin_block."""

import keras
import numpy as np
import pytest

from kerascnn.layers.lrn import ALEXNET_LRN, GOOGLENET_LRN, LocalResponseNormalization
from kerascnn.models.nin.blocks import nin_block
from kerascnn.models.vgg.blocks import vgg_block


def test_lrn_hand_computed_small_window():
    # One pixel, channels a = (1, 2, 3), n=3, k=1, alpha=1, beta=1:
    # b0 = 1 / (1 + 1 + 4), b1 = 2 / (1 + 1 + 4 + 9), b2 = 3 / (1 + 4 + 9).
    x = np.array([[[[1.0, 2.0, 3.0]]]], dtype="float32")
    y = LocalResponseNormalization(n=3, k=1.0, alpha=1.0, beta=1.0)(x)
    np.testing.assert_allclose(np.asarray(y)[0, 0, 0], [1 / 6, 2 / 15, 3 / 14], rtol=1e-6)


def test_lrn_hand_computed_paper_defaults():
    # k=2, n=5, alpha=1e-4, beta=0.75; channels (10, 20, 30, 40, 50, 60).
    a = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
    # Window sums of squares (two neighbours each side, clipped at the ends).
    sums = [100 + 400 + 900, 100 + 400 + 900 + 1600, 100 + 400 + 900 + 1600 + 2500,
            400 + 900 + 1600 + 2500 + 3600, 900 + 1600 + 2500 + 3600, 1600 + 2500 + 3600]
    expected = [ai / (2 + 1e-4 * s) ** 0.75 for ai, s in zip(a, sums)]
    x = np.array(a, dtype="float32").reshape(1, 1, 1, 6)
    y = np.asarray(LocalResponseNormalization()(x)).ravel()
    np.testing.assert_allclose(y, expected, rtol=1e-6)


def test_lrn_caffe_convention_divides_alpha_by_the_window():
    # BVLC GoogLeNet: local_size 5, alpha 1e-4, beta 0.75, k 1; Caffe scales by alpha / n.
    a = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
    sums = [100 + 400 + 900, 100 + 400 + 900 + 1600, 100 + 400 + 900 + 1600 + 2500,
            400 + 900 + 1600 + 2500 + 3600, 900 + 1600 + 2500 + 3600, 1600 + 2500 + 3600]
    x = np.array(a, dtype="float32").reshape(1, 1, 1, 6) * 10
    caffe = np.asarray(LocalResponseNormalization(**GOOGLENET_LRN)(x)).ravel()
    expected = [10 * ai / (1 + 1e-4 / 5 * 100 * s) ** 0.75 for ai, s in zip(a, sums)]
    np.testing.assert_allclose(caffe, expected, rtol=1e-6)
    plain = np.asarray(LocalResponseNormalization(n=5, k=1.0, alpha=1e-4)(x)).ravel()
    assert np.all(plain < caffe)  # the same alpha on the plain sum normalizes five times harder
    assert ALEXNET_LRN == dict(n=5, k=2.0, alpha=1e-4, beta=0.75, alpha_per_window=False)


def test_lrn_rejects_a_non_boolean_convention():
    with pytest.raises(ValueError, match=r"`alpha_per_window` must be True or False; "
                                         r"got alpha_per_window='caffe'\."):
        LocalResponseNormalization(alpha_per_window="caffe")


def test_lrn_channels_first_axis_and_config_roundtrip(tmp_path):
    x = np.random.RandomState(0).rand(2, 6, 3, 3).astype("float32")
    first = np.asarray(LocalResponseNormalization(axis=1)(x))
    last = np.asarray(LocalResponseNormalization()(np.transpose(x, (0, 2, 3, 1))))
    np.testing.assert_allclose(first, np.transpose(last, (0, 3, 1, 2)), rtol=1e-6)

    inputs = keras.Input((4, 4, 8))
    model = keras.Model(inputs, LocalResponseNormalization(n=3, alpha=2e-4, alpha_per_window=True,
                                                           name="lrn")(inputs))
    path = tmp_path / "lrn.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    layer = loaded.get_layer("lrn")
    assert (layer.n, layer.alpha, layer.k, layer.beta, layer.alpha_per_window) == \
        (3, 2e-4, 2.0, 0.75, True)
    z = np.random.RandomState(1).rand(1, 4, 4, 8).astype("float32") * 50
    np.testing.assert_allclose(loaded.predict(z, verbose=0), model.predict(z, verbose=0))


def test_lrn_rejects_even_window():
    with pytest.raises(ValueError, match=r"`n` must be a positive odd integer; got n=4\."):
        LocalResponseNormalization(n=4)


def test_vgg_block_shapes_and_params():
    x = keras.Input((32, 32, 3))
    y = vgg_block(x, 2, 64, name="block1")
    model = keras.Model(x, y)
    assert y.shape == (None, 16, 16, 64)
    assert [layer.name for layer in model.layers[1:]] == ["block1_conv1", "block1_conv2",
                                                         "block1_pool"]
    assert model.count_params() == (27 * 64 + 64) + (9 * 64 * 64 + 64)
    z = vgg_block(x, 3, 8, name="b", kernel_sizes=[3, 3, 1], batch_norm=True)
    # 3x3x3x8+8, 3x3x8x8+8, 1x1x8x8+8 and three BNs of 4 x 8 (gamma, beta, mean, variance).
    assert keras.Model(x, z).count_params() == 224 + 584 + 72 + 3 * 32
    with pytest.raises(ValueError, match=r"`kernel_sizes` must have one entry per convolution"):
        vgg_block(x, 2, 8, kernel_sizes=[3])
    with pytest.raises(ValueError, match=r"`num_convs` must be a positive integer"):
        vgg_block(x, 0, 8)


def test_nin_block_shapes_and_params():
    x = keras.Input((224, 224, 3))
    y = nin_block(x, 96, 11, 4, padding=0, name="nin1")
    assert y.shape == (None, 54, 54, 96)
    model = keras.Model(x, y)
    assert model.count_params() == (11 * 11 * 3 * 96 + 96) + 2 * (96 * 96 + 96)
    z = nin_block(x, 192, 5, mlp_filters=(160, 96), name="s1")
    assert z.shape == (None, 224, 224, 96)
    with pytest.raises(ValueError, match=r"`padding` must be 'same', 'valid' or an integer"):
        nin_block(x, 8, 3, padding="full")
