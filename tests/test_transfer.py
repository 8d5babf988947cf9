"""kerascnn.transfer_weights: weights matched by role inside a layer, graphs that differ
in a weightless op refused."""

import keras
import numpy as np
import pytest

import kerascnn
from tests._weights import randomize_weights


class BatchNormalization(keras.layers.BatchNormalization):
    """keras' BatchNormalization (same class name) whose variables are created in another
    order: beta before gamma, the moving variance before the moving mean."""

    def build(self, input_shape):
        shape = (input_shape[self.axis],)
        self.beta = self.add_weight(shape=shape, name="beta", initializer="zeros")
        self.gamma = self.add_weight(shape=shape, name="gamma", initializer="ones")
        self.moving_variance = self.add_weight(shape=shape, name="moving_variance",
                                               initializer="ones", trainable=False)
        self.moving_mean = self.add_weight(shape=shape, name="moving_mean",
                                           initializer="zeros", trainable=False)
        self._reduction_axes = [i for i in range(len(input_shape))
                                if i != self.axis % len(input_shape)]
        self.input_spec = keras.layers.InputSpec(ndim=len(input_shape),
                                                 axes={self.axis: input_shape[self.axis]})
        self.built = True


def _net(name, *, pool=keras.layers.MaxPooling2D, activation="relu", pool_strides=2,
         bn=keras.layers.BatchNormalization, relu_layer=False):
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
    x = bn(name="bn")(x)
    x = keras.layers.ReLU(name="act")(x) if relu_layer else \
        keras.layers.Activation(activation, name="act")(x)
    x = pool(2, strides=pool_strides, name="pool")(x)
    x = keras.layers.Conv2D(5, 1, name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="fc")(x), name=name)


def _x():
    return np.random.default_rng(1).normal(size=(2, 8, 8, 3)).astype("float32")


def test_bn_weights_go_by_role_not_position():
    src = randomize_weights(_net("src"))
    dst = _net("dst", bn=BatchNormalization)
    roles = lambda m: [w.path.split("/")[-1] for w in m.get_layer("bn").weights]  # noqa: E731
    assert roles(src) == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert roles(dst) == ["beta", "gamma", "moving_variance", "moving_mean"]
    assert kerascnn.transfer_weights(src, dst) == 4
    s, d = src.get_layer("bn"), dst.get_layer("bn")
    for role in ("gamma", "beta", "moving_mean", "moving_variance"):
        np.testing.assert_array_equal(getattr(d, role).numpy(), getattr(s, role).numpy())
    x = _x()
    np.testing.assert_allclose(np.asarray(dst(x)), np.asarray(src(x)), rtol=1e-5, atol=1e-6)
    # by creation order too: the layers pair up in order, their weights by role
    dst2 = _net("dst2", bn=BatchNormalization)
    assert kerascnn.transfer_weights(src, dst2, by="order") == 4
    np.testing.assert_array_equal(dst2.get_layer("bn").gamma.numpy(), s.gamma.numpy())


def test_weight_roles_name_the_variables():
    from kerascnn.utils.transfer import weight_roles

    model = _net("m", bn=BatchNormalization)
    assert [r for r, _ in weight_roles(model.get_layer("bn"))] == [
        "beta", "gamma", "moving_variance", "moving_mean"]
    assert [r for r, _ in weight_roles(model.get_layer("conv"))] == ["kernel", "bias"]


def test_max_vs_average_pooling_is_refused():
    src, dst = _net("src"), _net("dst", pool=keras.layers.AveragePooling2D)
    with pytest.raises(ValueError) as e:
        kerascnn.transfer_weights(src, dst)
    assert str(e.value) == (
        "Cannot transfer weights: dst's layer 'pool' is AveragePooling2D(padding='valid', "
        "pool_size=(2, 2), strides=(2, 2)) where src's 'pool' is MaxPooling2D("
        "padding='valid', pool_size=(2, 2), strides=(2, 2)); the architectures differ.")


def test_relu_vs_sigmoid_is_refused():
    src, dst = _net("src"), _net("dst", activation="sigmoid")
    with pytest.raises(ValueError) as e:
        kerascnn.transfer_weights(src, dst)
    assert str(e.value) == (
        "Cannot transfer weights: dst's layer 'act' is Activation(activation='sigmoid') "
        "where src's 'act' is Activation(activation='relu'); the architectures differ.")


def test_pool_strides_are_compared():
    src, dst = _net("src"), _net("dst", pool_strides=1)
    with pytest.raises(ValueError, match=r"^Cannot transfer weights: dst's layer 'pool' is "
                                         r"MaxPooling2D\(padding='valid', pool_size=\(2, 2\), "
                                         r"strides=\(1, 1\)\) where src's 'pool' is "):
        kerascnn.transfer_weights(src, dst)


def test_one_op_spelled_two_ways_transfers():
    # keras' ReLU() layer and Activation("relu") compute the same: not a difference
    src = randomize_weights(_net("src"))
    dst = _net("dst", relu_layer=True)
    assert kerascnn.transfer_weights(src, dst) == 4
    x = _x()
    np.testing.assert_allclose(np.asarray(dst(x)), np.asarray(src(x)), rtol=1e-5, atol=1e-6)
