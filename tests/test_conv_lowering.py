"""kerascnn's Conv2D: Keras' Conv2D, computed as patches @ kernel where XLA:CPU is slow.

The patch product must equal Keras' own convolution at every kernel, stride, padding and
odd size (here, on the test process' backend); on JAX's CPU backend the layer must take that
route for exactly the cases it promises (1x1, maps smaller than the kernel, stems), give the
native convolution's outputs and gradients, and compile with no XLA convolution left for them.
"""

import os
import pathlib
import re
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from keras import ops

from kerascnn.layers import Conv2D, DepthwiseConv2D
from kerascnn.layers.conv import (
    depthwise_taps,
    matmul_lowering,
    patches_matmul,
    set_jax_cpu_lowering,
)

ROOT = pathlib.Path(__file__).resolve().parent.parent

def test_the_package_builds_convolutions_with_these_layers():
    """Every family gets the JAX lowering only if none builds Keras' own Conv2D or
    DepthwiseConv2D directly."""

    pattern = re.compile(r"(?<![A-Za-z_.])(?:keras\.)?layers\.(?:Depthwise)?Conv2D\(")
    found = [f"{path.relative_to(ROOT)}:{n}" for path in sorted((ROOT / "kerascnn").rglob("*.py"))
             for n, line in enumerate(path.read_text().splitlines(), 1)
             if pattern.search(line)]
    assert found == [], "use kerascnn.layers.conv.Conv2D / DepthwiseConv2D: " + ", ".join(found)


CASES = [  # (input size, channels in, kernel, stride, padding)
    ((7, 9), 3, (7, 7), 2, "valid"),
    ((9, 11), 3, (7, 7), 2, "same"),
    ((2, 2), 16, (3, 3), 1, "same"),
    ((1, 1), 16, (3, 3), 1, "same"),
    ((3, 2), 8, (1, 7), 1, "same"),
    ((13, 13), 8, (1, 1), 2, "same"),
    ((13, 13), 8, (1, 1), 2, "valid"),
    ((6, 9), 8, (3, 3), 2, "same"),
    ((5, 5), 4, (5, 5), 1, "valid"),
]


@pytest.mark.parametrize("size,channels,kernel,stride,padding", CASES)
def test_patch_product_equals_keras_convolution(size, channels, kernel, stride, padding):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, *size, channels)).astype("float32")
    w = rng.standard_normal((*kernel, channels, 6)).astype("float32")
    want = ops.convert_to_numpy(ops.conv(x, w, strides=stride, padding=padding))
    got = ops.convert_to_numpy(patches_matmul(ops.convert_to_tensor(x),
                                              ops.convert_to_tensor(w), (stride, stride),
                                              padding))
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-5 * np.abs(want).max())


DEPTHWISE_CASES = [  # (input size, channels, kernel, stride, padding, depth multiplier)
    ((7, 9), 5, (3, 3), 1, "same", 1),
    ((8, 8), 4, (3, 3), 2, "same", 1),
    ((9, 7), 4, (3, 3), 2, "same", 1),
    ((2, 2), 6, (3, 3), 1, "same", 1),
    ((9, 9), 3, (5, 5), 2, "valid", 2),
]


@pytest.mark.parametrize("size,channels,kernel,stride,padding,multiplier", DEPTHWISE_CASES)
def test_depthwise_taps_equal_keras_depthwise_convolution(size, channels, kernel, stride,
                                                          padding, multiplier):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, *size, channels)).astype("float32")
    w = rng.standard_normal((*kernel, channels, multiplier)).astype("float32")
    want = ops.convert_to_numpy(ops.depthwise_conv(x, w, strides=stride, padding=padding))
    got = ops.convert_to_numpy(depthwise_taps(ops.convert_to_tensor(x), ops.convert_to_tensor(w),
                                              (stride, stride), padding))
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-5 * np.abs(want).max())


def test_which_convolutions_take_the_patch_product():
    on_jax_cpu = keras.backend.backend() == "jax"
    args = dict(strides=(1, 1), dilation_rate=(1, 1), groups=1, data_format="channels_last")
    assert matmul_lowering((1, 1), input_hw=(32, 32), in_channels=256, **args) is on_jax_cpu
    assert matmul_lowering((3, 3), input_hw=(2, 2), in_channels=512, **args) is on_jax_cpu
    assert matmul_lowering((7, 7), input_hw=(224, 224), in_channels=3, **args) is on_jax_cpu
    # An ordinary 3x3 convolution, a grouped one, a dilated one, an unknown size: native.
    assert matmul_lowering((3, 3), input_hw=(3, 3), in_channels=512, **args) is False
    assert matmul_lowering((1, 1), input_hw=(8, 8), in_channels=64,
                           **dict(args, groups=4)) is False
    assert matmul_lowering((1, 1), input_hw=(8, 8), in_channels=64,
                           **dict(args, dilation_rate=(2, 2))) is False
    assert matmul_lowering((1, 1), input_hw=(None, None), in_channels=64, **args) is False


def test_lowering_mode_is_checked():
    with pytest.raises(ValueError) as err:
        set_jax_cpu_lowering("fast")
    assert str(err.value) == "lowering must be one of auto, native; got 'fast'."


def test_saved_model_loads_back_as_kerascnn_layers(tmp_path):
    inputs = keras.Input((5, 5, 3))
    x = Conv2D(4, 3, padding="same", name="c")(inputs)
    model = keras.Model(inputs, DepthwiseConv2D(3, depth_multiplier=2, name="d")(x))
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded.get_layer("c")) is Conv2D
    assert type(loaded.get_layer("d")) is DepthwiseConv2D
    x = np.random.default_rng(1).standard_normal((2, 5, 5, 3)).astype("float32")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


JAX_CHECK = textwrap.dedent("""
    import jax, keras, numpy as np
    import kerascnn
    from kerascnn.layers import conv

    # One convolution of each rewritten kind and an ordinary 3x3 one.
    inputs = keras.Input((15, 15, 3))
    x = conv.Conv2D(8, 7, strides=2, name="stem")(inputs)            # 7x7 on RGB: a stem
    x = conv.Conv2D(16, 1, name="pointwise")(x)                      # 1x1 on 5x5
    x = conv.Conv2D(16, 3, padding="same", name="ordinary")(x)       # 3x3 on 5x5: native
    x = keras.layers.MaxPooling2D(2)(x)                              # 2x2 map
    x = conv.Conv2D(16, 3, padding="same", name="small_map")(x)      # 3x3 on a 2x2 map
    x = conv.DepthwiseConv2D(3, padding="same", name="depthwise")(x)  # a sum over 9 taps
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x))
    model.compile(optimizer="sgd", loss="mse")
    params = [v.value for v in model.trainable_variables]
    data = np.random.default_rng(0).standard_normal((4, 15, 15, 3)).astype("float32")

    def loss(params, x):
        y, _ = model.stateless_call(params, [], x)
        return (y ** 2).sum(), y

    def run(mode):
        conv.set_jax_cpu_lowering(mode)
        fn = jax.jit(jax.value_and_grad(loss, has_aux=True))
        hlo = fn.lower(params, data).compile().as_text()
        (value, y), grads = fn(params, data)
        return hlo.count(" convolution("), np.asarray(y), [np.asarray(g) for g in grads]

    native_convs, y0, g0 = run("native")
    auto_convs, y1, g1 = run("auto")
    print("convolutions", native_convs, auto_convs)
    scale = np.abs(y0).max()
    print("outputs", float(np.abs(y1 - y0).max() / scale))
    print("grads", max(float(np.abs(a - b).max() / np.abs(a).max()) for a, b in zip(g0, g1)))
""")


def test_jax_cpu_takes_the_patch_product_with_the_native_results(tmp_path):
    pytest.importorskip("jax")
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, "-c", JAX_CHECK], capture_output=True, text=True,
                            cwd=tmp_path, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    native, auto = map(int, lines["convolutions"].split())
    # Forward and backward: native compiles XLA convolutions for all five layers; auto keeps
    # them only for the ordinary 3x3 layer (its forward and its two gradients at most).
    assert native >= 10, result.stdout
    assert 1 <= auto <= 3, result.stdout
    assert float(lines["outputs"]) < 1e-5, result.stdout
    assert float(lines["grads"]) < 1e-5, result.stdout


TORCH_CHECK = textwrap.dedent("""
    import keras, numpy as np
    from keras import ops
    from kerascnn.layers import Conv2D

    for fmt in ("channels_first", "channels_last"):
        keras.config.set_image_data_format(fmt)
        shape = (3, 9, 9) if fmt == "channels_first" else (9, 9, 3)
        inputs = keras.Input(shape)
        layer = Conv2D(5, 3, padding="same", use_bias=False, name="c")
        model = keras.Model(inputs, layer(inputs))
        model.compile(optimizer="sgd", loss="mse")
        x = np.random.default_rng(0).uniform(size=(2, *shape)).astype("float32")

        def off():  # predict against Keras' own convolution of the current kernel
            want = ops.convert_to_numpy(ops.conv(x, layer.kernel, padding="same",
                                                 data_format=fmt))
            return float(np.abs(model.predict(x, verbose=0) - want).max())

        steps = [off(), "_torch_kernel" in layer.__dict__]
        layer.kernel.assign(np.full((3, 3, 3, 5), 0.5, "float32"))
        steps.append(off())
        model.train_on_batch(x, np.full((2, *model.output.shape[1:]), 9.0, "float32"))
        steps.append(off())
        print(fmt, *steps)
""")


def test_torch_inference_kernel_cache_follows_every_change_of_the_weights(tmp_path):
    pytest.importorskip("torch")
    env = dict(os.environ, KERAS_BACKEND="torch", TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, "-c", TORCH_CHECK], capture_output=True,
                            text=True, cwd=tmp_path, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.split("\n")[:2]
    for line, fmt in zip(lines, ("channels_first", "channels_last")):
        name, first, cached, after_assign, after_training = line.split()
        assert name == fmt and cached == "True", line
        # the cached kernel gives Keras' result before and after an assignment and a step
        assert max(map(float, (first, after_assign, after_training))) < 1e-5, line
