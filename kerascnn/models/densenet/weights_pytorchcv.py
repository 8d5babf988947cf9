"""pytorchcv's CIFAR-10 checkpoints of DenseNet-BC (L=100, k=12 and L=190, k=40).

Published as imgclsmob GitHub release assets, ``<name>-<error>-<sha1[:8]>.pth.zip`` (the
error in the file name is the CIFAR-10 test error in hundredths of a percent: ``top1`` is
100 minus it); SHA-1 only (recorded in each set's ``note``; ``sha256`` None). pytorchcv
normalizes CIFAR inputs with mean (0.4914, 0.4822, 0.4465) and std (0.2023, 0.1994,
0.2010); its CIFAR models take 32x32 images without resizing. Licence: MIT.

Layouts: ``densenet_bc100_cifar_cv`` / ``densenet_bc190_cifar_cv`` (the paper's
DenseNet-BC with PyTorch's BN epsilon 1e-5).
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
from kerascnn.weights.pytorchcv import pytorchcv_cifar_set

# ---------------------------------------------------------------------------------------------
# CIFAR DenseNet: features.init_block (a plain 3x3 conv); features.stage{i}.trans{i}.conv.{bn,
# conv} (i > 1); features.stage{i}.unit{j}.conv{1,2}.{bn,conv}; features.post_activ.bn; output.

def convert_densenet_cifar(sd: StateDict, model, *, skip_classifier: bool) -> None:
    eps = dict(expect_epsilon=TORCH_BN_EPSILON)
    set_conv(layer(model, "conv1_conv"), sd, "features.init_block")
    stages = sorted({k.split(".")[1] for k in sd.keys() if k.startswith("features.stage")})
    for stage in stages:
        i = int(stage[5:])
        src = f"features.{stage}"
        if i > 1:
            set_bn(layer(model, f"pool{i}_bn"), sd, f"{src}.trans{i}.conv.bn", **eps)
            set_conv(layer(model, f"pool{i}_conv"), sd, f"{src}.trans{i}.conv.conv")
        units = sorted({int(k.split(".")[2][4:]) for k in sd.keys()
                        if k.startswith(f"{src}.unit")})
        for j in units:
            unit, dst = f"{src}.unit{j}", f"conv{i + 1}_block{j}"
            set_bn(layer(model, f"{dst}_0_bn"), sd, f"{unit}.conv1.bn", **eps)
            set_conv(layer(model, f"{dst}_1_conv"), sd, f"{unit}.conv1.conv")
            set_bn(layer(model, f"{dst}_1_bn"), sd, f"{unit}.conv2.bn", **eps)
            set_conv(layer(model, f"{dst}_2_conv"), sd, f"{unit}.conv2.conv")
    set_bn(layer(model, "bn"), sd, "features.post_activ.bn", **eps)
    if skip_classifier:
        sd.skip("output")
    else:
        set_dense(layer(model, "predictions"), sd, "output")


register_converter("pytorchcv:densenet100_k12_bc_cifar10", convert_densenet_cifar)
register_converter("pytorchcv:densenet190_k40_bc_cifar10", convert_densenet_cifar)

register_weight_sets("densenet_bc100_cifar_cv", pytorchcv_cifar_set(
    "densenet100_k12_bc_cifar10", "0416", "b9232829b13c3f3f2ea15f4be97f500b7912c3c2",
    "v0.0.189", note="pytorchcv's head is an 8x8 average pooling (its source takes 32-35 "
                     "pixel inputs, ours any size)."))
register_weight_sets("densenet_bc190_cifar_cv", pytorchcv_cifar_set(
    "densenet190_k40_bc_cifar10", "0252", "2896fa088aeaef36fcf395d404d97ff172d78943",
    "v0.0.286", note="pytorchcv's head is an 8x8 average pooling (its source takes 32-35 "
                     "pixel inputs, ours any size)."))
