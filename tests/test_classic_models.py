"""LeNet-5, AlexNet / ZFNet, VGG (dense evaluation, keras twins) and NiN."""

import re

import keras
import numpy as np
import pytest

import kerascnn
from kerascnn.applications import AlexNet, LeNet5, NiN, NiNCIFAR
from kerascnn.models.vgg.model import VGG11, dense_to_fully_convolutional
from tests._weights import randomize_weights


def _trainable(model):
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def test_lenet5_layers_and_activation_option():
    model = LeNet5()
    assert model.input.shape == (None, 32, 32, 1)
    shapes = {layer.name: layer.output.shape for layer in model.layers}
    assert shapes["c1"] == (None, 28, 28, 6) and shapes["s2"] == (None, 14, 14, 6)
    assert shapes["c3"] == (None, 10, 10, 16) and shapes["s4"] == (None, 5, 5, 16)
    assert shapes["c5"] == (None, 1, 1, 120) and shapes["f6"] == (None, 84)
    assert model.get_layer("c1").activation.__name__ == "sigmoid"
    assert LeNet5(activation="relu").get_layer("f6").activation.__name__ == "relu"
    assert model.count_params() == 61706


def test_alexnet_groups_and_paper_shapes():
    model = AlexNet(classes=10)
    shapes = {layer.name: layer.output.shape for layer in model.layers}
    assert shapes["conv1"] == (None, 55, 55, 96) and shapes["lrn1"] == (None, 55, 55, 96)
    assert shapes["lrn2"] == (None, 27, 27, 256) and shapes["pool5"] == (None, 6, 6, 256)
    # The two-GPU split: conv2/4/5 see half the input channels.
    grouped = AlexNet(groups=2)
    assert grouped.get_layer("conv2").kernel.shape == (5, 5, 48, 256)
    assert grouped.get_layer("conv3").kernel.shape == (3, 3, 256, 384)
    assert grouped.count_params() == 62378344 - (307200 + 663552 + 442368)
    assert "lrn1" not in {layer.name for layer in AlexNet(lrn=False).layers}


def _inbound(model, layer_name):
    return model.get_layer(layer_name)._inbound_nodes[0].parent_nodes[0].operation.name


def test_lrn_order_is_each_papers():
    # AlexNet section 3.5: conv, LRN, pool; ZFNet figure 3 and CaffeNet: conv, pool, LRN.
    alexnet = AlexNet(include_top=False)
    assert [_inbound(alexnet, n) for n in ("lrn1", "pool1", "lrn2", "pool2")] == \
        ["conv1", "lrn1", "conv2", "lrn2"]
    caffe = AlexNet(include_top=False, lrn_order="after_pool")
    assert [_inbound(caffe, n) for n in ("pool1", "lrn1", "conv2", "pool2", "lrn2")] == \
        ["conv1", "pool1", "lrn1", "conv2", "pool2"]
    zf = kerascnn.create_model("zfnet", include_top=False)
    assert [_inbound(zf, n) for n in ("pool1", "lrn1")] == ["conv1", "pool1"]
    lrn = alexnet.get_layer("lrn1")
    assert (lrn.n, lrn.k, lrn.alpha, lrn.beta, lrn.alpha_per_window) == (5, 2.0, 1e-4, 0.75, False)
    with pytest.raises(ValueError, match=r"`lrn_order` must be None, 'before_pool' or "
                                         r"'after_pool'; got lrn_order='first'\."):
        AlexNet(lrn_order="first")


def test_googlenet_lrn_is_bvlc_googlenets():
    model = kerascnn.create_model("googlenet", include_top=False, input_shape=(64, 64, 3))
    for name, source in (("lrn1", "pool1"), ("lrn2", "conv2_relu")):
        layer = model.get_layer(name)
        assert (layer.n, layer.k, layer.alpha, layer.beta, layer.alpha_per_window) == \
            (5, 1.0, 1e-4, 0.75, True)
        assert _inbound(model, name) == source
    vgg = kerascnn.create_model("vgg11_lrn", include_top=False, input_shape=(32, 32, 3))
    assert vgg.get_layer("block1_lrn").k == 2.0 and not vgg.get_layer("block1_lrn").alpha_per_window


def test_zfnet_and_owt_shapes():
    zf = kerascnn.create_model("zfnet", include_top=False, input_shape=(224, 224, 3))
    assert zf.get_layer("conv1").output.shape[1:3] == (110, 110)
    assert zf.get_layer("pool1").output.shape[1:3] == (55, 55)
    assert zf.get_layer("conv2").output.shape[1:3] == (26, 26)
    assert zf.output.shape == (None, 6, 6, 256)
    owt = kerascnn.create_model("alexnet_owt", include_top=False, input_shape=(224, 224, 3))
    assert owt.output.shape == (None, 6, 6, 256)


@pytest.mark.parametrize("name", ["lenet5", "alexnet", "alexnet_owt", "zfnet", "vgg11", "nin",
                                  "nin_cifar", "googlenet", "bn_inception"])
def test_minimum_input_size_builds_and_one_less_is_refused(name):
    info = kerascnn.model_info(name)
    size, channels = info["min_input_size"], info["default_input_shape"][-1]
    model = kerascnn.create_model(name, include_top=False, input_shape=(size, size, channels))
    assert all(d is None or d >= 1 for d in model.output.shape[1:])
    if size > 1:
        with pytest.raises(ValueError, match=rf"Input size must be at least {size}x{size}"):
            kerascnn.create_model(name, include_top=False,
                                  input_shape=(size - 1, size - 1, channels))


@pytest.mark.parametrize("name, size", [("alexnet", 66), ("zfnet", 52)])
def test_true_minimum_one_less_does_not_build(name, size, monkeypatch):
    # Without the check, one pixel less leaves no room for the last pooling.
    import kerascnn.models.alexnet.model as module

    monkeypatch.setitem(module.CONFIGS[name], "min_size", 1)
    with pytest.raises(ValueError):
        kerascnn.create_model(name, include_top=False, input_shape=(size, size, 3))


@pytest.mark.parametrize("name, default", [("vgg16", (224, 224, 3)), ("alexnet", (227, 227, 3)),
                                           ("lenet5", (32, 32, 1))])
def test_fixed_size_heads_need_the_default_input(name, default):
    wrong = (default[0] + 32, default[1] + 32, default[2])
    message = f"With include_top=True the input shape must be {default}; got input_shape={wrong}."
    with pytest.raises(ValueError, match=re.escape(message)):
        kerascnn.create_model(name, input_shape=wrong)
    model = kerascnn.create_model(name, include_top=False, input_shape=wrong, pooling="avg")
    assert len(model.output.shape) == 2


def test_classic_argument_errors():
    with pytest.raises(ValueError, match=r"`groups` must be 1 or 2; got groups=3\."):
        AlexNet(groups=3)
    with pytest.raises(ValueError, match=r"This architecture has no ImageNet weights"):
        AlexNet(weights="imagenet")
    with pytest.raises(ValueError, match=r"`dropout` must be a rate in \[0, 1\); got dropout=1\."):
        VGG11(dropout=1.0)
    with pytest.raises(ValueError, match=r"`fully_convolutional` must be True or False"):
        VGG11(fully_convolutional="yes")


def test_vgg_configurations():
    c = kerascnn.create_model("vgg16_c", include_top=False, input_shape=(32, 32, 3))
    assert c.get_layer("block3_conv3").kernel.shape == (1, 1, 256, 256)
    assert c.get_layer("block5_conv2").kernel.shape == (3, 3, 512, 512)
    lrn = kerascnn.create_model("vgg11_lrn", include_top=False, input_shape=(32, 32, 3))
    assert type(lrn.get_layer("block1_lrn")).__name__ == "LocalResponseNormalization"
    bn = kerascnn.create_model("vgg11_bn", include_top=False, input_shape=(32, 32, 3))
    assert bn.get_layer("block1_conv1").use_bias
    assert {layer.name for layer in kerascnn.create_model("vgg16").layers} >= {
        "block5_conv3", "flatten", "fc1", "fc2", "predictions"}


def test_vgg_dense_evaluation_equals_dense_scores_and_gives_a_map():
    dense = VGG11(classes=5, classifier_activation=None)
    conv = VGG11(classes=5, classifier_activation=None, fully_convolutional=True)
    assert conv.input.shape == (None, None, None, 3)
    assert conv.get_layer("fc1").kernel.shape == (7, 7, 512, 4096)
    assert dense_to_fully_convolutional(dense, conv) == 11
    rng = np.random.RandomState(0)
    x = rng.uniform(0, 255, (1, 224, 224, 3)).astype("float32")
    scores = dense.predict(x, verbose=0)
    score_map = conv.predict(x, verbose=0)
    assert score_map.shape == (1, 1, 1, 5)
    np.testing.assert_allclose(score_map[:, 0, 0], scores, rtol=1e-4, atol=1e-4)
    big = rng.uniform(0, 255, (1, 384, 384, 3)).astype("float32")
    big_map = conv.predict(big, verbose=0)
    assert big_map.shape == (1, 6, 6, 5)
    with pytest.raises(ValueError, match=r"Input size must be at least 224x224"):
        VGG11(fully_convolutional=True, input_shape=(200, 200, 3))


@pytest.fixture(scope="module", params=["VGG16", "VGG19"])
def vgg_pair(request):
    src = getattr(keras.applications, request.param)(weights=None, classifier_activation=None)
    dst = kerascnn.create_model(request.param.lower(), classifier_activation=None)
    return src, dst


def test_vgg_keras_twin_transfer_equal_outputs(vgg_pair):
    src, dst = vgg_pair
    assert dst.count_params() == src.count_params()
    x = np.random.RandomState(0).uniform(0, 1, (1, 224, 224, 3)).astype("float32")
    randomize_weights(src)  # random biases too: a bias mix-up must change the output
    assert np.abs(src.predict(x, verbose=0) - dst.predict(x, verbose=0)).max() > 1e-3
    assert kerascnn.transfer_weights(src, dst) == len([w for w in src.layers if w.weights])
    expected = src.predict(x, verbose=0)
    tolerance = 1e-5 * max(1.0, float(np.abs(expected).max()))
    assert np.abs(expected - dst.predict(x, verbose=0)).max() < tolerance


def test_nin_models():
    model = NiN(classes=10)
    assert model.output.shape == (None, 10)
    assert model.get_layer("nin4_mlp2").output.shape == (None, 5, 5, 10)
    assert NiN(include_top=False).output.shape == (None, None, None, 384)
    cifar = NiNCIFAR()
    assert _trainable(cifar) == 966986
    assert cifar.get_layer("final_conv").output.shape == (None, 8, 8, 10)
    # The NiN head: the last mlpconv has one map per class, global average pooling, softmax.
    logits = NiNCIFAR(classifier_activation=None)
    randomize_weights(logits)
    x = np.random.RandomState(0).rand(2, 32, 32, 3).astype("float32")
    maps = np.asarray(keras.Model(logits.input, logits.get_layer("final_conv").output)(x))
    np.testing.assert_allclose(np.asarray(logits(x)), maps.mean(axis=(1, 2)), rtol=1e-4,
                               atol=1e-5)
