"""The Inception line: modules, auxiliary heads, keras twins, input checks."""

import pathlib

import keras
import numpy as np
import pytest

import kerascnn
from kerascnn.applications import GoogLeNet, InceptionV3
from kerascnn.layers.scale import CustomScaleLayer
from kerascnn.models.googlenet.blocks import bn_inception_module, inception_naive, inception_v1
from kerascnn.models.inception_v4.blocks import inception_resnet_a, reduction_a
from tests._weights import randomize_weights, swap_two_batch_norms


def _trainable(model):
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def test_inception_modules_channels_and_params():
    x = keras.Input((28, 28, 192))
    naive = inception_naive(x, 64, 128, 32, name="naive")
    assert naive.shape == (None, 28, 28, 64 + 128 + 32 + 192)
    v1 = inception_v1(x, 64, 96, 128, 16, 32, 32, name="inception_3a")
    assert v1.shape == (None, 28, 28, 256)
    # 1x1 64, 1x1 96 -> 3x3 128, 1x1 16 -> 5x5 32, pool -> 1x1 32, all with biases.
    expected = (192 * 64 + 64) + (192 * 96 + 96) + (9 * 96 * 128 + 128) + (192 * 16 + 16) + \
        (25 * 16 * 32 + 32) + (192 * 32 + 32)
    assert keras.Model(x, v1).count_params() == expected == 163696
    reduced = bn_inception_module(x, 0, 128, 160, 64, 96, 0, pool="max", strides=2, name="3c")
    assert reduced.shape == (None, 14, 14, 160 + 96 + 192)
    with pytest.raises(ValueError, match=r"A stride-2 BN-Inception module has no 1x1 or pool "
                                         r"projection branch"):
        bn_inception_module(x, 64, 128, 160, 64, 96, 0, strides=2)
    y = keras.Input((35, 35, 384))
    assert reduction_a(y, 192, 224, 256, 384).shape == (None, 17, 17, 384 + 256 + 384)


def test_inception_resnet_scaling():
    x = keras.Input((35, 35, 320))
    y = inception_resnet_a(x, 0.17, activation=None, name="a")
    model = keras.Model(x, y)
    scale = model.get_layer("a_scale")
    assert isinstance(scale, CustomScaleLayer) and scale.scale == pytest.approx(0.17)
    up = model.get_layer("a_conv")
    assert up.use_bias and up.kernel.shape == (1, 1, 128, 320)
    # With the projection zeroed the block is the identity.
    up.kernel.assign(np.zeros(up.kernel.shape, "float32"))
    up.bias.assign(np.zeros(320, "float32"))
    z = np.random.RandomState(0).rand(1, 35, 35, 320).astype("float32")
    np.testing.assert_allclose(model.predict(z, verbose=0), z, atol=1e-6)
    s = CustomScaleLayer(0.5)
    np.testing.assert_allclose(np.asarray(s([np.ones((1, 2)), np.full((1, 2), 4.0)])), [[3, 3]])
    assert CustomScaleLayer.from_config(s.get_config()).scale == 0.5


def test_googlenet_aux_heads_outputs_and_counts():
    model = GoogLeNet(aux_logits=True)
    assert [o.shape for o in model.outputs] == [(None, 1000)] * 3
    assert model.output_names[0] == "predictions"
    assert model.get_layer("aux1_pool").input.shape == (None, 14, 14, 512)
    assert model.get_layer("aux2_pool").input.shape == (None, 14, 14, 528)
    assert model.get_layer("aux1_pool").output.shape == (None, 4, 4, 512)
    assert _trainable(model) == 13378280
    assert kerascnn.create_model("googlenet").count_params() == 6998552
    with pytest.raises(ValueError, match=r"`aux_logits=True` needs include_top=True"):
        GoogLeNet(aux_logits=True, include_top=False)
    with pytest.raises(ValueError, match=r"Input size must be at least 65x65"):
        GoogLeNet(aux_logits=True, input_shape=(64, 64, 3))


def _signs_batch(signs_dir, n=4, size=224):
    files = sorted(pathlib.Path(signs_dir, "train_signs").glob("*.jpg"))
    picked = [files[i] for i in np.linspace(0, len(files) - 1, n).astype(int)]
    images = [keras.utils.img_to_array(keras.utils.load_img(f, target_size=(size, size)))
              for f in picked]
    labels = np.array([int(f.name[0]) for f in picked])
    return np.stack(images) / 255.0, labels


def test_googlenet_aux_training_step_on_signs(signs_dir):
    x, y = _signs_batch(signs_dir)
    assert len(set(y.tolist())) > 1
    keras.utils.set_random_seed(0)
    model = GoogLeNet(aux_logits=True, classes=6)
    model.compile(optimizer=keras.optimizers.SGD(0.01),
                  loss=["sparse_categorical_crossentropy"] * 3, loss_weights=[1, 0.3, 0.3])
    before = [w.numpy().copy() for w in (model.get_layer("conv1").kernel,
                                         model.get_layer("aux1_fc").kernel,
                                         model.get_layer("aux2_predictions").kernel)]
    logs = model.train_on_batch(x, [y, y, y], return_dict=True)
    assert np.isfinite(logs["loss"])
    after = [model.get_layer(n).kernel.numpy() for n in ("conv1", "aux1_fc", "aux2_predictions")]
    assert all(np.abs(a - b).max() > 0 for a, b in zip(after, before))
    main, aux1, aux2 = model(x, training=False)
    assert main.shape == aux1.shape == aux2.shape == (4, 6)


def test_inception_v3_aux_head():
    model = InceptionV3(aux_logits=True, classes=10)
    assert [o.shape for o in model.outputs] == [(None, 10), (None, 10)]
    assert model.get_layer("aux_pool").input.shape == (None, 17, 17, 768)
    with pytest.raises(ValueError, match=r"keras' ImageNet file has no auxiliary head"):
        InceptionV3(aux_logits=True, weights="imagenet")
    with pytest.raises(ValueError, match=r"Input size must be at least 299x299"):
        InceptionV3(aux_logits=True, input_shape=(298, 298, 3))


def test_inception_v4_and_resnet_v1_layout():
    v4 = kerascnn.create_model("inception_v4", include_top=False, input_shape=(299, 299, 3))
    assert v4.get_layer("stem_mixed3").output.shape == (None, 35, 35, 384)
    assert v4.get_layer("reduction_a").output.shape == (None, 17, 17, 1024)
    assert v4.get_layer("reduction_b").output.shape == (None, 8, 8, 1536)
    assert v4.output.shape == (None, 8, 8, 1536)
    assert v4.get_layer("stem_conv1_bn").scale  # v4 learns BN's gamma
    v1 = kerascnn.create_model("inception_resnet_v1", include_top=False,
                               input_shape=(299, 299, 3))
    names = {layer.name for layer in v1.layers}
    assert v1.get_layer("stem_conv6").output.shape == (None, 35, 35, 256)
    assert v1.get_layer("reduction_a").output.shape == (None, 17, 17, 896)
    assert v1.get_layer("reduction_b").output.shape == (None, 8, 8, 1792)
    assert {f"block35_{i}_scale" for i in range(1, 6)} <= names and "block35_6_scale" not in names
    assert "block17_10_scale" in names and "block17_11_scale" not in names
    # Figure 18: five C modules, each as figure 13 (scaled sum then ReLU); no sixth linear one.
    assert {f"block8_{i}_ac" for i in range(1, 6)} <= names and "block8_6_scale" not in names
    assert [v1.get_layer(f"block8_{i}_scale").scale for i in range(1, 6)] == [0.2] * 5
    assert v1.layers[-1].name == "block8_5_ac"
    # 1,599,808 parameters more would be the sixth C module of the TF-slim-derived versions.
    assert _trainable(v1) == 22742808 - (1792 * 1000 + 1000)


TWINS = {  # keras constructor, minimum input size
    "inception_v3": (keras.applications.InceptionV3, 75),
    "inception_resnet_v2": (keras.applications.InceptionResNetV2, 75),
    "xception": (keras.applications.Xception, 71),
}


@pytest.mark.parametrize("name", sorted(TWINS))
def test_minimum_input_size_is_refused_below(name):
    size = TWINS[name][1]
    assert kerascnn.model_info(name)["min_input_size"] == size
    with pytest.raises(ValueError, match=rf"Input size must be at least {size}x{size}; "
                                         rf"got input_shape=\({size - 1}, {size}, 3\)\."):
        kerascnn.create_model(name, include_top=False, input_shape=(size - 1, size, 3))


@pytest.fixture(scope="module", params=sorted(TWINS))
def twin_pair(request):
    # Built at the minimum input size: this also shows that the minimum builds.
    twin, size = TWINS[request.param]
    shape = (size, size, 3)
    src = twin(weights=None, input_shape=shape, classifier_activation=None)
    dst = kerascnn.create_model(request.param, input_shape=shape, classifier_activation=None)
    return src, dst, size


def _max_diff(a, b, x):
    # Eager calls: tracing predict() for these graphs costs more than the computation.
    return float(np.abs(np.asarray(a(x, training=False)) - np.asarray(b(x, training=False))).max())


def test_keras_twin_transfer_equal_outputs(twin_pair):
    src, dst, size = twin_pair
    assert src.count_params() == dst.count_params()
    x = np.random.RandomState(0).uniform(-1, 1, (2, size, size, 3)).astype("float32")
    randomize_weights(src)  # with fresh BN statistics a BN or bias mix-up changes nothing
    assert _max_diff(src, dst, x) > 1e-5  # independent initialisations fail the check
    assert kerascnn.transfer_weights(src, dst) == len([w for w in src.layers if w.weights])
    assert _max_diff(src, dst, x) < 1e-4 * max(1.0, float(np.abs(np.asarray(src(x))).max()))
    swap_two_batch_norms(dst)  # the check sees a BN mix-up
    assert _max_diff(src, dst, x) > 1e-3


def test_xception_imagenet_weights_from_keras_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "models").mkdir()
    twin = keras.applications.Xception(weights=None, include_top=False, input_shape=(71, 71, 3))
    randomize_weights(twin)  # a fresh twin's BN statistics would hide a BN mix-up
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    path = tmp_path / "models" / "xception_weights_tf_dim_ordering_tf_kernels_notop.h5"
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, twin)
    ours = kerascnn.create_model("xception", weights="imagenet", include_top=False,
                                 input_shape=(71, 71, 3))
    x = np.random.RandomState(1).rand(1, 71, 71, 3).astype("float32")
    np.testing.assert_allclose(np.asarray(ours(x, training=False)),
                               np.asarray(twin(x, training=False)), atol=1e-5)


def test_bn_inception_pooling_per_module():
    # Batch Normalization paper, the Inception table: average pooling with a projection in
    # 3a-3b, 4a-4d and 5a, max pooling in 5b and in the stride-2 pass-through modules 3c, 4e.
    model = kerascnn.create_model("bn_inception", include_top=False, input_shape=(224, 224, 3))
    kinds = {m: type(model.get_layer(f"inception_{m}_pool")).__name__
             for m in ("3a", "3b", "3c", "4a", "4b", "4c", "4d", "4e", "5a", "5b")}
    assert kinds == {"3a": "AveragePooling2D", "3b": "AveragePooling2D", "3c": "MaxPooling2D",
                     "4a": "AveragePooling2D", "4b": "AveragePooling2D",
                     "4c": "AveragePooling2D", "4d": "AveragePooling2D", "4e": "MaxPooling2D",
                     "5a": "AveragePooling2D", "5b": "MaxPooling2D"}
    assert model.get_layer("inception_3c_pool").strides == (2, 2)
    assert model.get_layer("inception_5b_pool").strides == (1, 1)
    assert {"inception_3c_pool_proj", "inception_4e_pool_proj"}.isdisjoint(
        {layer.name for layer in model.layers})
