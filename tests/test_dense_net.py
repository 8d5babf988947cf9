"""DenseNet: blocks, parameter counts, keras.applications equivalence, the
memory-efficient mode (same outputs, gradients and BN statistics), arguments."""

import keras
import numpy as np
import pytest

import kerascnn
from kerascnn.applications import DenseNetCIFAR
from kerascnn.models.densenet.blocks import dense_block, dense_fast_block, transition
from kerascnn.models.densenet.model import DenseNet, copy_weights_by_name
from tests._weights import randomize_weights


def _trainable(model):
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


@pytest.mark.parametrize("keras_name, depth", [("DenseNet121", 121), ("DenseNet169", 169),
                                               ("DenseNet201", 201)])
def test_same_as_keras_applications(keras_name, depth):
    kw = dict(input_shape=(32, 32, 3), classes=7, classifier_activation=None)
    theirs = getattr(keras.applications, keras_name)(weights=None, **kw)
    ours = kerascnn.create_model(f"densenet{depth}", **kw)
    assert ours.count_params() == theirs.count_params()
    randomize_weights(theirs, seed=depth)  # BN gammas and statistics too
    assert kerascnn.transfer_weights(theirs, ours) == len([lyr for lyr in theirs.layers if lyr.weights])
    x = np.random.default_rng(1).normal(size=(2, 32, 32, 3)).astype("float32")
    diff = np.abs(np.asarray(ours(x, training=False)) - np.asarray(theirs(x, training=False)))
    assert diff.max() < 1e-5


def test_layer_names_follow_keras():
    model = kerascnn.create_model("densenet121", input_shape=(32, 32, 3), classes=3)
    names = {layer.name for layer in model.layers}
    assert {"conv1_conv", "conv1_bn", "pool1", "conv2_block1_0_bn", "conv2_block1_1_conv",
            "conv2_block1_2_conv", "conv2_block6_concat", "pool2_conv", "pool4_pool",
            "conv5_block16_concat", "bn", "relu", "avg_pool", "predictions"} <= names
    assert "conv5_block17_concat" not in names and "pool5_conv" not in names


@pytest.mark.parametrize("name, kwargs, trainable", [
    ("densenet40_cifar", {}, 1019722),
    ("densenet40_cifar", {"block": "dense_fast"}, 1019722),
    ("densenet40_cifar", {"memory_efficient": True}, 1019722),
    ("densenet_bc100_cifar", {"memory_efficient": True}, 769162),
    ("densenet_bc100_cifar", {"block": "dense_fast", "memory_efficient": True}, 769162),
])
def test_cifar_variant_counts(name, kwargs, trainable):
    model = kerascnn.create_model(name, **kwargs)
    assert model.input.shape == (None, 32, 32, 3) and model.output.shape == (None, 10)
    assert _trainable(model) == trainable


def test_imagenet_densenets_counts():
    assert _trainable(kerascnn.create_model("densenet161")) == 28681000
    assert _trainable(kerascnn.create_model("densenet264", memory_efficient=True)) == 33337704


def test_seed000_flags_build_densenet40():
    # train.py --n=13 --num_filters=16 --block=dense_fast: DenseNet-40.
    model = DenseNetCIFAR(n=13, num_filters=16, block="dense_fast")
    assert _trainable(model) == 1019722
    names = {layer.name for layer in model.layers}
    assert "conv4_block12_concat" in names and "conv4_block13_concat" not in names
    assert "conv2_block1_0_scale" in names and "conv2_block1_1_bn" in names
    with pytest.raises(ValueError, match=r"DenseNet has no `width` multiplier \(use growth_rate\); "
                                         r"width must be 1, got width=4\."):
        DenseNetCIFAR(n=13, width=4)


def test_registry_patterns():
    # A name without _k is the paper's table 2 network of that depth.
    assert kerascnn.model_info("densenet_bc250_cifar")["kwargs"] == \
        {"depth": 250, "bc": True, "growth_rate": 24}
    assert kerascnn.model_info("densenet_bc190_cifar")["kwargs"]["growth_rate"] == 40
    assert kerascnn.model_info("densenet100_cifar")["kwargs"]["growth_rate"] == 12
    assert kerascnn.model_info("densenet100_k24_cifar")["kwargs"] == \
        {"depth": 100, "bc": False, "growth_rate": 24}
    assert kerascnn.model_info("densenet_bc52_cifar")["kwargs"]["growth_rate"] == 12
    assert {"densenet40_cifar", "densenet100_cifar", "densenet100_k24_cifar",
            "densenet_bc100_cifar", "densenet_bc190_cifar",
            "densenet_bc250_cifar"} <= set(kerascnn.list_models("densenet*"))
    for bad in ("densenet41_cifar", "densenet_bc42_cifar", "densenet40_k0_cifar"):
        with pytest.raises(ValueError, match="Unknown model"):
            kerascnn.create_model(bad)


def test_blocks_shapes_and_counts():
    x = keras.Input((8, 8, 16))
    y = dense_block(x, 3, 12, name="b")
    assert y.shape == (None, 8, 8, 16 + 36)
    z = dense_block(x, 2, 12, bottleneck=True, name="c")
    assert z.shape == (None, 8, 8, 40)
    f = dense_fast_block(x, 2, 12, name="f")
    assert f.shape == (None, 8, 8, 40)
    t = transition(y, 0.5, name="t")
    assert t.shape == (None, 4, 4, 26)
    m = keras.Model(x, [y, z, f, t])
    layer = {lyr.name: lyr for lyr in m.layers}
    # H_l = BN-ReLU-Conv3x3: 2 c + 9 c k weights for c input channels.
    assert sum(layer[f"b_block{i}_0_bn"].count_params() for i in (1, 2, 3)) == \
        4 * (16 + 28 + 40)
    assert layer["b_block3_1_conv"].kernel.shape == (3, 3, 40, 12)
    assert layer["c_block2_1_conv"].kernel.shape == (1, 1, 28, 48)   # 4k bottleneck
    assert layer["t_conv"].kernel.shape == (1, 1, 52, 26)
    assert not layer["f_block1_1_bn"].trainable_weights     # scale/offset-free BN
    with pytest.raises(ValueError, match=r"`compression` must be in \(0, 1\]; got compression=0"):
        transition(y, 0, name="u")
    with pytest.raises(ValueError, match=r"`growth_rate` must be a positive integer; "
                                         r"got growth_rate=0\."):
        dense_block(x, 2, 0)


def _pair(**kwargs):
    plain = DenseNet(**kwargs, memory_efficient=False)
    efficient = DenseNet(**kwargs, memory_efficient=True)
    randomize_weights(plain, seed=3)
    assert copy_weights_by_name(plain, efficient) == len(
        [lyr for lyr in plain.layers if lyr.weights])
    return plain, efficient


def _grads(model, x, y):
    import tensorflow as tf  # the test backend; the models themselves are backend-agnostic

    with tf.GradientTape() as tape:
        logits = model(x, training=True)
        loss = keras.ops.mean(keras.losses.sparse_categorical_crossentropy(
            y, logits, from_logits=True))
    grads = tape.gradient(loss, model.trainable_variables)
    return logits, {v.path.split("/")[-2] + "/" + v.name: np.asarray(g)
                    for v, g in zip(model.trainable_variables, grads)}


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="gradient tape test")
@pytest.mark.parametrize("kwargs", [
    dict(blocks=(2, 3, 2), growth_rate=6, bottleneck=True, compression=0.5, stem="cifar"),
    dict(blocks=(3, 2), growth_rate=4, bottleneck=False, compression=1.0, stem="cifar",
         block="dense_fast", init_channels=8),
    dict(blocks=(2, 2, 1, 1), growth_rate=4, bottleneck=True, compression=0.5,
         stem="imagenet"),
], ids=["bc", "dense_fast", "imagenet_stem"])
def test_memory_efficient_same_outputs_and_gradients(kwargs):
    shape = (64, 64, 3) if kwargs["stem"] == "imagenet" else (32, 32, 3)
    plain, efficient = _pair(input_shape=shape, classes=5, classifier_activation=None, **kwargs)
    rng = np.random.default_rng(7)
    x = rng.normal(size=(3,) + shape).astype("float32")
    y = np.array([0, 3, 4])
    for training in (False, True):
        a, b = plain(x, training=training), efficient(x, training=training)
        assert np.abs(np.asarray(a) - np.asarray(b)).max() < 1e-5
    la, ga = _grads(plain, x, y)
    lb, gb = _grads(efficient, x, y)
    assert np.abs(np.asarray(la) - np.asarray(lb)).max() < 1e-5
    assert sorted(ga) == sorted(gb) and len(ga) == len(plain.trainable_variables)
    for key in ga:
        # float32: 1e-5 absolute, relative to the gradient's scale where it exceeds 1.
        scale = max(1.0, float(np.abs(ga[key]).max()))
        assert np.abs(ga[key] - gb[key]).max() < 1e-5 * scale, key
    # The BN moving statistics were updated alike by the training calls.
    sa = {v.path.split("/")[-2] + "/" + v.name: np.asarray(v)
          for v in plain.non_trainable_variables}
    sb = {v.path.split("/")[-2] + "/" + v.name: np.asarray(v)
          for v in efficient.non_trainable_variables}
    assert sorted(sa) == sorted(sb)
    for key in sa:
        assert np.abs(sa[key] - sb[key]).max() < 1e-5, key


def test_memory_efficient_model_saves_and_loads(tmp_path):
    model = DenseNetCIFAR(depth=16, growth_rate=4, bc=True, memory_efficient=True,
                          input_shape=(16, 16, 3), classes=3)
    x = np.random.default_rng(0).normal(size=(2, 16, 16, 3)).astype("float32")
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert np.abs(np.asarray(loaded(x)) - np.asarray(model(x))).max() < 1e-6


def test_argument_errors():
    with pytest.raises(ValueError, match=r"`block` must be 'dense' or 'dense_fast'; "
                                         r"got block='normal'\."):
        kerascnn.create_model("densenet40_cifar", block="normal")
    with pytest.raises(ValueError, match=r"`depth` must be 6m\+4 with m >= 1 for DenseNet-BC; "
                                         r"got depth=42\."):
        DenseNetCIFAR(depth=42, bc=True)
    with pytest.raises(ValueError, match=r"This architecture has no ImageNet weights"):
        kerascnn.create_model("densenet264", weights="imagenet")
    with pytest.raises(ValueError, match=r"`memory_efficient` must be True or False; got 1\."):
        kerascnn.create_model("densenet_bc100_cifar", memory_efficient=1)
