"""Stochastic depth: dropped blocks are the identity and skip their branch,
kept blocks add F(x), inference scales by p_l, models are unchanged when off."""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import kerascnn
from kerascnn.applications import CifarResNet
from kerascnn.layers import StochasticDepth, survival_probabilities


def _branch(channels=4):
    inp = keras.Input((6, 6, channels))
    t = keras.layers.Conv2D(channels, 3, padding="same", name="c")(inp)
    t = keras.layers.BatchNormalization(name="bn")(t)
    return keras.Model(inp, t, name="branch")


def _inputs(seed=0):
    rng = np.random.RandomState(seed)
    shortcut = rng.randn(3, 6, 6, 4).astype("float32")
    x = rng.randn(3, 6, 6, 4).astype("float32")
    return shortcut, x


def test_dropped_block_returns_its_input_and_keeps_branch_state():
    branch = _branch()
    layer = StochasticDepth(branch, survival_probability=0.0)
    shortcut, x = _inputs()
    moving_mean = np.array(branch.get_layer("bn").moving_mean)
    out = np.asarray(layer([shortcut, x], training=True))
    np.testing.assert_array_equal(out, shortcut)
    np.testing.assert_array_equal(np.array(branch.get_layer("bn").moving_mean), moving_mean)


def test_kept_block_returns_x_plus_branch_and_updates_state():
    branch = _branch()
    layer = StochasticDepth(branch, survival_probability=1.0)
    shortcut, x = _inputs(1)
    twin = _branch()
    twin.set_weights(branch.get_weights())
    expected = shortcut + np.asarray(twin(x, training=True))
    out = np.asarray(layer([shortcut, x], training=True))
    np.testing.assert_allclose(out, expected, atol=1e-5)
    np.testing.assert_allclose(np.array(branch.get_layer("bn").moving_mean),
                               np.array(twin.get_layer("bn").moving_mean), atol=1e-6)
    assert np.abs(np.array(branch.get_layer("bn").moving_mean)).max() > 0


def test_inference_scales_branch_by_survival_probability():
    branch = _branch()
    layer = StochasticDepth(branch, survival_probability=0.3)
    shortcut, x = _inputs(2)
    expected = shortcut + 0.3 * np.asarray(branch(x, training=False))
    np.testing.assert_allclose(np.asarray(layer([shortcut, x], training=False)), expected,
                               atol=1e-5)


class _CountingBranch(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = 0

    def build(self, input_shape):
        self.w = self.add_weight(shape=(), initializer="ones")

    def call(self, x, training=False):
        self.calls += 1
        return x * self.w


def test_dropped_branch_is_not_computed():
    branch = _CountingBranch()
    layer = StochasticDepth(branch, survival_probability=0.5, seed=3)
    shortcut, x = _inputs(3)
    layer([shortcut, x], training=False)
    branch.calls = 0
    outs = [np.asarray(layer([shortcut, x], training=True)) for _ in range(40)]
    kept = sum(not np.array_equal(o, shortcut) for o in outs)
    assert 5 < kept < 35  # both outcomes occur
    assert branch.calls == kept  # the branch ran only for kept blocks


def test_sample_mode_drops_per_sample():
    branch = _CountingBranch()
    layer = StochasticDepth(branch, survival_probability=0.5, mode="sample", seed=1)
    shortcut = np.zeros((64, 2, 2, 1), "float32")
    x = np.ones((64, 2, 2, 1), "float32")
    out = np.asarray(layer([shortcut, x], training=True))
    per_sample = out.reshape(64, -1)
    assert set(np.unique(per_sample)) == {0.0, 1.0}
    assert np.all(per_sample.min(axis=1) == per_sample.max(axis=1))  # one draw per sample
    assert 10 < per_sample[:, 0].sum() < 54


def test_linear_decay_schedule():
    assert survival_probabilities(4, 0.5) == [0.875, 0.75, 0.625, 0.5]
    model = CifarResNet(n=2, stochastic_depth=0.5)
    probs = [layer.survival_probability for layer in model.layers
             if isinstance(layer, StochasticDepth)]
    np.testing.assert_allclose(probs, [1 - k / 6 * 0.5 for k in range(1, 7)])


def test_off_leaves_model_unchanged_and_on_keeps_weights():
    plain = CifarResNet(n=2)
    off = CifarResNet(n=2, stochastic_depth=None)
    assert [type(la).__name__ for la in plain.layers] == [type(la).__name__ for la in off.layers]
    assert [la.name for la in plain.layers][1:] == [la.name for la in off.layers][1:]
    on = CifarResNet(n=2, stochastic_depth=0.5)
    assert sum(isinstance(la, StochasticDepth) for la in on.layers) == 6
    assert on.count_params() == plain.count_params()
    # inference computes every branch: the same MACs as the plain model
    from kerascnn.utils import count_macs
    assert count_macs(on) == count_macs(plain) > 0
    assert count_macs(kerascnn.create_model("resnet50", stochastic_depth=0.5)) == \
        count_macs(kerascnn.create_model("resnet50")) == 3_857_973_248
    # Same weights: with p_L = 1 inference equals the plain model.
    one = CifarResNet(n=2, stochastic_depth=1.0)
    one.set_weights(plain.get_weights())
    x = np.random.RandomState(0).rand(2, 32, 32, 3).astype("float32")
    np.testing.assert_allclose(one.predict(x, verbose=0), plain.predict(x, verbose=0), atol=1e-5)


def test_fit_in_graph_mode_and_reload(tmp_path):
    model = kerascnn.create_model("resnet20_cifar", n=1, stochastic_depth=0.5)
    model.compile("sgd", "sparse_categorical_crossentropy")
    rng = np.random.RandomState(0)
    x = rng.rand(16, 32, 32, 3).astype("float32")
    y = rng.randint(0, 10, 16)
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    path = tmp_path / "sd.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x[:2], verbose=0), model.predict(x[:2], verbose=0),
                               atol=1e-6)


@pytest.mark.slow
def test_fit_with_jax_backend():
    pytest.importorskip("jax")
    code = textwrap.dedent("""
        import numpy as np, keras, kerascnn
        assert keras.backend.backend() == "jax"
        for mode in ("batch", "sample"):
            m = kerascnn.create_model("resnet20_cifar", n=1, stochastic_depth=0.5,
                                      stochastic_depth_mode=mode)
            m.compile("sgd", "sparse_categorical_crossentropy")
            x = np.random.rand(8, 32, 32, 3).astype("float32")
            h = m.fit(x, np.arange(8) % 10, batch_size=4, epochs=1, verbose=0)
            assert np.isfinite(h.history["loss"][0])
        print("JAX-OK")
    """)
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, timeout=300)
    assert "JAX-OK" in result.stdout, result.stderr[-2000:]


@pytest.mark.parametrize("value, message", [
    (0.0, r"`stochastic_depth` must be None or a survival probability in \(0, 1\]; "
          r"got stochastic_depth=0\.0\."),
    (1.5, r"`stochastic_depth` must be None or a survival probability in \(0, 1\]; "
          r"got stochastic_depth=1\.5\."),
    ("0.5", r"`stochastic_depth` must be None or a survival probability"),
])
def test_stochastic_depth_argument_errors(value, message):
    with pytest.raises(ValueError, match=message):
        CifarResNet(n=1, stochastic_depth=value)


def test_stochastic_depth_mode_error():
    with pytest.raises(ValueError, match=r"`stochastic_depth_mode` must be 'batch' or 'sample'; "
                                         r"got stochastic_depth_mode='row'\."):
        CifarResNet(n=1, stochastic_depth=0.5, stochastic_depth_mode="row")
