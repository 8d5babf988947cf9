"""pytorchcv's (imgclsmob's) CIFAR-10 residual networks: ResNet-20/56/110 with option B
projections (``resnet{N}_cifar10``, He et al., "Deep Residual Learning for Image
Recognition", 2015), the pre-activation ResNet-164 with bottlenecks
(``preresnet164bn_cifar10``, He et al., "Identity Mappings in Deep Residual Networks",
2016) and WRN-28-10 (``wrn28_10_cifar10``, Zagoruyko & Komodakis, "Wide Residual
Networks", 2016).

Their layout is kerascnn's :func:`~kerascnn.models.cifar_resnet.model.CifarResNet`
(``resnet{N}_cifar_b``, ``preact_resnet164_cifar``, ``wrn28_10_cifar``):

* post-activation nets (``pytorchcv.models.resnet_cifar``): ``features.init_block``
  (3x3 conv + BN + ReLU), units ``features.stage{s}.unit{j}``: ``body.conv1``,
  ``body.conv2`` (conv + BN; the stride on the first 3x3, padding 1 on both sides),
  ``identity_conv`` (1x1 strided projection + BN) where the shape changes;
* pre-activation nets (``preresnet_cifar``, ``wrn_cifar``): ``features.init_block`` is a
  plain 3x3 convolution; each ``body.conv{k}`` is BN-ReLU-conv; the projection
  ``identity_conv`` (a plain 1x1 convolution) reads the unit's pre-activated input;
  ``features.post_activ`` BN-ReLU. The first unit's BN-ReLU is kerascnn's stem BN
  (``conv1_bn``: the first block is "pre-activated" by the stem). This equals kerascnn's
  layout only where the first unit has a projection (bottleneck nets, wide nets), which
  then reads the pre-activated input in both: pytorchcv's basic ``preresnet{20,56,110}``
  add the *raw* stem convolution on their first identity shortcut, kerascnn's
  ``preact_resnet{6n+2}_cifar`` (the pre-activation paper's code) its BN-ReLU output,
  so those checkpoints are not offered;
* 8x8 average pooling (global at 29..32 pixels, the only sizes pytorchcv's ``view``
  accepts; kerascnn pools globally, so it also takes other sizes) and ``output``;
* every BatchNormalization has epsilon 1e-5, no convolution has a bias.

Files: the ``.pth`` inside ``{name}-{error}-{sha1[:8]}.pth.zip`` of the imgclsmob
releases; top-1 is 100 minus the error (percent) pytorchcv publishes with them.
"""

from __future__ import annotations

from kerascnn.blocks.common import TORCH_BN_EPSILON
from kerascnn.weights.core import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    WeightSet,
    layer,
    register_converter,
    register_weight_sets,
    set_bn,
    set_conv,
    set_dense,
)
from kerascnn.weights.pytorchcv import published

EPSILON = TORCH_BN_EPSILON
_RELEASE = "https://github.com/osmr/imgclsmob/releases/download/{tag}/{file}.zip"

# kerascnn model -> (pytorchcv model, pre-activation, error in 1/100 percent as in the file
# name, sha1 of the .pth, release tag) from pytorchcv 0.0.74's model_metainfos.csv.
MODELS = {
    "resnet20_cifar_b": ("resnet20_cifar10", False, "0597",
                         "9b0024ac4c2f374cde2c5052e0d0344a75871cdb", "v0.0.163"),
    "resnet56_cifar_b": ("resnet56_cifar10", False, "0452",
                         "628c42a26fe347b84060136212e018df2bb35e0f", "v0.0.163"),
    "resnet110_cifar_b": ("resnet110_cifar10", False, "0369",
                          "4d6ca1fc02eaeed724f4f596011e391528536049", "v0.0.163"),
    "preact_resnet164_cifar": ("preresnet164bn_cifar10", True, "0364",
                               "429012d412e82df7961fa071f97c938530e1b005", "v0.0.196"),
    "wrn28_10_cifar": ("wrn28_10_cifar10", True, "0239",
                       "fe97dcd6d0dd8dda8e9e38e6cfa320cffb9955ce", "v0.0.166"),
}


def _units(sd):
    """``(stage, unit)`` pairs of the checkpoint, in order."""
    found = set()
    for key in sd.keys():
        parts = key.split(".")
        if len(parts) > 3 and parts[1].startswith("stage") and parts[2].startswith("unit"):
            found.add((int(parts[1][5:]), int(parts[2][4:])))
    return sorted(found)


def _bn(model, sd, prefix, name):
    set_bn(layer(model, name), sd, prefix, expect_epsilon=EPSILON)


def convert_post_activation(sd, model, *, skip_classifier: bool) -> None:
    """``pytorchcv.models.resnet_cifar`` -> ``resnet{N}_cifar_b``."""
    set_conv(layer(model, "conv1"), sd, "features.init_block.conv")
    _bn(model, sd, "features.init_block.bn", "conv1_bn")
    for stage, unit in _units(sd):
        src, dst = f"features.stage{stage}.unit{unit}", f"stage{stage}_block{unit}"
        for k in (1, 2):
            set_conv(layer(model, f"{dst}_{k}_conv"), sd, f"{src}.body.conv{k}.conv")
            _bn(model, sd, f"{src}.body.conv{k}.bn", f"{dst}_{k}_bn")
        if f"{src}.identity_conv.conv.weight" in sd:
            set_conv(layer(model, f"{dst}_0_conv"), sd, f"{src}.identity_conv.conv")
            _bn(model, sd, f"{src}.identity_conv.bn", f"{dst}_0_bn")
    _head(sd, model, skip_classifier)


def convert_pre_activation(sd, model, *, skip_classifier: bool) -> None:
    """``pytorchcv.models.preresnet_cifar`` / ``wrn_cifar`` -> ``preact_resnet164_cifar``,
    ``wrn28_10_cifar`` (basic or bottleneck units)."""
    set_conv(layer(model, "conv1"), sd, "features.init_block")
    for stage, unit in _units(sd):
        src, dst = f"features.stage{stage}.unit{unit}", f"stage{stage}_block{unit}"
        convs = sorted(int(k.split(".")[4][4:]) for k in sd.keys()
                       if k.startswith(f"{src}.body.conv") and k.endswith(".conv.weight"))
        for k in convs:
            # BN-ReLU before conv k: the stem's BN for the very first unit, the block's
            # pre-activation for conv1, the BN after conv k-1 otherwise.
            if k == 1:
                bn = "conv1_bn" if (stage, unit) == (1, 1) else f"{dst}_preact_bn"
            else:
                bn = f"{dst}_{k - 1}_bn"
            _bn(model, sd, f"{src}.body.conv{k}.bn", bn)
            set_conv(layer(model, f"{dst}_{k}_conv"), sd, f"{src}.body.conv{k}.conv")
        if f"{src}.identity_conv.weight" in sd:
            set_conv(layer(model, f"{dst}_0_conv"), sd, f"{src}.identity_conv")
    _bn(model, sd, "features.post_activ.bn", "post_bn")
    _head(sd, model, skip_classifier)


def _head(sd, model, skip_classifier):
    if skip_classifier:
        sd.skip("output")
    else:
        set_dense(layer(model, "predictions"), sd, "output")


for _name, (_source, _preact, _error, _sha1, _tag) in MODELS.items():
    _file = f"{_source}-{_error}-{_sha1[:8]}.pth"
    register_converter(f"pytorchcv:{_source}",
                       convert_pre_activation if _preact else convert_post_activation)
    register_weight_sets(_name, WeightSet(
        tag="cifar10", source=f"pytorchcv:{_source}",
        url=_RELEASE.format(tag=_tag, file=_file), classes=10, input_size=(32, 32, 3),
        mean=CIFAR10_MEAN, std=CIFAR10_STD, interpolation="bilinear", crop_pct=1.0,
        top1=round(100 - int(_error) / 100, 2), license="MIT",
        **published(_source, _error, _sha1, _tag),
        note=f"pytorchcv {_source}: CIFAR-10 test error {int(_error) / 100:.2f}%, evaluated "
             f"on the 32x32 images as they are; published as a zip holding {_file} "
             f"(sha1 {_sha1}; no sha256 published)."))
