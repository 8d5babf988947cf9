"""pytorchcv's ImageNet-1K checkpoints (osmr's imgclsmob): AlexNet, ZFNet, ShuffleNet v1
1.0x (g = 1, 2, 3, 4, 8) and BN-Inception.

pytorchcv publishes each model as ``<name>-<error>-<sha1[:8]>.pth.zip`` among the
imgclsmob GitHub release assets (the release tag and full SHA-1 are in pytorchcv's
``models/common/model_metainfos.csv``; the error in the file name is the top-5 error,
in hundredths of a percent). The archive holds one ``.pth`` state dict. The publisher
gives SHA-1 hashes, not SHA-256: each set's ``note`` records the SHA-1, its ``sha256`` is
None. ``top1`` is 100 minus the top-1 error of pytorchcv's table (1 crop, 224x224 of a
256 resize, bilinear, the ImageNet mean/std). Licence: MIT (imgclsmob's).

Layouts: ``alexnet_cv`` and ``zfnet_cv`` (ceil-mode pooling, PyTorch's
``local_response_norm`` convention, LRN before pooling), ``bn_inception_cv`` (symmetric
padding, ceil-mode pooling, average pooling counting padding); ``shufflenet_g*`` load as
they are (their BN epsilon is PyTorch's 1e-5 and their shortcut pooling counts padding).
"""

from __future__ import annotations

from kerascnn.blocks.common import TORCH_BN_EPSILON
from kerascnn.weights.core import (
    StateDict,
    WeightSet,
    layer,
    register_converter,
    register_weight_sets,
    set_bn,
    set_conv,
    set_dense,
    set_depthwise,
)

RELEASES = "https://github.com/osmr/imgclsmob/releases/download"


def pytorchcv_set(name, error, sha1, release, top1, *, tag="imagenet", classes=1000,
                  input_size=(224, 224, 3), note="", **kwargs) -> WeightSet:
    """A pytorchcv weight set from its ``model_metainfos.csv`` row."""
    url = f"{RELEASES}/{release}/{name}-{error}-{sha1[:8]}.pth.zip"
    sha_note = (f"pytorchcv's {name} ({release}); a zip holding {name}-{error}-{sha1[:8]}.pth, "
                f"whose SHA-1 is {sha1} (no SHA-256 published)")
    return WeightSet(tag=tag, source=f"pytorchcv:{name}", url=url, classes=classes,
                     input_size=input_size, top1=top1, license="MIT",
                     note=f"{sha_note}. {note}".strip(), **kwargs)


# ---------------------------------------------------------------------------------------------
# AlexNet / ZFNet: features.stage{1,2}.unit1, stage3.unit{1,2,3}; output.fc1.fc, fc2.fc, fc3.

_ALEX_CONVS = {"conv1": "features.stage1.unit1.conv", "conv2": "features.stage2.unit1.conv",
               "conv3": "features.stage3.unit1.conv", "conv4": "features.stage3.unit2.conv",
               "conv5": "features.stage3.unit3.conv"}


def convert_alexnet(sd: StateDict, model, *, skip_classifier: bool) -> None:
    for name, prefix in _ALEX_CONVS.items():
        set_conv(layer(model, name), sd, prefix)
    names = {lyr.name for lyr in model.layers}
    if "fc6" in names:
        conv5 = layer(model, "conv5").output.shape[-1]
        flat = layer(model, "flatten").output.shape[-1]
        side = round((flat // conv5) ** 0.5)
        set_dense(layer(model, "fc6"), sd, "output.fc1.fc", chw=(conv5, side, side))
        set_dense(layer(model, "fc7"), sd, "output.fc2.fc")
    else:
        sd.skip("output.fc1", "output.fc2")
    if skip_classifier:
        sd.skip("output.fc3")
    else:
        set_dense(layer(model, "predictions"), sd, "output.fc3")


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


# ---------------------------------------------------------------------------------------------
# BN-Inception: conv blocks are {conv, bn}; stage{1,2,3}.unit{j} are modules 3a-3c, 4a-4e,
# 5a-5b; an Inception block's branches 1-4 are 1x1, 3x3, double 3x3, pool; a reduction
# block's branches 1-2 are 3x3 and double 3x3 (branch 3 is the max pooling).

_BN_INCEPTION_MODULES = {"stage1": ("3a", "3b"), "stage2": ("3c", "4a", "4b", "4c", "4d"),
                         "stage3": ("4e", "5a", "5b")}


def _conv_block(sd, model, name, prefix):
    set_conv(layer(model, name), sd, f"{prefix}.conv")
    set_bn(layer(model, f"{name}_bn"), sd, f"{prefix}.bn", expect_epsilon=TORCH_BN_EPSILON)


def convert_bninception(sd: StateDict, model, *, skip_classifier: bool) -> None:
    stem = "features.init_block"
    _conv_block(sd, model, "conv1", f"{stem}.conv1")
    _conv_block(sd, model, "conv2_reduce", f"{stem}.conv2.conv1")
    _conv_block(sd, model, "conv2", f"{stem}.conv2.conv2")
    for stage, modules in _BN_INCEPTION_MODULES.items():
        for j, module in enumerate(modules, 1):
            src, dst = f"features.{stage}.unit{j}.branches", f"inception_{module}"
            reduction = f"{src}.branch4.conv.conv.weight" not in sd
            three, double = ("branch1", "branch2") if reduction else ("branch2", "branch3")
            if not reduction:
                _conv_block(sd, model, f"{dst}_1x1", f"{src}.branch1")
                _conv_block(sd, model, f"{dst}_pool_proj", f"{src}.branch4.conv")
            _conv_block(sd, model, f"{dst}_3x3_reduce", f"{src}.{three}.conv1")
            _conv_block(sd, model, f"{dst}_3x3", f"{src}.{three}.conv2")
            _conv_block(sd, model, f"{dst}_double_3x3_reduce", f"{src}.{double}.conv1")
            _conv_block(sd, model, f"{dst}_double_3x3_1", f"{src}.{double}.conv2")
            _conv_block(sd, model, f"{dst}_double_3x3_2", f"{src}.{double}.conv3")
    if skip_classifier:
        sd.skip("output")
    else:
        set_dense(layer(model, "predictions"), sd, "output")


register_converter("pytorchcv:alexnet", convert_alexnet)
register_converter("pytorchcv:zfnet", convert_alexnet)
register_converter("pytorchcv:shufflenet", convert_shufflenet)
register_converter("pytorchcv:bninception", convert_bninception)

_CV_NOTE = "Layout: {}."

register_weight_sets("alexnet_cv", pytorchcv_set(
    "alexnet", "1664", "2768cdb312d584e33e93f31b0c569589bb289749", "v0.0.481", 61.50,
    note=_CV_NOTE.format("LRN before ceil-mode pooling, alpha per window (PyTorch's "
                         "local_response_norm), 224x224")))
register_weight_sets("zfnet_cv", pytorchcv_set(
    "zfnet", "1727", "d010ddca1eb32a50a8cceb475c792f53e769b631", "v0.0.395", 60.21,
    note=_CV_NOTE.format("LRN before ceil-mode pooling (pytorchcv's order; the paper's "
                         "zfnet normalizes after pooling), alpha per window")))
register_weight_sets("bn_inception_cv", pytorchcv_set(
    "bninception", "0774", "d79ba5f573ba2da5fea5e4c9a7f67ddd526e234b", "v0.0.405", 74.63,
    note=_CV_NOTE.format("symmetric padding, ceil-mode max pooling, average pooling "
                         "counting its padding, BN epsilon 1e-5; pytorchcv's head is a 7x7 "
                         "average pooling, so its source takes only 223x223 and 224x224 "
                         "inputs (ours any size)")))

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
