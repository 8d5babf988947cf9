"""ShuffleNet v1 (Zhang et al., "ShuffleNet: An Extremely Efficient
Convolutional Neural Network for Mobile Devices", CVPR 2018).

A 3x3/2 convolution with 24 filters, BN, ReLU, 3x3/2 max pooling, three
stages of 4, 8 and 4 ShuffleNet units, global average pooling and the
classifier. A unit is grouped 1x1 conv (bottleneck, out/4 channels) -> BN ->
ReLU -> channel shuffle -> depthwise 3x3 -> BN -> grouped 1x1 conv -> BN,
added to its input, then ReLU; the first unit of a stage has stride 2 and
concatenates its output with a 3x3/2 average pooling of its input (so its
branch produces out - in channels). The first grouped convolution of stage 2
is not grouped (24 input channels). Convolutions have no biases; padding is
symmetric (explicit) and the shortcut's 3x3/2 average pooling counts its zero padding,
BN epsilon is 1e-5, as in the paper's reference implementations (and pytorchcv's
``shufflenet_g*_w1``, whose ImageNet weights load unchanged).

Output channels of stages 2..4 (scale 1.0x):

====== ================ ===========
 g      channels         params
====== ================ ===========
 1      144, 288, 576    1,531,936
 2      200, 400, 800    1,733,848
 3      240, 480, 960    1,865,728
 4      272, 544, 1088   1,968,344
 8      384, 768, 1536   2,434,768
====== ================ ===========
"""

from __future__ import annotations

from keras import layers

from kerascnn.layers.conv import Conv2D
from kerascnn.models.common import (
    build_input,
    check_arguments,
    classifier_head,
    finish_model,
)
from kerascnn.models.shufflenet.blocks import shufflenet_unit
from kerascnn.models.variants import Variant, register_variants

__all__ = ["ShuffleNet", "ShuffleNetG1", "ShuffleNetG2", "ShuffleNetG3",
           "ShuffleNetG4", "ShuffleNetG8"]

PAPER = ("ShuffleNet: An Extremely Efficient Convolutional Neural Network for Mobile Devices",
         2018)

CHANNELS = {1: 144, 2: 200, 3: 240, 4: 272, 8: 384}
UNITS = (4, 8, 4)
# The reference implementations' BN epsilon (PyTorch's and Caffe's default).
SHUFFLENET_BN_EPSILON = 1e-5


def ShuffleNet(include_top=True, weights=None, input_tensor=None, input_shape=None,
               pooling=None, classes=1000, classifier_activation="softmax", name="shufflenet",
               groups=3, bn_epsilon=SHUFFLENET_BN_EPSILON):
    """Instantiates ShuffleNet v1 1.0x with ``groups`` g in {1, 2, 3, 4, 8}.

    Args:
        include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation, name: as keras.applications (no ImageNet
            weights).
        groups: g.
        bn_epsilon: epsilon of every BatchNormalization (1e-5).

    Returns:
        A ``keras.Model``.
    """
    check_arguments(weights, include_top, classes, pooling, classifier_activation)
    if groups not in CHANNELS:
        raise ValueError(f"`groups` must be one of 1, 2, 3, 4, 8; got groups={groups!r}.")
    from keras import config

    if config.image_data_format() != "channels_last":
        raise ValueError("ShuffleNet is built channels_last only.")
    img_input = build_input(input_tensor, input_shape, default_shape=(224, 224, 3), min_size=32,
                            include_top=include_top, weights=weights)
    x = layers.ZeroPadding2D(1, name="conv1_pad")(img_input)
    x = Conv2D(24, 3, strides=2, use_bias=False, name="conv1")(x)
    x = layers.BatchNormalization(epsilon=bn_epsilon, name="conv1_bn")(x)
    x = layers.ReLU(name="conv1_relu")(x)
    x = layers.ZeroPadding2D(1, name="pool1_pad")(x)      # post-ReLU: zeros never win
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    for stage, num_units in enumerate(UNITS):
        out = CHANNELS[groups] * 2 ** stage
        for i in range(num_units):
            x = shufflenet_unit(x, out, groups, downsample=i == 0,
                                group_first=not (stage == 0 and i == 0),
                                name=f"stage{stage + 2}_unit{i + 1}", bn_epsilon=bn_epsilon)
    x = classifier_head(x, include_top, pooling, classes, classifier_activation)
    return finish_model(img_input, input_tensor, x, name, weights)


VARIANTS = tuple(
    Variant(f"shufflenet_g{g}", f"ShuffleNetG{g}", dict(groups=g), PAPER,
            f"ShuffleNet v1 1.0x, g={g}, no conv biases, ungrouped first 1x1 of stage 2",
            summary=f"ShuffleNet v1 1.0x with g={g} (table 1)")
    for g in CHANNELS
)

_DOC = """Instantiates {summary}.

    Zhang et al., "{title}", CVPR {year}. Arguments as keras.applications
    (``weights``: None, a tag of ``model_info(name)["weights"]`` or a file);
    ``bn_epsilon``: epsilon of every BatchNormalization (1e-5).
    """


REGISTERED = {}
REGISTERED.update(register_variants(ShuffleNet, VARIANTS, family="shufflenet", doc=_DOC,
                  options=("bn_epsilon",), recipe="shufflenet", paper_recipe="shufflenet",
                  module=__name__))
ShuffleNetG1 = REGISTERED["shufflenet_g1"]
ShuffleNetG2 = REGISTERED["shufflenet_g2"]
ShuffleNetG3 = REGISTERED["shufflenet_g3"]
ShuffleNetG4 = REGISTERED["shufflenet_g4"]
ShuffleNetG8 = REGISTERED["shufflenet_g8"]
