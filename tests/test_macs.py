"""count_macs: exact per-layer formulas, and the published figures within 2%.

The seeds' and papers' "FLOPs" are multiply-accumulates: VGG-19 19.6 G, ResNet-34 3.6 G,
plain-34 3.5 G (seed 002 section 5.4), ResNet-50 4.1 G (timm/torchvision, stride on the 3x3).
Architectures of families not on this branch are built here from keras layers so the counts
are checked now; the registry names are checked too once they are registered.
"""

import keras
import pytest
from keras import layers

import kerascnn
from kerascnn.utils import count_macs
from kerascnn.utils.macs import format_macs, macs_by_layer

G = 1e9


def _close(macs, figure, tol=0.02):
    return abs(macs / figure - 1) < tol


# --- the ImageNet ResNets of the paper's Table 1, built from keras layers -----------------

def _conv_bn(x, filters, kernel, stride=1, relu=True):
    x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU()(x) if relu else x


def _stem(inputs):
    x = _conv_bn(inputs, 64, 7, 2)
    return layers.MaxPooling2D(3, 2, padding="same")(x)


def _basic_net(blocks, shortcuts):
    """ResNet-18/34 (option B projections) or, with shortcuts=False, the plain net."""
    inputs = keras.Input((224, 224, 3))
    x = _stem(inputs)
    for stage, (n, filters) in enumerate(zip(blocks, (64, 128, 256, 512))):
        for i in range(n):
            stride = 2 if stage > 0 and i == 0 else 1
            y = _conv_bn(x, filters, 3, stride)
            y = _conv_bn(y, filters, 3, relu=False)
            if shortcuts:
                if stride != 1 or x.shape[-1] != filters:
                    x = _conv_bn(x, filters, 1, stride, relu=False)
                y = layers.Add()([x, y])
            x = layers.ReLU()(y)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(1000)(x))


def _resnet50_v1_5():
    """torchvision's ResNet-50: bottlenecks with the stride on the 3x3, no conv biases."""
    inputs = keras.Input((224, 224, 3))
    x = _stem(inputs)
    for stage, n in enumerate((3, 4, 6, 3)):
        width = 64 * 2 ** stage
        for i in range(n):
            stride = 2 if stage > 0 and i == 0 else 1
            y = _conv_bn(x, width, 1)
            y = _conv_bn(y, width, 3, stride)
            y = _conv_bn(y, 4 * width, 1, relu=False)
            if i == 0:
                x = _conv_bn(x, 4 * width, 1, stride, relu=False)
            x = layers.ReLU()(layers.Add()([x, y]))
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(1000)(x))


# The three 1x1 stride-2 projections of ResNet-34 (option B) at 28, 14 and 7.
PROJECTIONS_34 = 28 * 28 * 128 * 64 + 14 * 14 * 256 * 128 + 7 * 7 * 512 * 256


def test_vgg19_is_19_6_gmacs():
    macs = count_macs(keras.applications.VGG19(weights=None))
    assert macs == 19_632_062_464
    assert _close(macs, 19.6 * G)


def test_resnet34_is_3_6_gmacs():
    macs = count_macs(_basic_net((3, 4, 6, 3), shortcuts=True))
    assert macs == 3_663_761_408
    assert _close(macs, 3.6 * G)


def test_plain34_count_and_the_seed_figure():
    """plain-34 = ResNet-34 less its projections: 3.64 G.

    Seed 002 section 5.4 prints 3.5 G for it, but the paper it summarises (He et al. 2016,
    Fig. 3) gives 3.6 G for both 34-layer nets, and no counting convention makes the same
    convolutions 3.5 G: the count is checked against 3.6 G, and against the seed's 3.5 G
    with the 4.1 % gap stated (see docs/architectures.md).
    """
    macs = count_macs(_basic_net((3, 4, 6, 3), shortcuts=False))
    assert macs == 3_663_761_408 - PROJECTIONS_34 == 3_644_493_824
    assert _close(macs, 3.6 * G)
    assert round(macs / (3.5 * G) - 1, 3) == 0.041


def test_resnet50_torchvision_layout_is_4_1_gmacs():
    macs = count_macs(_resnet50_v1_5())
    assert macs == 4_089_184_256
    assert _close(macs, 4.1 * G)


# keras.applications/seed 001 layout (stride on the first 1x1): He et al. Table 1 gives
# 3.8, 7.6 and 11.3 G for the 50/101/152-layer nets.
PAPER_TABLE_1 = {"resnet50": (3_857_973_248, 3.8), "resnet101": (7_570_194_432, 7.6),
                 "resnet152": (11_282_415_616, 11.3)}


def _check_registered(name):
    exact, paper = PAPER_TABLE_1[name]
    macs = count_macs(kerascnn.create_model(name))
    assert macs == exact
    assert _close(macs, paper * G)


def test_registered_resnet50_matches_the_paper_table():
    _check_registered("resnet50")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet101", "resnet152"])
def test_registered_deep_resnets_match_the_paper_table(name):
    _check_registered(name)


def test_resnet50_equals_keras_twin_count():
    assert count_macs(kerascnn.create_model("resnet50", input_shape=(64, 64, 3), classes=6)) == \
        count_macs(keras.applications.ResNet50(weights=None, input_shape=(64, 64, 3), classes=6))


@pytest.mark.parametrize("name, figure", [("vgg19", 19.6), ("resnet34", 3.6)])
def test_registry_names_of_other_families(name, figure):
    assert _close(count_macs(kerascnn.create_model(name)), figure * G)


def test_generic_resnet_in_torchvision_layout_is_4_1_gmacs():
    """kerascnn's ResNet builder with the stride on the 3x3 (timm/torchvision's ResNet-50)."""
    from kerascnn.models.resnet.model import ResNet

    model = ResNet((3, 4, 6, 3), block="bottleneck", stride_in="3x3", use_bias=False)
    assert count_macs(model) == count_macs(_resnet50_v1_5())
    assert _close(count_macs(model), 4.1 * G)


# --- exact per-layer formulas ----------------------------------------------------------

def _one(layer, shape):
    inputs = keras.Input(shape)
    return keras.Model(inputs, layer(inputs))


@pytest.mark.parametrize("layer, shape, expected", [
    # 8x8 output positions x 16 filters x 3x3 x 4 channels
    (layers.Conv2D(16, 3, padding="same"), (8, 8, 4), 8 * 8 * 16 * 9 * 4),
    # groups=4: each filter sees 8/4 = 2 channels
    (layers.Conv2D(16, 3, padding="same", groups=4), (8, 8, 8), 8 * 8 * 16 * 9 * 2),
    # stride 2, valid: 3x3 outputs
    (layers.Conv2D(5, 3, strides=2), (8, 8, 2), 3 * 3 * 5 * 9 * 2),
    (layers.Conv1D(6, 5), (20, 3), 16 * 6 * 5 * 3),
    (layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2), (8, 8, 4),
     8 * 8 * 4 * 2 * 9),
    (layers.SeparableConv2D(10, 3, padding="same"), (8, 8, 4), 8 * 8 * 4 * 9 + 8 * 8 * 4 * 10),
    (layers.Conv2DTranspose(6, 3, strides=2, padding="same"), (4, 4, 5), 4 * 4 * 9 * 5 * 6),
    (layers.Dense(7), (12,), 12 * 7),
    (layers.Dense(7), (3, 12), 3 * 12 * 7),
    (layers.BatchNormalization(), (8, 8, 4), 0),
    (layers.MaxPooling2D(), (8, 8, 4), 0),
])
def test_layer_formulas(layer, shape, expected):
    assert count_macs(_one(layer, shape)) == expected


def test_channels_first_layers():
    layer = layers.Conv2D(16, 3, padding="same", data_format="channels_first")
    assert count_macs(_one(layer, (4, 8, 8))) == 8 * 8 * 16 * 9 * 4


def test_nested_and_shared_layers_count_every_call():
    inner_in = keras.Input((8, 8, 4))
    inner = keras.Model(inner_in, layers.Conv2D(4, 1, name="pw")(inner_in), name="inner")
    inputs = keras.Input((8, 8, 4))
    shared = layers.Conv2D(4, 3, padding="same", name="shared")
    x = shared(shared(inputs))
    x = inner(x)
    model = keras.Model(inputs, x)
    one_3x3, one_1x1 = 8 * 8 * 4 * 9 * 4, 8 * 8 * 4 * 4
    assert count_macs(model) == 2 * one_3x3 + one_1x1
    rows = macs_by_layer(model)
    assert [r[0] for r in rows] == ["shared", "shared", "inner/pw"]
    assert rows[-1] == ("inner/pw", "Conv2D", one_1x1)


def test_sequential_model():
    model = keras.Sequential([keras.Input((6, 6, 1)), layers.Conv2D(2, 3), layers.Flatten(),
                              layers.Dense(3)])
    assert count_macs(model) == 4 * 4 * 2 * 9 + 32 * 3


class _Scale(layers.Layer):
    """A custom layer declaring its own MACs (one multiply per element)."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], 1))

    def call(self, x):
        return x * keras.ops.squeeze(self.w, -1)

    def compute_macs(self, input_shape):
        return int(keras.ops.prod(input_shape[1:]))


def test_custom_layer_declares_its_macs():
    assert count_macs(_one(_Scale(), (5, 5, 3))) == 75


def test_custom_layer_with_kernel_and_no_macs_is_an_error():
    class Opaque(layers.Layer):
        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], 2))

        def call(self, x):
            return keras.ops.matmul(x, self.kernel)

    with pytest.raises(ValueError, match=r"^count_macs does not know layer 'opaque' \(Opaque\), "
                                         r"which has a kernel; give its class a "
                                         r"compute_macs\(input_shape\) method\.$"):
        count_macs(_one(Opaque(name="opaque"), (4,)))


def test_unknown_input_size_is_an_error():
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, layers.Conv2D(4, 3, name="conv1")(inputs))
    with pytest.raises(ValueError, match=r"^count_macs needs a fixed input size, but layer "
                                         r"'conv1' sees shape \(None, None, None, 3\); build "
                                         r"the model with input_shape=\(height, width, "
                                         r"channels\)\.$"):
        count_macs(model)


def test_subclassed_model_is_an_error():
    class Net(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(ValueError, match="needs a Functional or Sequential model"):
        count_macs(Net(name="net"))


def test_format_macs():
    assert format_macs(3_857_973_248) == "3.86 G"
    assert format_macs(40_812_000) == "40.8 M"
    assert format_macs(1_500) == "1.5 K"


def test_exported():
    from kerascnn.utils import __all__

    assert "count_macs" in __all__


# --- the package's own layers ------------------------------------------------------------

@pytest.mark.parametrize("name", ["densenet_bc100_cifar", "densenet40_cifar"])
def test_memory_efficient_densenet_counts_as_the_plain_one(name):
    assert count_macs(kerascnn.create_model(name, memory_efficient=True)) == \
        count_macs(kerascnn.create_model(name)) > 0


def test_unshared_convolutions_count_as_a_convolution():
    from kerascnn.layers import LocallyConnected2D, TiledConv2D

    inputs = keras.Input((8, 8, 4))
    for layer in (LocallyConnected2D(5, 3, strides=2), TiledConv2D(5, 3, tile_size=2, strides=2)):
        # 3x3 output positions x 5 filters x 3x3 taps x 4 channels
        assert count_macs(keras.Model(inputs, layer(inputs))) == 3 * 3 * 5 * 9 * 4


# The papers' published multiply-adds at the default input size: (registry name, constructor
# arguments, our exact count, the paper's figure, relative tolerance). The papers round; the
# tolerance is 2 % except where a paper gives one significant digit more loosely.
PAPER_MACS = [
    ("vgg16", {}, 15_470_264_320, 15.5 * G, 0.02),  # VGG-16: 15.5 G
    ("googlenet", {}, 1_582_671_872, 1.5 * G, 0.06),  # GoogLeNet: "1.5 billion multiply-adds"
    ("inception_v3", {}, 5_713_216_096, 5.7 * G, 0.02),
    ("resnet50", {}, 3_857_973_248, 3.8 * G, 0.02),  # ResNet table 1 (stride on the 1x1)
    ("resnext50_32x4d", {}, 4_230_479_872, 4.2 * G, 0.02),  # ResNeXt table 1
    ("densenet121", {}, 2_834_161_664, 2.9 * G, 0.03),  # DenseNet figure 3
    ("shufflenet_g3", {}, 137_460_672, 140e6, 0.02),  # ShuffleNet table 2: 1x, g=3, 140 M
    ("mobilenet", {}, 568_740_352, 569e6, 0.02),  # MobileNet table 8: 569 M
    ("xception", {}, 8_357_403_496, 8.4 * G, 0.02),
    ("senet154", {}, 20_688_363_520, 20.7 * G, 0.02),  # SENet table: 20.7 G
    ("alexnet", {"groups": 2}, 724_406_816, 0.72 * G, 0.02),  # the two-GPU grouped AlexNet
]


@pytest.mark.parametrize("name, kwargs, exact, figure, tol", PAPER_MACS,
                         ids=[row[0] for row in PAPER_MACS])
def test_macs_match_the_papers(name, kwargs, exact, figure, tol):
    macs = count_macs(kerascnn.create_model(name, **kwargs))
    assert macs == exact
    assert _close(macs, figure, tol)
