"""The seed-001 ResNet-50: blocks, parameter counts, arguments, keras equivalence."""

import keras
import numpy as np
import pytest

import kerascnn
from kerascnn.applications import ResNet50
from kerascnn.blocks import convolutional_block, identity_block
from tests._weights import randomize_weights, swap_two_batch_norms


def test_resnet50_imagenet_count_equals_keras():
    assert kerascnn.create_model("resnet50").count_params() == 25636712


@pytest.mark.parametrize("kwargs, shape", [
    (dict(classes=6), (None, 6)),
    (dict(input_shape=(64, 64, 3), classes=6), (None, 6)),
    (dict(include_top=False, input_shape=(64, 64, 3)), (None, 2, 2, 2048)),
    (dict(include_top=False, pooling="avg"), (None, 2048)),
    (dict(include_top=False), (None, None, None, 2048)),
])
def test_resnet50_output_shapes(kwargs, shape):
    assert ResNet50(**kwargs).output.shape == shape


def test_resnet50_seed_layer_names():
    model = ResNet50(input_shape=(64, 64, 3), classes=6)
    names = {layer.name for layer in model.layers}
    for stage, blocks in ((2, "abc"), (3, "abcd"), (4, "abcdef"), (5, "abc")):
        for b in blocks:
            for part in ("2a", "2b", "2c"):
                assert f"res{stage}{b}_branch{part}" in names
                assert f"bn{stage}{b}_branch{part}" in names
        assert f"res{stage}a_branch1" in names and f"bn{stage}a_branch1" in names
        assert f"res{stage}b_branch1" not in names
    assert {"conv1", "bn_conv1", "fc6"} <= names


def test_blocks_shapes_and_names():
    x = keras.Input((16, 16, 256))
    y = identity_block(x, 3, [64, 64, 256], stage=2, block="b")
    assert y.shape == (None, 16, 16, 256)
    z = convolutional_block(x, 3, [128, 128, 512], stage=3, block="a", s=2)
    assert z.shape == (None, 8, 8, 512)
    model = keras.Model(x, [y, z])
    conv = {layer.name: layer for layer in model.layers}
    assert conv["res3a_branch1"].strides == (2, 2)
    assert conv["res3a_branch2a"].strides == (2, 2)
    assert conv["res3a_branch2b"].kernel_size == (3, 3)
    assert conv["res2b_branch2a"].filters == 64 and conv["res2b_branch2c"].filters == 256
    # identity block: 3 convs (with bias) and 3 BNs.
    params = sum(conv[f"res2b_branch{p}"].count_params() for p in ("2a", "2b", "2c"))
    assert params == (256 * 64 + 64) + (9 * 64 * 64 + 64) + (64 * 256 + 256)


def test_block_argument_errors():
    x = keras.Input((16, 16, 128))
    with pytest.raises(ValueError, match=r"identity_block needs F3 equal to the input's 128 "
                                         r"channels; got filters=\[64, 64, 256\]"):
        identity_block(x, 3, [64, 64, 256], stage=2, block="b")
    with pytest.raises(ValueError, match=r"`filters` must be three positive integers"):
        convolutional_block(x, 3, [64, 256], stage=2, block="a")
    with pytest.raises(ValueError, match=r"`s` \(stride\) must be a positive integer; got s=0"):
        convolutional_block(x, 3, [64, 64, 256], stage=2, block="a", s=0)


@pytest.mark.parametrize("kwargs, message", [
    (dict(input_shape=(31, 64, 3)), r"Input size must be at least 32x32; got input_shape=\(31, 64, 3\)\."),
    (dict(input_shape=(64, 64)), r"`input_shape` must be a tuple of three positive integers"),
    (dict(pooling="sum", include_top=False), r"`pooling` must be None, 'avg' or 'max'; got pooling='sum'\."),
    (dict(classes=0), r"`classes` must be a positive integer; got classes=0\."),
    (dict(weights="/no/such/file.weights.h5"), r"`weights` file /no/such/file.weights.h5 does not exist\."),
    (dict(weights="imagenet21k"), r"`weights` for resnet50 must be None \(random initialization\), a tag \('imagenet'\) or .*; got weights='imagenet21k'\."),
    (dict(weights="imagenet", input_shape=(64, 64, 1), include_top=False), r"weights='imagenet' needs 3 input channels; got input_shape=\(64, 64, 1\)\."),
    (dict(include_top="yes"), r"`include_top` must be True or False"),
])
def test_resnet50_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=message) as info:
        ResNet50(**kwargs)
    assert "\n" not in str(info.value)


def test_imagenet_weights_offline_says_where(tmp_path, monkeypatch):
    from kerascnn.weights import loading

    def offline(host, timeout):
        raise OSError(f"cannot resolve {host}: offline")

    monkeypatch.setattr(loading, "_resolve_host", offline)  # no download even when online
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(ValueError, match=r"Cannot download https://storage.googleapis.com/"
                                         r"tensorflow/keras-applications/resnet/resnet50_weights_"
                                         r"tf_dim_ordering_tf_kernels_notop\.h5 .*; put the file "
                                         r"at .*models/resnet50_weights_tf_dim_ordering_tf_"
                                         r"kernels_notop\.h5") as info:
        ResNet50(weights="imagenet", include_top=False)
    assert "\n" not in str(info.value)


def test_imagenet_weights_from_keras_cache(tmp_path, monkeypatch):
    # Stand in for keras' ImageNet file: a keras ResNet50 saved in keras' legacy h5 layout
    # under the cache name; kerascnn must read it through keras and match keras' outputs.
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "models").mkdir()
    twin = keras.applications.ResNet50(weights=None, include_top=False, input_shape=(32, 32, 3))
    randomize_weights(twin)  # a fresh twin's BN statistics would hide a BN mix-up
    path = tmp_path / "models" / "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    randomize_weights(twin)  # every weight and BN statistic: a mix-up must show
    with h5py.File(path, "w") as f:  # the layout of keras' published .h5 files
        legacy_h5_format.save_weights_to_hdf5_group(f, twin)
    ours = ResNet50(weights="imagenet", include_top=False, input_shape=(32, 32, 3))
    x = np.random.RandomState(1).rand(2, 32, 32, 3).astype("float32")
    expected = twin.predict(x, verbose=0)
    np.testing.assert_allclose(ours.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5)
    # A new classifier (6 classes): everything else from keras' file with the top.
    top = randomize_weights(keras.applications.ResNet50(weights=None, input_shape=(32, 32, 3)),
                            seed=1)
    with h5py.File(tmp_path / "models" / "resnet50_weights_tf_dim_ordering_tf_kernels.h5",
                   "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, top)
    six = ResNet50(weights="imagenet", classes=6, input_shape=(32, 32, 3))
    body = keras.Model(six.input, six.get_layer(ours.layers[-1].name).output)
    top_body = keras.Model(top.input, top.get_layer("conv5_block3_out").output)
    np.testing.assert_allclose(body.predict(x, verbose=0), top_body.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-5)
    assert six.output.shape == (None, 6)
    assert len(list((tmp_path / "models" / "kerascnn" / "converted").glob("*.weights.h5"))) == 2


def test_transfer_from_keras_gives_equal_outputs():
    src = keras.applications.ResNet50(weights=None, classifier_activation=None)
    dst = kerascnn.create_model("resnet50", classifier_activation=None)
    x = np.random.RandomState(0).uniform(-1, 1, (2, 224, 224, 3)).astype("float32")
    randomize_weights(src)  # with fresh BN statistics a BN or bias mix-up changes nothing
    before = np.abs(src.predict(x, verbose=0) - dst.predict(x, verbose=0)).max()
    assert before > 1e-3  # independent random initialisations differ
    assert kerascnn.transfer_weights(src, dst) == 107
    expected = src.predict(x, verbose=0)
    diff = np.abs(expected - dst.predict(x, verbose=0)).max()
    assert diff < 1e-5 * max(1.0, float(np.abs(expected).max()))
    swap_two_batch_norms(dst)
    assert np.abs(expected - dst.predict(x, verbose=0)).max() > 1e-3


def test_transfer_rejects_different_architectures():
    src = keras.applications.ResNet50(weights=None, include_top=False, input_shape=(32, 32, 3))
    dst = kerascnn.create_model("resnet101", include_top=False, input_shape=(32, 32, 3))
    with pytest.raises(ValueError, match="Cannot transfer weights"):
        kerascnn.transfer_weights(src, dst)


def test_weights_file_roundtrip(tmp_path):
    a = ResNet50(input_shape=(32, 32, 3), classes=3)
    path = tmp_path / "w.weights.h5"
    a.save_weights(path)
    b = ResNet50(input_shape=(32, 32, 3), classes=3, weights=str(path))
    x = np.random.RandomState(2).rand(1, 32, 32, 3).astype("float32")
    np.testing.assert_allclose(a.predict(x, verbose=0), b.predict(x, verbose=0), atol=1e-6)
