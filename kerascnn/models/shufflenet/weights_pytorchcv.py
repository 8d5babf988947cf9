"""pytorchcv's ImageNet-1K checkpoints (osmr's imgclsmob) of ShuffleNet v1 1.0x (g = 1, 2, 3,
4, 8) -> ``shufflenet_g1`` .. ``shufflenet_g8``.

Files: ``<name>-<error>-<sha1[:8]>.pth.zip`` among the imgclsmob release assets (see
:mod:`kerascnn.weights.pytorchcv`; the error in the file name is the top-5 error, in
hundredths of a percent); SHA-1 only (in each set's ``note``; ``sha256`` None). ``top1`` is
100 minus the top-1 error of pytorchcv's table (1 crop, 224x224 of a 256 resize, bilinear,
the ImageNet mean/std). Licence: MIT (imgclsmob's).

Layout: ``shufflenet_g*`` load as they are (their BN epsilon is PyTorch's 1e-5 and their
shortcut pooling counts padding).
"""

from __future__ import annotations

from kerascnn.blocks.common import TORCH_BN_EPSILON
from kerascnn.weights.core import (
    StateDict,
    layer,
    register_converter,
    register_weight_sets,
    set_bn,
    set_conv,
    set_dense,
    set_depthwise,
)
from kerascnn.weights.pytorchcv import pytorchcv_set

# ---------------------------------------------------------------------------------------------
# ShuffleNet: features.init_block.{conv,bn}; features.stage{i}.unit{j}.{compress_conv1,
# compress_bn1, dw_conv2, dw_bn2, expand_conv3, expand_bn3}; output.

def convert_shufflenet(sd: StateDict, model, *, skip_classifier: bool) -> None:
    eps = dict(expect_epsilon=TORCH_BN_EPSILON)
    set_conv(layer(model, "conv1"), sd, "features.init_block.conv")
    set_bn(layer(model, "conv1_bn"), sd, "features.init_block.bn", **eps)
    stages = sorted({k.split(".")[1] for k in sd.keys() if k.startswith("features.stage")})
    for stage in stages:
        units = sorted({k.split(".")[2] for k in sd.keys()
                        if k.startswith(f"features.{stage}.")}, key=lambda u: int(u[4:]))
        for unit in units:
            src = f"features.{stage}.{unit}"
            dst = f"stage{int(stage[5:]) + 1}_unit{unit[4:]}"
            set_conv(layer(model, f"{dst}_compress_conv"), sd, f"{src}.compress_conv1")
            set_bn(layer(model, f"{dst}_compress_bn"), sd, f"{src}.compress_bn1", **eps)
            set_depthwise(layer(model, f"{dst}_dw_conv"), sd, f"{src}.dw_conv2")
            set_bn(layer(model, f"{dst}_dw_bn"), sd, f"{src}.dw_bn2", **eps)
            set_conv(layer(model, f"{dst}_expand_conv"), sd, f"{src}.expand_conv3")
            set_bn(layer(model, f"{dst}_expand_bn"), sd, f"{src}.expand_bn3", **eps)
    if skip_classifier:
        sd.skip("output")
    else:
        set_dense(layer(model, "predictions"), sd, "output")


register_converter("pytorchcv:shufflenet", convert_shufflenet)

_SHUFFLENET = {  # g: (error, sha1, release, top1)
    1: ("1389", "4cfb65a30761fe548e0b5afbb5d89793ec41e4e9", "v0.0.223", 65.07),
    2: ("1363", "07256203e217a7b31f1c69a5bd38a6674bce75bc", "v0.0.241", 65.75),
    3: ("1348", "ce54f64ecff87556a4303380f46abaaf649eb308", "v0.0.244", 65.61),
    4: ("1335", "e2415f8270a4b6cbfe7dc97044d497edbc898577", "v0.0.245", 65.81),
    8: ("1342", "9a979b365424addba75c559a61a77ac7154b26eb", "v0.0.250", 65.94),
}
for _g, (_error, _sha1, _release, _top1) in _SHUFFLENET.items():
    register_weight_sets(f"shufflenet_g{_g}", pytorchcv_set(
        f"shufflenet_g{_g}_w1", _error, _sha1, _release, _top1,
        note="pytorchcv's head is a 7x7 average pooling (its source takes 193-224 pixel "
             "inputs, ours any size)."))
