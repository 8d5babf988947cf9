"""torchvision's Inception v3 (``torchvision.models.inception_v3``) -> ``inception_v3_tv``.

torchvision's Inception3 has keras' Inception v3 graph and branch order, with three
differences that ``inception_v3_tv`` builds exactly: every ``BasicConv2d`` is a convolution
without bias and a BN *with* gamma (eps 1e-3; keras' has ``scale=False``); the 3x3/1
average pooling of modules A, B and C counts the zero padding (``F.avg_pool2d(x, 3, 1, 1)``;
keras' "same" pooling does not); and ``transform_input=True`` (set by torchvision for its
ImageNet weights) re-normalises an ImageNet mean/std input to mean 0.5, std 0.5.

State-dict keys: ``Conv2d_1a_3x3`` .. ``Conv2d_4a_3x3`` (stem), ``Mixed_5b/5c/5d`` (A),
``Mixed_6a`` (reduction), ``Mixed_6b..6e`` (B), ``Mixed_7a`` (reduction), ``Mixed_7b/7c``
(C), each ``BasicConv2d`` as ``.conv`` and ``.bn``; ``AuxLogits.conv0/conv1/fc`` (the
auxiliary head, trained only); ``fc``. timm's ``inception_v3`` has the same keys.
"""

from __future__ import annotations

from kerascnn.weights.core import (
    TIMM_HUB,
    StateDict,
    WeightsError,
    WeightSet,
    layer,
    register_converter,
    register_weight_sets,
    set_basic_conv,
    set_dense,
)
from kerascnn.weights.torchvision import published

_STEM = {"conv1": "Conv2d_1a_3x3", "conv2": "Conv2d_2a_3x3", "conv3": "Conv2d_2b_3x3",
         "conv4": "Conv2d_3b_1x1", "conv5": "Conv2d_4a_3x3"}
# keras' branch names -> torchvision's, per module type.
_A = {"1x1": "branch1x1", "5x5_reduce": "branch5x5_1", "5x5": "branch5x5_2",
      "3x3dbl_reduce": "branch3x3dbl_1", "3x3dbl_1": "branch3x3dbl_2",
      "3x3dbl_2": "branch3x3dbl_3", "pool_proj": "branch_pool"}
_REDUCTION_A = {"3x3": "branch3x3", "3x3dbl_reduce": "branch3x3dbl_1",
                "3x3dbl_1": "branch3x3dbl_2", "3x3dbl_2": "branch3x3dbl_3"}
_B = {"1x1": "branch1x1", "7x7_reduce": "branch7x7_1", "1x7": "branch7x7_2",
      "7x1": "branch7x7_3", "7x7dbl_reduce": "branch7x7dbl_1", "7x7dbl_1": "branch7x7dbl_2",
      "7x7dbl_2": "branch7x7dbl_3", "7x7dbl_3": "branch7x7dbl_4", "7x7dbl_4": "branch7x7dbl_5",
      "pool_proj": "branch_pool"}
_REDUCTION_B = {"3x3_reduce": "branch3x3_1", "3x3": "branch3x3_2",
                "7x7x3_reduce": "branch7x7x3_1", "7x7x3_1": "branch7x7x3_2",
                "7x7x3_2": "branch7x7x3_3", "7x7x3_3": "branch7x7x3_4"}
_C = {"1x1": "branch1x1", "3x3_reduce": "branch3x3_1", "3x3_1x3": "branch3x3_2a",
      "3x3_3x1": "branch3x3_2b", "3x3dbl_reduce": "branch3x3dbl_1",
      "3x3dbl_1": "branch3x3dbl_2", "3x3dbl_1x3": "branch3x3dbl_3a",
      "3x3dbl_3x1": "branch3x3dbl_3b", "pool_proj": "branch_pool"}
MODULES = (("mixed0", "Mixed_5b", _A), ("mixed1", "Mixed_5c", _A), ("mixed2", "Mixed_5d", _A),
           ("mixed3", "Mixed_6a", _REDUCTION_A), ("mixed4", "Mixed_6b", _B),
           ("mixed5", "Mixed_6c", _B), ("mixed6", "Mixed_6d", _B), ("mixed7", "Mixed_6e", _B),
           ("mixed8", "Mixed_7a", _REDUCTION_B), ("mixed9", "Mixed_7b", _C),
           ("mixed10", "Mixed_7c", _C))


def _has_layer(model, name: str) -> bool:
    return any(lyr.name == name for lyr in model.layers)


def convert(sd: StateDict, model, *, skip_classifier: bool) -> None:
    """Copies a torchvision Inception3 state dict into an ``inception_v3_tv`` model.

    The auxiliary head's tensors (``AuxLogits.*``) go to the model's auxiliary head when it
    has one (``aux_logits=True``); without it they are deliberately left out (torchvision
    uses the head in training only: the inference outputs do not depend on it).
    """
    if "Mixed_5b.branch1x1.conv.weight" not in sd:
        raise WeightsError(f"{sd.origin} is not a torchvision Inception v3 state dict "
                           "(no Mixed_5b.branch1x1).")
    for keras_name, prefix in _STEM.items():
        set_basic_conv(model, sd, keras_name, prefix)
    for keras_module, torch_module, branches in MODULES:
        for keras_branch, torch_branch in branches.items():
            set_basic_conv(model, sd, f"{keras_module}_{keras_branch}",
                           f"{torch_module}.{torch_branch}")
    if _has_layer(model, "aux_conv1"):
        set_basic_conv(model, sd, "aux_conv1", "AuxLogits.conv0")
        set_basic_conv(model, sd, "aux_conv2", "AuxLogits.conv1")
        if skip_classifier:
            sd.skip("AuxLogits.fc")
        else:
            set_dense(layer(model, "aux_predictions"), sd, "AuxLogits.fc")
    else:
        sd.skip("AuxLogits")
    if skip_classifier:
        sd.skip("fc")
    else:
        set_dense(layer(model, "predictions"), sd, "fc")


register_converter("torchvision:inception_v3", convert)

register_weight_sets(
    "inception_v3_tv",
    WeightSet(
        tag="imagenet", source="torchvision:inception_v3",
        url=TIMM_HUB.format("inception_v3.tv_in1k"),
        classes=1000, input_size=(299, 299, 3), interpolation="bilinear",
        license="BSD-3-Clause", **published("inception_v3_google-0cc3c7bd.pth"),
        note="torchvision's IMAGENET1K_V1 weights (Google's Inception v3 ported to PyTorch) as "
             "the timm hub's safetensors copy inception_v3.tv_in1k (of "
             "inception_v3_google-1a9a5a14.pth; the top-1 is the metadata of the file "
             "torchvision serves now, inception_v3_google-0cc3c7bd.pth); torchvision's "
             "evaluation "
             "(resize 342, crop 299, ImageNet mean/std, then transform_input inside the "
             "model: inception_v3_tv builds it by default). The file holds the auxiliary "
             "head (AuxLogits.*): loaded with aux_logits=True, deliberately left out "
             "otherwise (inference outputs do not use it)"),
)
