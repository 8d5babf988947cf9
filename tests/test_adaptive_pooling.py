"""AdaptiveAveragePooling2D: PyTorch's adaptive average pooling at every input size,
maps smaller than the output included (keras' own layer fails on a 1x1 map pooled to 6x6)."""

import keras
import numpy as np
import pytest

from kerascnn.layers import AdaptiveAveragePooling2D
from kerascnn.layers.pooling import adaptive_pooling_matrix


def _reference(x, out):
    """PyTorch's definition, bin by bin, on an NHWC array."""
    n, h, w, c = x.shape
    result = np.empty((n, out[0], out[1], c), x.dtype)
    for i in range(out[0]):
        r0, r1 = (i * h) // out[0], -(-((i + 1) * h) // out[0])
        for j in range(out[1]):
            c0, c1 = (j * w) // out[1], -(-((j + 1) * w) // out[1])
            result[:, i, j, :] = x[:, r0:r1, c0:c1, :].mean(axis=(1, 2))
    return result


@pytest.mark.parametrize("h, w, out", [(1, 1, (6, 6)), (2, 3, (6, 6)), (3, 3, (7, 7)),
                                       (13, 13, (6, 6)), (7, 7, (7, 7)), (9, 11, (7, 5))])
def test_bins_equal_the_definition(h, w, out):
    x = np.random.default_rng(h * w).normal(size=(2, h, w, 4)).astype("float32")
    got = np.asarray(AdaptiveAveragePooling2D(out)(x))
    assert got.shape == (2, *out, 4)
    np.testing.assert_allclose(got, _reference(x, out), rtol=1e-5, atol=1e-6)


def test_a_1x1_map_in_a_compiled_model():
    # keras' AdaptiveAveragePooling2D fails here inside a tf.function (predict, fit)
    inputs = keras.Input((1, 1, 2))
    model = keras.Model(inputs, AdaptiveAveragePooling2D((6, 6))(inputs))
    x = np.random.default_rng(3).normal(size=(3, 1, 1, 2)).astype("float32")
    got = model.predict(x, verbose=0)
    np.testing.assert_allclose(got, np.broadcast_to(x, (3, 6, 6, 2)), rtol=1e-6)


def test_same_as_torch_and_channels_first():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).normal(size=(2, 4, 5, 3)).astype("float32")  # NCHW
    expected = torch.nn.functional.adaptive_avg_pool2d(torch.from_numpy(x), (6, 7)).numpy()
    got = np.asarray(AdaptiveAveragePooling2D((6, 7), data_format="channels_first")(x))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_matrix_rows_average_and_cover_the_axis():
    m = adaptive_pooling_matrix(5, 3)  # bins [0, 2), [1, 4), [3, 5)
    np.testing.assert_allclose(m.sum(axis=1), 1.0)
    assert (m > 0).tolist() == [[True, True, False, False, False],
                                [False, True, True, True, False],
                                [False, False, False, True, True]]


def test_unknown_size_and_bad_output_size_are_refused(tmp_path):
    with pytest.raises(ValueError, match="needs a known input height and width"):
        AdaptiveAveragePooling2D(6)(keras.Input((None, None, 3)))
    with pytest.raises(ValueError, match="`output_size` must be positive"):
        AdaptiveAveragePooling2D(0)
    inputs = keras.Input((3, 3, 2))
    model = keras.Model(inputs, AdaptiveAveragePooling2D((5, 4))(inputs))
    path = tmp_path / "m.keras"
    model.save(path)
    x = np.random.default_rng(2).normal(size=(1, 3, 3, 2)).astype("float32")
    np.testing.assert_allclose(keras.saving.load_model(path)(x), model(x), rtol=1e-6)
