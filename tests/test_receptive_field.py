"""receptive_field: hand-computed fields of a tiny model, and the published ones of VGG,
AlexNet and ResNet-50 (Araujo, Norris & Sim 2019, "Computing Receptive Fields of
Convolutional Neural Networks")."""

import keras
import pytest

import kerascnn
from kerascnn.utils import receptive_field

L = keras.layers


def _by_name(rows):
    return {r["layer"]: r for r in rows}


def _tiny():
    inp = keras.Input((32, 32, 3))
    x = L.Conv2D(4, 3, name="c1")(inp)
    x = L.MaxPooling2D(2, name="p1")(x)
    x = L.Conv2D(4, 3, padding="same", dilation_rate=2, name="c2")(x)
    x = L.ZeroPadding2D(((1, 0), (1, 0)), name="zp")(x)
    x = L.Conv2D(4, 3, strides=2, name="c3")(x)
    a = L.Conv2D(4, (1, 7), padding="same", name="a")(x)
    b = L.DepthwiseConv2D(3, padding="same", name="b1")(x)
    b = L.DepthwiseConv2D(3, padding="same", name="b2")(b)
    m = L.Concatenate(name="cat")([a, b])
    s = L.GlobalAveragePooling2D(keepdims=True, name="gap_se")(m)
    s = L.Conv2D(8, 1, activation="sigmoid", name="se")(s)
    y = L.Multiply(name="mul")([m, s])
    y = L.Activation("relu", name="relu")(y)
    y = L.AveragePooling2D(3, strides=2, padding="same", name="ap")(y)
    y = L.SeparableConv2D(4, 3, padding="same", name="sep")(y)
    y = L.GlobalAveragePooling2D(name="gap")(y)
    out = L.Dense(2, name="fc")(y)
    return keras.Model(inp, out)


# Hand-computed: r_out = r_in + (k'-1) j_in, j_out = j_in s, start_out = start_in + ((k'-1)/2 - p) j_in
TINY = {
    "c1": ((3, 3), (1, 1), (1, 1), (30, 30)),
    "p1": ((4, 4), (2, 2), (1.5, 1.5), (15, 15)),
    "c2": ((12, 12), (2, 2), (1.5, 1.5), (15, 15)),          # dilated: k' = 5, pad 2
    "zp": ((12, 12), (2, 2), (-0.5, -0.5), (16, 16)),        # one pixel of padding before
    "c3": ((16, 16), (4, 4), (1.5, 1.5), (7, 7)),
    "a": ((16, 40), (4, 4), (1.5, 1.5), (7, 7)),             # 1x7: only the width grows
    "b1": ((24, 24), (4, 4), (1.5, 1.5), (7, 7)),
    "b2": ((32, 32), (4, 4), (1.5, 1.5), (7, 7)),
    "cat": ((32, 40), (4, 4), (1.5, 1.5), (7, 7)),           # union of the branches
    "mul": ((32, 40), (4, 4), (1.5, 1.5), (7, 7)),           # the SE weights add nothing
    "relu": ((32, 40), (4, 4), (1.5, 1.5), (7, 7)),
    "ap": ((40, 48), (8, 8), (1.5, 1.5), (4, 4)),            # 'same' at 7 -> 4 pads 1 before
    "sep": ((56, 64), (8, 8), (1.5, 1.5), (4, 4)),
}


def test_tiny_model_hand_computed():
    rows = receptive_field(_tiny())
    got = {r["layer"]: (r["receptive_field"], r["stride"], r["start"], r["output_size"])
           for r in rows}
    assert got == TINY
    order = [r["layer"] for r in rows]  # graph order; the SE branch and the head not listed
    assert len(order) == len(TINY)
    for before, after in [("c1", "p1"), ("zp", "c3"), ("c3", "a"), ("b1", "b2"), ("a", "cat"),
                          ("b2", "cat"), ("mul", "relu"), ("ap", "sep")]:
        assert order.index(before) < order.index(after)


def test_nested_model_is_expanded():
    inner = keras.Sequential([keras.Input((16, 16, 3)), L.Conv2D(2, 3, strides=2, name="ic")],
                             name="inner")
    inp = keras.Input((16, 16, 3))
    x = L.Conv2D(3, 3, padding="same", name="oc")(inp)
    out = inner(x)
    rows = receptive_field(keras.Model(inp, out))
    assert [(r["layer"], r["receptive_field"], r["stride"], r["start"]) for r in rows] == [
        ("oc", (3, 3), (1, 1), (0, 0)),
        ("inner/ic", (5, 5), (2, 2), (1, 1)),
    ]


def test_vgg16_conv5_3():
    rows = _by_name(receptive_field(keras.applications.VGG16(weights=None, include_top=False)))
    assert rows["block5_conv3"]["receptive_field"] == (196, 196)
    assert rows["block5_conv3"]["stride"] == (16, 16)
    assert rows["block5_pool"]["receptive_field"] == (212, 212)
    assert rows["block5_pool"]["stride"] == (32, 32)


def test_alexnet_pool5():
    last = receptive_field(kerascnn.create_model("alexnet", include_top=False))[-1]
    assert (last["layer"], last["receptive_field"], last["stride"]) == ("pool5", (195, 195),
                                                                        (32, 32))
    assert last["start"] == (33, 33)


def test_resnet50_last_stage():
    last = receptive_field(kerascnn.create_model("resnet50", include_top=False,
                                                     input_shape=(224, 224, 3)))[-1]
    assert last["receptive_field"] == (483, 483)
    assert last["stride"] == (32, 32)
    assert last["output_size"] == (7, 7)


def test_unknown_spatial_layer_is_an_error():
    inp = keras.Input((8, 8, 3))
    out = L.UpSampling2D(name="up")(L.Conv2D(2, 3, name="c")(inp))
    with pytest.raises(ValueError, match=r"^receptive_field does not support layer 'up' "
                                         r"\(UpSampling2D\)"):
        receptive_field(keras.Model(inp, out))


def test_same_padding_with_stride_needs_a_fixed_size():
    inp = keras.Input((None, None, 3))
    out = L.Conv2D(2, 3, strides=2, padding="same", name="s2")(inp)
    with pytest.raises(ValueError, match="needs a fixed input size for layer 's2'"):
        receptive_field(keras.Model(inp, out))
    # stride 1 with an odd kernel pads (k-1)/2 whatever the size
    inp = keras.Input((None, None, 3))
    rows = receptive_field(keras.Model(inp, L.Conv2D(2, 5, padding="same")(inp)))
    assert rows[0]["receptive_field"] == (5, 5) and rows[0]["start"] == (0, 0)


def test_non_image_model_is_an_error():
    inp = keras.Input((10,))
    with pytest.raises(ValueError, match=r"needs a model whose input is an image batch \(4-D\)"):
        receptive_field(keras.Model(inp, L.Dense(2)(inp), name="mlp"))


@pytest.mark.parametrize("name,options", [("densenet40_cifar", {"memory_efficient": True}),
                                          ("resnet50", {"stochastic_depth": 0.5})])
def test_fused_and_stochastic_layers_keep_the_plain_field(name, options):
    # ConcatNormReLUConv (concatenation + 'same' conv) and StochasticDepth (a residual branch
    # inside one layer) must give the field of the plain graph.
    plain = receptive_field(kerascnn.create_model(name))[-1]
    fused = receptive_field(kerascnn.create_model(name, **options))[-1]
    for key in ("receptive_field", "stride", "start", "output_size"):
        assert fused[key] == plain[key]


def test_the_function_is_not_shadowed_by_its_module():
    """``kerascnn.utils.receptive_field`` is the function (as the README calls it), also in a
    process that imported the submodule of the same name first."""
    import subprocess
    import sys

    code = ("import importlib\n"
            "module = importlib.import_module('kerascnn.utils.receptive_field')\n"
            "import kerascnn.utils\n"
            "from kerascnn.utils import receptive_field\n"
            "assert receptive_field is module.receptive_field, receptive_field\n"
            "assert kerascnn.utils.receptive_field is module.receptive_field\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-500:]
