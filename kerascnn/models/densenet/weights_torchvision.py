"""torchvision's ImageNet DenseNets (``torchvision.models.densenet121/161/169/201``) ->
``densenet{121,161,169,201}_tv``.

torchvision's graph is keras.applications' DenseNet graph: a 7x7/2 convolution with
symmetric padding 3 (keras: ``ZeroPadding2D(3)`` + valid), 3x3/2 max pooling with padding
1 after a ReLU (zero padding never wins over a non-negative value), each dense layer
concatenated after its input, transitions BN-ReLU-Conv1x1-AvgPool 2x2, a final BN-ReLU,
global average pooling (torchvision's ``adaptive_avg_pool2d(1)``) and the classifier. The
only difference is BatchNorm2d's epsilon, 1e-5 (keras: 1.001e-5): the ``_tv`` variants
build it exactly.

State-dict keys: ``features.conv0``, ``features.norm0``,
``features.denseblock{b}.denselayer{i}.norm1/conv1/norm2/conv2``,
``features.transition{b}.norm/conv``, ``features.norm5``, ``classifier``. torchvision's
original files spelt the dense layers' modules ``norm.1`` / ``conv.2`` (torchvision
renames them when loading); both spellings are read.
"""

from __future__ import annotations

import re

from kerascnn.blocks.common import TORCH_BN_EPSILON
from kerascnn.weights.core import (
    TIMM_HUB,
    StateDict,
    WeightsError,
    WeightSet,
    layer,
    register_converter,
    register_weight_sets,
    set_bn,
    set_conv,
    set_dense,
)
from kerascnn.weights.torchvision import published

# torchvision's original checkpoints: "denselayer1.norm.1.weight" for "denselayer1.norm1.weight".
_OLD_KEY = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|"
                      r"running_mean|running_var|num_batches_tracked))$")


def modern_keys(sd: StateDict) -> StateDict:
    """Renames torchvision's old ``norm.1``-style dense-layer keys to ``norm1`` (in place)."""
    renamed = {}
    for key, value in sd.tensors.items():
        match = _OLD_KEY.match(key)
        renamed[match.group(1) + match.group(2) if match else key] = value
    sd.tensors = renamed
    return sd


def convert(sd: StateDict, model, *, skip_classifier: bool) -> None:
    """Copies a torchvision DenseNet state dict into a ``densenet*_tv`` model."""
    modern_keys(sd)
    blocks = []
    b = 1
    while any(k.startswith(f"features.denseblock{b}.") for k in sd.keys()):
        i = 1
        while f"features.denseblock{b}.denselayer{i}.conv1.weight" in sd:
            i += 1
        blocks.append(i - 1)
        b += 1
    if not blocks:
        raise WeightsError(f"{sd.origin} is not a torchvision DenseNet state dict "
                           "(no features.denseblock1).")

    def bn(keras_name, prefix):
        set_bn(layer(model, keras_name), sd, prefix, expect_epsilon=TORCH_BN_EPSILON)

    set_conv(layer(model, "conv1_conv"), sd, "features.conv0")
    bn("conv1_bn", "features.norm0")
    for b, num_layers in enumerate(blocks, start=1):
        stage = b + 1  # keras' names: conv2..conv5 blocks, pool2..pool4 transitions
        for i in range(1, num_layers + 1):
            src, dst = f"features.denseblock{b}.denselayer{i}", f"conv{stage}_block{i}"
            bn(f"{dst}_0_bn", f"{src}.norm1")
            set_conv(layer(model, f"{dst}_1_conv"), sd, f"{src}.conv1")
            bn(f"{dst}_1_bn", f"{src}.norm2")
            set_conv(layer(model, f"{dst}_2_conv"), sd, f"{src}.conv2")
        if b < len(blocks):
            bn(f"pool{stage}_bn", f"features.transition{b}.norm")
            set_conv(layer(model, f"pool{stage}_conv"), sd, f"features.transition{b}.conv")
    bn("bn", "features.norm5")
    if skip_classifier:
        sd.skip("classifier")
    else:
        set_dense(layer(model, "predictions"), sd, "classifier")


register_converter("torchvision:densenet", convert)

# torchvision's published evaluation: resize 256 (bilinear), centre crop 224, ImageNet
# mean/std; top-1 from torchvision's weights metadata (acc@1). The files are the timm hub's
# safetensors copies of torchvision's checkpoints (timm's ``densenet{depth}.tv_in1k``).
_TOP1 = {121: 74.434, 161: 77.138, 169: 75.6, 201: 76.896}
_TV_FILES = {121: "densenet121-a639ec97.pth", 161: "densenet161-8d451a50.pth",
             169: "densenet169-b2777c0a.pth", 201: "densenet201-c1103571.pth"}

for _depth, _top1 in _TOP1.items():
    register_weight_sets(
        f"densenet{_depth}_tv",
        WeightSet(
            tag="imagenet", source=f"torchvision:densenet{_depth}",
            url=TIMM_HUB.format(f"densenet{_depth}.tv_in1k"),
            classes=1000, input_size=(224, 224, 3), interpolation="bilinear",
            license="BSD-3-Clause", **published(_TV_FILES[_depth]),
            note=f"torchvision's IMAGENET1K_V1 weights ({_TV_FILES[_depth]}) as the timm hub's "
                 f"safetensors copy densenet{_depth}.tv_in1k; torchvision's layout (BN epsilon "
                 "1e-5), equal to torchvision's outputs at any input size"),
    )
