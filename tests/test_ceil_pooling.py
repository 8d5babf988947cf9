"""CeilMaxPooling2D: PyTorch's/Caffe's ceil-mode max pooling, exact at every size."""

import math

import keras
import numpy as np
import pytest

from kerascnn.layers import CeilMaxPooling2D
from kerascnn.layers.pooling import ceil_pool_output_size


def _reference(x, k, s, p):
    """Ceil-mode max pooling of an NHWC array, window by window."""
    n, h, w, c = x.shape
    oh, ow = ceil_pool_output_size(h, k, s, p), ceil_pool_output_size(w, k, s, p)
    out = np.empty((n, oh, ow, c), x.dtype)
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * s - p, j * s - p
            window = x[:, max(r0, 0):min(r0 + k, h), max(c0, 0):min(c0 + k, w), :]
            out[:, i, j, :] = window.max(axis=(1, 2))
    return out


@pytest.mark.parametrize("k, s, p", [(3, 2, 0), (3, 2, 1), (2, 2, 0), (3, 1, 1), (5, 2, 2)])
@pytest.mark.parametrize("size", [7, 8, 9, 24, 49])
def test_windows_equal_the_ceil_mode_definition(k, s, p, size):
    x = np.random.default_rng(size).normal(size=(2, size, size + 1, 3)).astype("float32")
    got = np.asarray(CeilMaxPooling2D(k, s, p)(x))
    np.testing.assert_array_equal(got, _reference(x, k, s, p))
    # unknown size until run time: the same windows
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, CeilMaxPooling2D(k, s, p)(inputs))
    np.testing.assert_array_equal(np.asarray(model(x)), got)


def test_output_size_rounds_up():
    assert ceil_pool_output_size(112, 3, 2) == 56  # the SE-ResNet stem at 224
    assert ceil_pool_output_size(49, 3, 2) == 24  # at 97: floor with padding 1 gives 25
    assert ceil_pool_output_size(8, 2, 2) == 4
    assert ceil_pool_output_size(9, 2, 2) == math.ceil(7 / 2) + 1
    assert ceil_pool_output_size(None, 3, 2) is None


def test_serializes():
    inputs = keras.Input((9, 9, 2))
    model = keras.Model(inputs, CeilMaxPooling2D(3, strides=2, name="pool")(inputs))
    again = keras.Model.from_config(model.get_config())
    x = np.random.default_rng(0).normal(size=(1, 9, 9, 2)).astype("float32")
    np.testing.assert_array_equal(np.asarray(again(x)), np.asarray(model(x)))
    assert again.get_layer("pool").output.shape == (None, 4, 4, 2)


def test_bad_arguments_are_one_line_errors():
    with pytest.raises(ValueError, match="padding"):
        CeilMaxPooling2D(3, 2, padding=2)
    with pytest.raises(ValueError, match="pool_size"):
        CeilMaxPooling2D("3")
