"""pytorchcv's CIFAR-10 checkpoint of the CIFAR Network in Network -> ``nin_cifar_cv``.

Published as an imgclsmob GitHub release asset, ``<name>-<error>-<sha1[:8]>.pth.zip`` (the
error in the file name is the CIFAR-10 test error in hundredths of a percent: ``top1`` is
100 minus it); SHA-1 only (recorded in the set's ``note``; ``sha256`` None). pytorchcv
normalizes CIFAR inputs with mean (0.4914, 0.4822, 0.4465) and std (0.2023, 0.1994,
0.2010); its CIFAR models take 32x32 images without resizing. Licence: MIT.

Layout: ``nin_cifar_cv`` (3x3/2 poolings padded one pixel each side, the average counting
it).
"""

from __future__ import annotations

from kerascnn.weights.core import (
    StateDict,
    layer,
    register_converter,
    register_weight_sets,
    set_conv,
)
from kerascnn.weights.pytorchcv import pytorchcv_cifar_set

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


register_converter("pytorchcv:nin_cifar", convert_nin_cifar)

register_weight_sets("nin_cifar_cv", pytorchcv_cifar_set(
    "nin_cifar10", "0743", "795b082470b58c1aa94e2f861514b7914f6e2f58", "v0.0.175",
    note="pytorchcv's head is an 8x8 average pooling (its source takes 29-32 pixel inputs, "
         "ours any size)."))
