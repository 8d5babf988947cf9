"""torchvision's ResNet family: ResNet-18/34/50/101/152, Wide ResNet-50-2/101-2 and
ResNeXt-50 32x4d, 101 32x8d, 101 64x4d (the ``torchvision.models.resnet`` module).

Layout. torchvision's ResNet is "v1.5": no convolution bias, the stride of a
downsampling bottleneck on its 3x3 convolution, 1x1 projections with BN (option B),
BatchNorm epsilon 1e-5. kerascnn's ``resnet50``/``resnet101``/``resnet152`` keep
keras.applications' layout (convolution biases, stride on the first 1x1), so
torchvision's weights load into ``resnet50_tv``/``resnet101_tv``/``resnet152_tv``;
``resnet18``/``resnet34``, ``wide_resnet*`` and ``resnext*`` are torchvision's layout
under torchvision's names.

Files. Every set is read from timm's safetensors copy of torchvision's file on the
Hugging Face hub (``resnet50.tv_in1k`` is torchvision's ``resnet50-0676ba61.pth``;
timm's ResNet uses torchvision's state-dict keys, so the tensors and names are
torchvision's). torchvision's own ``.pth`` files load the same way.

Tags. ``"imagenet"`` is torchvision's ``DEFAULT`` weights of each model: its
``IMAGENET1K_V2`` set (the 2021 training recipe: 80.9 % instead of 76.1 % for
ResNet-50) where torchvision publishes one, else ``IMAGENET1K_V1``;
``"imagenet_v1"`` is the original ``IMAGENET1K_V1`` set of the models whose default
is V2. The V2 sets are evaluated by torchvision at 224 after a resize to 232
(``crop_pct`` 224/232), the V1 sets after a resize to 256 (0.875); both bilinear.

Keys: ``conv1``, ``bn1``, ``layer{1..4}.{j}.conv1/bn1/conv2/bn2[/conv3/bn3]``,
``layer{i}.{j}.downsample.0`` (projection) and ``.1`` (its BN), ``fc``. kerascnn's
block ``j`` of stage ``i`` is ``res{i+1}{letter}`` (letters a, b, ... or a, b1, b2, ...
past 26 blocks, :func:`kerascnn.blocks.residual.block_letters`).
"""

from __future__ import annotations

from kerascnn.blocks.common import TORCH_BN_EPSILON
from kerascnn.blocks.residual import block_letters
from kerascnn.weights.core import (
    TIMM_HUB,
    WeightsError,
    WeightSet,
    check_all_filled,
    layer,
    register_converter,
    register_weight_sets,
    set_bn,
    set_conv,
    set_dense,
)
from kerascnn.weights.torchvision import LICENSE, TORCHVISION, published

__all__ = ["convert"]

_V1_CROP = 224 / 256  # torchvision: resize 256, centre crop 224
_V2_CROP = 224 / 232  # torchvision's IMAGENET1K_V2 recipe: resize 232, centre crop 224


def _set(tag, torch_name, timm_name, tv_file, top1, crop_pct, version):
    meta = published(tv_file)  # its top-1 and resize are those of the table below
    return WeightSet(
        tag=tag, source=f"torchvision:{torch_name}", url=TIMM_HUB.format(timm_name),
        classes=1000, input_size=(224, 224, 3), interpolation="bilinear", license=LICENSE,
        **meta,
        note=(f"torchvision's {torch_name} IMAGENET1K_{version} weights "
              f"({TORCHVISION.format(tv_file)}), from timm's safetensors copy {timm_name}"))


# kerascnn name -> (torchvision name, V1 file, V1 top-1, V2 file or None, V2 top-1).
# Top-1: torchvision's published ImageNet-1K acc@1 of each weights enum.
_SETS = {
    "resnet18": ("resnet18", "resnet18-f37072fd.pth", 69.758, None, None),
    "resnet34": ("resnet34", "resnet34-b627a593.pth", 73.314, None, None),
    "resnet50_tv": ("resnet50", "resnet50-0676ba61.pth", 76.13,
                    "resnet50-11ad3fa6.pth", 80.858),
    "resnet101_tv": ("resnet101", "resnet101-63fe2227.pth", 77.374,
                     "resnet101-cd907fc2.pth", 81.886),
    "resnet152_tv": ("resnet152", "resnet152-394f9c45.pth", 78.312,
                     "resnet152-f82ba261.pth", 82.284),
    "wide_resnet50_2": ("wide_resnet50_2", "wide_resnet50_2-95faca4d.pth", 78.468,
                        "wide_resnet50_2-9ba9bcbe.pth", 81.602),
    "wide_resnet101_2": ("wide_resnet101_2", "wide_resnet101_2-32ee1156.pth", 78.848,
                         "wide_resnet101_2-d733dc28.pth", 82.51),
    "resnext50_32x4d": ("resnext50_32x4d", "resnext50_32x4d-7cdf4587.pth", 77.618,
                        "resnext50_32x4d-1a0047aa.pth", 81.198),
    "resnext101_32x8d": ("resnext101_32x8d", "resnext101_32x8d-8ba56ff5.pth", 79.312,
                         "resnext101_32x8d-110c445d.pth", 82.834),
}

for _name, (_tv, _v1_file, _v1_top1, _v2_file, _v2_top1) in _SETS.items():
    if _v2_file is None:
        register_weight_sets(_name, _set("imagenet", _tv, f"{_tv}.tv_in1k", _v1_file, _v1_top1,
                                         _V1_CROP, "V1"))
    else:
        register_weight_sets(
            _name,
            _set("imagenet", _tv, f"{_tv}.tv2_in1k", _v2_file, _v2_top1, _V2_CROP, "V2"),
            _set("imagenet_v1", _tv, f"{_tv}.tv_in1k", _v1_file, _v1_top1, _V1_CROP, "V1"))

# torchvision's only ResNeXt-101 64x4d set (IMAGENET1K_V1) was trained with the V2 recipe
# and is evaluated as the V2 sets (resize 232).
register_weight_sets("resnext101_64x4d", _set(
    "imagenet", "resnext101_64x4d", "resnext101_64x4d.tv_in1k", "resnext101_64x4d-173b62eb.pth",
    83.246, _V2_CROP, "V1"))


def _blocks_per_stage(sd) -> list[int]:
    counts = []
    for stage in range(1, 5):
        blocks = {key.split(".")[1] for key in sd.keys() if key.startswith(f"layer{stage}.")}
        if not blocks or blocks != {str(j) for j in range(len(blocks))}:
            raise WeightsError(f"{sd.origin} is not a torchvision ResNet state dict: "
                               f"layer{stage} has blocks {sorted(blocks) or 'none'}.")
        counts.append(len(blocks))
    return counts


def convert(sd, model, *, skip_classifier: bool = False) -> None:
    """Copies a torchvision ResNet/Wide ResNet/ResNeXt state dict into a kerascnn model
    of the same layout (``resnet18``, ``resnet50_tv``, ``resnext50_32x4d``, ...)."""
    filled = []

    def conv(name, prefix):
        set_conv(layer(model, name), sd, prefix)
        filled.append(name)

    def bn(name, prefix):
        set_bn(layer(model, name), sd, prefix, expect_epsilon=TORCH_BN_EPSILON)
        filled.append(name)

    conv("conv1", "conv1")
    bn("bn_conv1", "bn1")
    for stage, num_blocks in enumerate(_blocks_per_stage(sd), start=1):
        for j, letter in enumerate(block_letters(num_blocks)):
            key, prefix = f"{stage + 1}{letter}", f"layer{stage}.{j}"
            convs = ("a", "b", "c") if f"{prefix}.conv3.weight" in sd else ("a", "b")
            for i, branch in enumerate(convs, start=1):
                conv(f"res{key}_branch2{branch}", f"{prefix}.conv{i}")
                bn(f"bn{key}_branch2{branch}", f"{prefix}.bn{i}")
            if f"{prefix}.downsample.0.weight" in sd:
                conv(f"res{key}_branch1", f"{prefix}.downsample.0")
                bn(f"bn{key}_branch1", f"{prefix}.downsample.1")
    head = [lyr.name for lyr in model.layers if lyr.name.startswith("fc")
            and type(lyr).__name__ == "Dense"]
    if skip_classifier:
        sd.skip("fc")
    else:
        if len(head) != 1:
            raise WeightsError(f"{model.name!r} has no single Dense classifier for fc "
                               "(build it with include_top=True).")
        set_dense(layer(model, head[0]), sd, "fc")
        filled.append(head[0])
    check_all_filled(model, filled, left_out=head if skip_classifier else ())


for _prefix in ("torchvision:resnet", "torchvision:wide_resnet", "torchvision:resnext"):
    register_converter(_prefix, convert)
