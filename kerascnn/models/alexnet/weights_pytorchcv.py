"""pytorchcv's ImageNet-1K checkpoints (osmr's imgclsmob) of AlexNet and ZFNet ->
``alexnet_cv`` and ``zfnet_cv``.

Files: ``<name>-<error>-<sha1[:8]>.pth.zip`` among the imgclsmob release assets (see
:mod:`kerascnn.weights.pytorchcv`; the error in the file name is the top-5 error, in
hundredths of a percent); SHA-1 only (in each set's ``note``; ``sha256`` None). ``top1`` is
100 minus the top-1 error of pytorchcv's table (1 crop, 224x224 of a 256 resize, bilinear,
the ImageNet mean/std). Licence: MIT (imgclsmob's).

Layouts: ``alexnet_cv`` and ``zfnet_cv`` (ceil-mode pooling, PyTorch's
``local_response_norm`` convention, LRN before pooling).
"""

from __future__ import annotations

from kerascnn.weights.core import (
    StateDict,
    layer,
    register_converter,
    register_weight_sets,
    set_conv,
    set_dense,
)
from kerascnn.weights.pytorchcv import pytorchcv_set

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


register_converter("pytorchcv:alexnet", convert_alexnet)
register_converter("pytorchcv:zfnet", convert_alexnet)

_CV_NOTE = "Layout: {}."

register_weight_sets("alexnet_cv", pytorchcv_set(
    "alexnet", "1664", "2768cdb312d584e33e93f31b0c569589bb289749", "v0.0.481", 61.50,
    note=_CV_NOTE.format("LRN before ceil-mode pooling, alpha per window (PyTorch's "
                         "local_response_norm), 224x224")))
register_weight_sets("zfnet_cv", pytorchcv_set(
    "zfnet", "1727", "d010ddca1eb32a50a8cceb475c792f53e769b631", "v0.0.395", 60.21,
    note=_CV_NOTE.format("LRN before ceil-mode pooling (pytorchcv's order; the paper's "
                         "zfnet normalizes after pooling), alpha per window")))
