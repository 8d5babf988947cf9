"""timm's Inception v4 and Inception-ResNet-v2 (ports of TF-slim's released checkpoints) ->
``inception_v4_timm`` and ``inception_resnet_v2_timm``.

Both files are already in PyTorch's layout (the port transposed TF-slim's HWIO kernels to
OIHW, and a TF-slim ``[7, 1]`` kernel is a PyTorch ``(7, 1)`` one: height first), so the
standard OIHW -> HWIO conversion applies; a kernel whose orientation the keras layout got
wrong fails the shape check of :func:`set_conv` instead of loading transposed.

timm's modules are ``ConvNormAct`` (``.conv`` without bias, ``.bn`` with affine, eps 1e-3,
ReLU). Differences from kerascnn's other layouts, built exactly by the ``_timm`` variants:
Inception v4's module B double branch runs 7x1 -> 1x7 -> 7x1 -> 1x7 and module C's double
branch 3x1 448 -> 1x3 512 (TF-slim's order; kerascnn's ``inception_v4`` the reverse);
Inception-ResNet-v2 has BN gammas (keras' ``inception_resnet_v2`` has ``scale=False``). The
average pooling branches exclude the padding (``count_include_pad=False``) as keras' "same"
pooling; the concatenation orders are kerascnn's.
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
    set_conv,
    set_dense,
)

# Inception v4: keras' names -> the timm module (under ``features.{index}``) per module type.
_V4_STEM = {"stem_conv1": "features.0", "stem_conv2": "features.1", "stem_conv3": "features.2",
            "stem_conv4": "features.3.conv", "stem_b1_1x1": "features.4.branch0.0",
            "stem_b1_3x3": "features.4.branch0.1", "stem_b2_1x1": "features.4.branch1.0",
            "stem_b2_1x7": "features.4.branch1.1", "stem_b2_7x1": "features.4.branch1.2",
            "stem_b2_3x3": "features.4.branch1.3", "stem_conv5": "features.5.conv"}
_V4_A = {"1x1": "branch0", "3x3_reduce": "branch1.0", "3x3": "branch1.1",
         "3x3dbl_reduce": "branch2.0", "3x3dbl_1": "branch2.1", "3x3dbl_2": "branch2.2",
         "pool_proj": "branch3.1"}
_V4_REDUCTION_A = {"3x3": "branch0", "3x3dbl_reduce": "branch1.0", "3x3dbl_1": "branch1.1",
                   "3x3dbl_2": "branch1.2"}
_V4_B = {"1x1": "branch0", "7x7_reduce": "branch1.0", "1x7": "branch1.1", "7x1": "branch1.2",
         "7x7dbl_reduce": "branch2.0", "7x7dbl_1": "branch2.1", "7x7dbl_2": "branch2.2",
         "7x7dbl_3": "branch2.3", "7x7dbl_4": "branch2.4", "pool_proj": "branch3.1"}
_V4_REDUCTION_B = {"3x3_reduce": "branch0.0", "3x3": "branch0.1", "7x7x3_reduce": "branch1.0",
                   "7x7x3_1": "branch1.1", "7x7x3_2": "branch1.2", "7x7x3_3": "branch1.3"}
_V4_C = {"1x1": "branch0", "3x3_reduce": "branch1_0", "3x3_1x3": "branch1_1a",
         "3x3_3x1": "branch1_1b", "3x3dbl_reduce": "branch2_0", "3x3dbl_1": "branch2_1",
         "3x3dbl_2": "branch2_2", "3x3dbl_1x3": "branch2_3a", "3x3dbl_3x1": "branch2_3b",
         "pool_proj": "branch3.1"}
V4_MODULES = tuple(
    [(f"inception_a{i}", 5 + i, _V4_A) for i in range(1, 5)]
    + [("reduction_a", 10, _V4_REDUCTION_A)]
    + [(f"inception_b{i}", 10 + i, _V4_B) for i in range(1, 8)]
    + [("reduction_b", 18, _V4_REDUCTION_B)]
    + [(f"inception_c{i}", 18 + i, _V4_C) for i in range(1, 4)])


def convert_inception_v4(sd: StateDict, model, *, skip_classifier: bool) -> None:
    """Copies timm's ``inception_v4`` state dict into an ``inception_v4_timm`` model."""
    if "features.21.branch2_3b.conv.weight" not in sd:
        raise WeightsError(f"{sd.origin} is not a timm Inception v4 state dict "
                           "(no features.21.branch2_3b).")
    for keras_name, prefix in _V4_STEM.items():
        set_basic_conv(model, sd, keras_name, prefix)
    for keras_module, index, branches in V4_MODULES:
        for keras_branch, timm_branch in branches.items():
            set_basic_conv(model, sd, f"{keras_module}_{keras_branch}",
                           f"features.{index}.{timm_branch}")
    if skip_classifier:
        sd.skip("last_linear")
    else:
        set_dense(layer(model, "predictions"), sd, "last_linear")


# Inception-ResNet-v2.
_IRV2_STEM = {"conv1": "conv2d_1a", "conv2": "conv2d_2a", "conv3": "conv2d_2b",
              "conv4": "conv2d_3b", "conv5": "conv2d_4a"}
_IRV2_5B = {"b0_1x1": "branch0", "b1_1x1": "branch1.0", "b1_5x5": "branch1.1",
            "b2_1x1": "branch2.0", "b2_3x3_1": "branch2.1", "b2_3x3_2": "branch2.2",
            "pool_proj": "branch3.1"}
_BLOCK35 = {"b0_1x1": "branch0", "b1_1x1": "branch1.0", "b1_3x3": "branch1.1",
            "b2_1x1": "branch2.0", "b2_3x3_1": "branch2.1", "b2_3x3_2": "branch2.2"}
_IRV2_6A = {"3x3": "branch0", "3x3dbl_reduce": "branch1.0", "3x3dbl_1": "branch1.1",
            "3x3dbl_2": "branch1.2"}
_BLOCK17 = {"b0_1x1": "branch0", "b1_1x1": "branch1.0", "b1_1x7": "branch1.1",
            "b1_7x1": "branch1.2"}
_IRV2_7A = {"b0_1x1": "branch0.0", "b0_3x3": "branch0.1", "b1_1x1": "branch1.0",
            "b1_3x3": "branch1.1", "b2_1x1": "branch2.0", "b2_3x3_1": "branch2.1",
            "b2_3x3_2": "branch2.2"}
_BLOCK8 = {"b0_1x1": "branch0", "b1_1x1": "branch1.0", "b1_1x3": "branch1.1",
           "b1_3x1": "branch1.2"}
IRV2_RESIDUAL = tuple(
    [(f"block35_{i}", f"repeat.{i - 1}", _BLOCK35) for i in range(1, 11)]
    + [(f"block17_{i}", f"repeat_1.{i - 1}", _BLOCK17) for i in range(1, 21)]
    + [(f"block8_{i}", f"repeat_2.{i - 1}", _BLOCK8) for i in range(1, 10)]
    + [("block8_10", "block8", _BLOCK8)])


def convert_inception_resnet_v2(sd: StateDict, model, *, skip_classifier: bool) -> None:
    """Copies timm's ``inception_resnet_v2`` state dict into ``inception_resnet_v2_timm``."""
    if "mixed_5b.branch0.conv.weight" not in sd:
        raise WeightsError(f"{sd.origin} is not a timm Inception-ResNet-v2 state dict "
                           "(no mixed_5b.branch0).")
    for keras_name, prefix in _IRV2_STEM.items():
        set_basic_conv(model, sd, keras_name, prefix)
    for keras_module, timm_module, branches in (("mixed_5b", "mixed_5b", _IRV2_5B),
                                                ("mixed_6a", "mixed_6a", _IRV2_6A),
                                                ("mixed_7a", "mixed_7a", _IRV2_7A)):
        for keras_branch, timm_branch in branches.items():
            set_basic_conv(model, sd, f"{keras_module}_{keras_branch}",
                           f"{timm_module}.{timm_branch}")
    for keras_block, timm_block, branches in IRV2_RESIDUAL:
        for keras_branch, timm_branch in branches.items():
            set_basic_conv(model, sd, f"{keras_block}_{keras_branch}",
                           f"{timm_block}.{timm_branch}")
        # the linear 1x1 projection: a biased convolution without BN
        set_conv(layer(model, f"{keras_block}_conv"), sd, f"{timm_block}.conv2d")
    set_basic_conv(model, sd, "conv_7b", "conv2d_7b")
    if skip_classifier:
        sd.skip("classif")
    else:
        set_dense(layer(model, "predictions"), sd, "classif")


register_converter("timm:inception_v4", convert_inception_v4)
register_converter("timm:inception_resnet_v2", convert_inception_resnet_v2)

# timm's pretrained configurations (inception_v4.tf_in1k, inception_resnet_v2.tf_in1k):
# 299x299, bicubic, Inception mean/std 0.5; top-1 from timm's results/results-imagenet.csv.
_INCEPTION_MEAN = (0.5, 0.5, 0.5)
_INCEPTION_STD = (0.5, 0.5, 0.5)

register_weight_sets(
    "inception_v4_timm",
    WeightSet(
        tag="imagenet", source="timm:inception_v4",
        url=TIMM_HUB.format("inception_v4.tf_in1k"),
        classes=1000, input_size=(299, 299, 3), mean=_INCEPTION_MEAN, std=_INCEPTION_STD,
        interpolation="bicubic", crop_pct=0.875, top1=80.156, license="Apache-2.0",
        num_params=42679816, recipe="TensorFlow-Slim's released checkpoint, ported by timm",
        note="timm's inception_v4.tf_in1k: TF-slim's Inception-v4 checkpoint "
             "(inception_v4_2016_09_09) ported to PyTorch; TF-slim's order of the factorised "
             "convolutions (inception_v4_timm); equal to timm's outputs at any input size"),
)
register_weight_sets(
    "inception_resnet_v2_timm",
    WeightSet(
        tag="imagenet", source="timm:inception_resnet_v2",
        url=TIMM_HUB.format("inception_resnet_v2.tf_in1k"),
        classes=1000, input_size=(299, 299, 3), mean=_INCEPTION_MEAN, std=_INCEPTION_STD,
        interpolation="bicubic", crop_pct=0.8975, top1=80.462, license="Apache-2.0",
        num_params=55843464, recipe="TensorFlow-Slim's released checkpoint, ported by timm",
        note="timm's inception_resnet_v2.tf_in1k: TF-slim's Inception-ResNet-v2 checkpoint "
             "(inception_resnet_v2_2016_08_30) ported to PyTorch; keras' graph with BN gammas "
             "(inception_resnet_v2_timm); equal to timm's outputs at any input size"),
)
