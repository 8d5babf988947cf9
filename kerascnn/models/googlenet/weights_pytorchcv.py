"""pytorchcv's ImageNet-1K checkpoint (osmr's imgclsmob) of BN-Inception ->
``bn_inception_cv``.

File: ``<name>-<error>-<sha1[:8]>.pth.zip`` among the imgclsmob release assets (see
:mod:`kerascnn.weights.pytorchcv`; the error in the file name is the top-5 error, in
hundredths of a percent); SHA-1 only (in the set's ``note``; ``sha256`` None). ``top1`` is
100 minus the top-1 error of pytorchcv's table (1 crop, 224x224 of a 256 resize, bilinear,
the ImageNet mean/std). Licence: MIT (imgclsmob's).

Layout: ``bn_inception_cv`` (symmetric padding, ceil-mode pooling, average pooling counting
padding).
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
)
from kerascnn.weights.pytorchcv import pytorchcv_set

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


register_converter("pytorchcv:bninception", convert_bninception)

_CV_NOTE = "Layout: {}."

register_weight_sets("bn_inception_cv", pytorchcv_set(
    "bninception", "0774", "d79ba5f573ba2da5fea5e4c9a7f67ddd526e234b", "v0.0.405", 74.63,
    note=_CV_NOTE.format("symmetric padding, ceil-mode max pooling, average pooling "
                         "counting its padding, BN epsilon 1e-5; pytorchcv's head is a 7x7 "
                         "average pooling, so its source takes only 223x223 and 224x224 "
                         "inputs (ours any size)")))
