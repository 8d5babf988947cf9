"""pytorchcv's CIFAR-10 checkpoints of DenseNet-BC (L=100, k=12 and L=190, k=40) and of the
CIFAR Network in Network.

Published as imgclsmob GitHub release assets, ``<name>-<error>-<sha1[:8]>.pth.zip`` (the
error in the file name is the CIFAR-10 test error in hundredths of a percent: ``top1`` is
100 minus it); SHA-1 only (recorded in each set's ``note``; ``sha256`` None). pytorchcv
normalizes CIFAR inputs with mean (0.4914, 0.4822, 0.4465) and std (0.2023, 0.1994,
0.2010); its CIFAR models take 32x32 images without resizing. Licence: MIT.

Layouts: ``densenet_bc100_cifar_cv`` / ``densenet_bc190_cifar_cv`` (the paper's
DenseNet-BC with PyTorch's BN epsilon 1e-5) and ``nin_cifar_cv`` (3x3/2 poolings padded one
pixel each side, the average counting it).
"""

from __future__ import annotations

from kerascnn.weights.core import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    StateDict,
    layer,
    register_converter,
    register_weight_sets,
    set_bn,
    set_conv,
    set_dense,
)
from kerascnn.weights.sources.pytorchcv_imagenet import TORCH_BN_EPSILON, pytorchcv_set

CIFAR_MEAN, CIFAR_STD = CIFAR10_MEAN, CIFAR10_STD


def _cifar_set(name, error, sha1, release, **kwargs):
    return pytorchcv_set(name, error, sha1, release, round(100 - int(error) / 100, 2),
                         tag="cifar10", classes=10, input_size=(32, 32, 3), mean=CIFAR_MEAN,
                         std=CIFAR_STD, crop_pct=1.0, **kwargs)


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


# ---------------------------------------------------------------------------------------------
# CIFAR NiN: features.stage{1,2,3}.unit{j}.conv (unit1 the spatial conv, then the 1x1 mlpconvs);
# output.final_conv.conv (the class convolution).

def convert_nin_cifar(sd: StateDict, model, *, skip_classifier: bool) -> None:
    for stage in (1, 2, 3):
        units = sorted({int(k.split(".")[2][4:]) for k in sd.keys()
                        if k.startswith(f"features.stage{stage}.unit")})
        for j in units:
            dst = f"stage{stage}_conv" if j == 1 else f"stage{stage}_mlp{j - 1}"
            set_conv(layer(model, dst), sd, f"features.stage{stage}.unit{j}.conv")
    if skip_classifier:
        sd.skip("output")
    else:
        set_conv(layer(model, "final_conv"), sd, "output.final_conv.conv")


register_converter("pytorchcv:densenet100_k12_bc_cifar10", convert_densenet_cifar)
register_converter("pytorchcv:densenet190_k40_bc_cifar10", convert_densenet_cifar)
register_converter("pytorchcv:nin_cifar", convert_nin_cifar)

register_weight_sets("densenet_bc100_cifar_cv", _cifar_set(
    "densenet100_k12_bc_cifar10", "0416", "b9232829b13c3f3f2ea15f4be97f500b7912c3c2",
    "v0.0.189", note="pytorchcv's head is an 8x8 average pooling (its source takes 32-35 "
                     "pixel inputs, ours any size)."))
register_weight_sets("densenet_bc190_cifar_cv", _cifar_set(
    "densenet190_k40_bc_cifar10", "0252", "2896fa088aeaef36fcf395d404d97ff172d78943",
    "v0.0.286", note="pytorchcv's head is an 8x8 average pooling (its source takes 32-35 "
                     "pixel inputs, ours any size)."))
register_weight_sets("nin_cifar_cv", _cifar_set(
    "nin_cifar10", "0743", "795b082470b58c1aa94e2f861514b7914f6e2f58", "v0.0.175",
    note="pytorchcv's head is an 8x8 average pooling (its source takes 29-32 pixel inputs, "
         "ours any size)."))
