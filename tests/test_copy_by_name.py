"""kerascnn.weights.transfer.copy_weights_by_name: the one copy of weights by layer name."""

import keras
import numpy as np
import pytest

from kerascnn.weights.transfer import WeightCopyError, copy_weights_by_name


def _net(classes=3, name="net", extra=False):
    inputs = keras.Input((6, 6, 2))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    if extra:
        x = keras.layers.Conv2D(4, 1, name="extra")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, keras.layers.Dense(classes, name="fc")(x), name=name)


def _randomize(model, seed):
    rng = np.random.default_rng(seed)
    for w in model.weights:
        w.assign(rng.normal(size=tuple(w.shape)).astype("float32"))


def _same(a, b):
    return all(np.array_equal(np.asarray(x), np.asarray(y))
               for x, y in zip(a.get_weights(), b.get_weights()))


def test_copies_every_weighted_layer_by_name_and_role():
    src, dst = _net(name="src"), _net(name="dst")
    _randomize(src, 0)
    assert copy_weights_by_name(src, dst) == ["conv", "bn", "fc"]
    assert _same(src, dst)
    x = np.random.default_rng(1).normal(size=(2, 6, 6, 2)).astype("float32")
    np.testing.assert_allclose(src.predict(x, verbose=0), dst.predict(x, verbose=0), atol=1e-6)


def test_a_mismatched_layer_is_skipped_or_named():
    src, dst = _net(3, name="src"), _net(5, name="dst")
    _randomize(src, 0)
    before = [np.asarray(w) for w in dst.get_layer("fc").weights]
    with pytest.raises(WeightCopyError, match=r"^Cannot copy weights by name: src's layer 'fc' "
                                              r"has weights .*, dst's .*\.$") as error:
        copy_weights_by_name(src, dst)
    assert error.value.layer == "fc"
    # nothing was assigned by the failed copy
    assert not np.array_equal(np.asarray(dst.get_layer("conv").kernel),
                              np.asarray(src.get_layer("conv").kernel))
    assert copy_weights_by_name(src, dst, mismatched="skip") == ["conv", "bn"]
    assert _same(src.get_layer("bn"), dst.get_layer("bn"))
    for old, w in zip(before, dst.get_layer("fc").weights):
        np.testing.assert_array_equal(old, np.asarray(w))


def test_missing_layers_and_same_layers():
    src, dst = _net(name="src", extra=True), _net(name="dst")
    with pytest.raises(WeightCopyError, match=r"^Cannot copy weights by name: dst has no layer "
                                              r"'extra'\.$"):
        copy_weights_by_name(src, dst)
    assert copy_weights_by_name(src, dst, missing="skip") == ["conv", "bn", "fc"]
    # the other way round dst's extra layer is just not copied to, unless same_layers
    assert copy_weights_by_name(dst, src) == ["conv", "bn", "fc"]
    with pytest.raises(WeightCopyError, match=r"^Cannot copy weights by name: 1 layers are not "
                                              r"in both models \(first: 'extra'\)\.$") as error:
        copy_weights_by_name(dst, src, same_layers=True)
    assert error.value.layer is None
    assert copy_weights_by_name(dst, src, same_layers=True,
                                where=lambda layer: layer.name != "extra") == ["conv", "bn", "fc"]


def test_roles_not_positions_and_reshape():
    # a Dense kernel into a 1x1 convolution's: same size, another shape
    inputs = keras.Input((4,))
    dense = keras.Model(inputs, keras.layers.Dense(3, name="fc")(inputs), name="dense")
    image = keras.Input((1, 1, 4))
    conv = keras.Model(image, keras.layers.Conv2D(3, 1, name="fc")(image), name="conv")
    _randomize(dense, 2)
    with pytest.raises(WeightCopyError, match="layer 'fc' has weights"):
        copy_weights_by_name(dense, conv)
    assert copy_weights_by_name(dense, conv, reshape=True) == ["fc"]
    np.testing.assert_array_equal(np.asarray(conv.get_layer("fc").kernel)[0, 0],
                                  np.asarray(dense.get_layer("fc").kernel))


def test_nested_leaves():
    def wrapped(name):
        inner = _net(name="inner")
        inputs = keras.Input((6, 6, 2))
        return keras.Model(inputs, inner(inputs), name=name)

    src, dst = wrapped("src"), wrapped("dst")
    _randomize(src, 3)
    assert copy_weights_by_name(src, dst, where=lambda layer: layer.name != "inner") == []
    assert sorted(copy_weights_by_name(src, dst, nested=True)) == ["bn", "conv", "fc"]
    assert _same(src, dst)


def test_option_errors():
    with pytest.raises(ValueError, match=r"`missing` must be 'raise' or 'skip'; got "
                                         r"missing='ignore'\."):
        copy_weights_by_name(_net(), _net(), missing="ignore")


def test_the_module_stays_low_level():
    import ast
    import pathlib

    import kerascnn

    path = pathlib.Path(kerascnn.__file__).parent / "weights" / "transfer.py"
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    package = {m for m in modules if m.split(".")[0] == "kerascnn"}
    assert package <= {"kerascnn.graph"} | {m for m in package if m.startswith("kerascnn.layers")}
    assert {m.split(".")[0] for m in modules} <= {"__future__", "hashlib", "keras", "numpy",
                                                   "kerascnn"}


def test_the_old_import_paths_still_work():
    import kerascnn
    from kerascnn.utils import transfer as old
    from kerascnn.weights import transfer as new

    assert old.transfer_weights is new.transfer_weights is kerascnn.transfer_weights
    assert old.weight_roles is new.weight_roles
