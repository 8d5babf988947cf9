"""timm's legacy SENets: the SENet authors' released ImageNet models (Hu et al.,
"Squeeze-and-Excitation Networks", CVPR 2018) as ported to PyTorch by Cadene's
pretrained-models and kept by timm as ``legacy_se*`` (``timm/models/senet.py``).

The layout (kerascnn's ``se_resnet50/101/152``, ``se_resnext50_32x4d`` and
``senet154`` are built to it):

* stem ``layer0``: a 7x7/2 convolution (SENet-154: three 3x3 convolutions 64, 64,
  128, the first strided), each with BN and ReLU, then ``pool0``: a 3x3/2 max pooling
  without padding and with ceil rounding (Caffe's; kerascnn's
  :class:`~kerascnn.layers.CeilMaxPooling2D`);
* bottlenecks ``layer{1..4}.{j}``: ``conv1/bn1``, ``conv2/bn2`` (3x3, grouped in the
  ResNeXt and SENet-154 blocks), ``conv3/bn3``, the SE module ``se_module.fc1/fc2``
  (1x1 convolutions with biases on the pooled map: kerascnn's two Dense layers),
  ``downsample.0/1`` (projection and BN; 3x3 with padding 1 from ``layer2`` on in
  SENet-154); SE-ResNet blocks stride on ``conv1`` (the 1x1), SE-ResNeXt and
  SENet-154 on ``conv2``;
* ``last_linear`` after global average pooling; timm's module applies dropout 0.2
  before it in every legacy SENet (the identity at inference; kerascnn's SENet-154 has
  it too, the others none);
* every BatchNormalization has epsilon 1e-5.
"""

from __future__ import annotations

from kerascnn.blocks.common import TORCH_BN_EPSILON
from kerascnn.blocks.residual import block_letters
from kerascnn.weights.core import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    TIMM_HUB,
    WeightSet,
    layer,
    register_converter,
    register_weight_sets,
    set_bn,
    set_conv,
    set_conv_as_dense,
    set_dense,
)

EPSILON = TORCH_BN_EPSILON
_HUB = TIMM_HUB
_IMAGENET_MEAN, _IMAGENET_STD = IMAGENET_MEAN, IMAGENET_STD

# kerascnn model -> (timm model, blocks per stage, published top-1 of timm's
# results-imagenet.csv at 224, crop 0.875, bilinear; parameters of timm's model).
# timm's pretrained_cfg gives the transform and licence, no accuracy: top-5 is left None.
MODELS = {
    "se_resnet50": ("legacy_seresnet50", (3, 4, 6, 3), 77.644, 28088024),
    "se_resnet101": ("legacy_seresnet101", (3, 4, 23, 3), 78.386, 49326872),
    "se_resnet152": ("legacy_seresnet152", (3, 8, 36, 3), 78.660, 66821848),
    "se_resnext50_32x4d": ("legacy_seresnext50_32x4d", (3, 4, 6, 3), 79.076, 27559896),
    "senet154": ("legacy_senet154", (3, 8, 36, 3), 81.308, 115088984),
}


def _conv_bn(model, sd, conv_prefix, bn_prefix, conv_name, bn_name):
    set_conv(layer(model, conv_name), sd, conv_prefix)
    set_bn(layer(model, bn_name), sd, bn_prefix, expect_epsilon=EPSILON)


def convert(sd, model, *, skip_classifier: bool) -> None:
    """Copies a ``timm:legacy_se*`` state dict into kerascnn's SE network (by name)."""
    if "layer0.conv3.weight" in sd:  # SENet-154's three-convolution stem
        for i in (1, 2, 3):
            _conv_bn(model, sd, f"layer0.conv{i}", f"layer0.bn{i}", f"conv1_{i}",
                     f"bn_conv1_{i}")
    else:
        _conv_bn(model, sd, "layer0.conv1", "layer0.bn1", "conv1", "bn_conv1")
    for i in range(4):
        stage = i + 2
        count = len({k.split(".")[1] for k in sd.keys() if k.startswith(f"layer{i + 1}.")})
        for j, label in enumerate(block_letters(count)):
            src, dst = f"layer{i + 1}.{j}", f"{stage}{label}"
            for role, caffe in (("1", "2a"), ("2", "2b"), ("3", "2c")):
                _conv_bn(model, sd, f"{src}.conv{role}", f"{src}.bn{role}",
                         f"res{dst}_branch{caffe}", f"bn{dst}_branch{caffe}")
            set_conv_as_dense(layer(model, f"res{dst}_se_reduce"), sd, f"{src}.se_module.fc1")
            set_conv_as_dense(layer(model, f"res{dst}_se_expand"), sd, f"{src}.se_module.fc2")
            if f"{src}.downsample.0.weight" in sd:
                _conv_bn(model, sd, f"{src}.downsample.0", f"{src}.downsample.1",
                         f"res{dst}_branch1", f"bn{dst}_branch1")
    if skip_classifier:
        sd.skip("last_linear")
    else:
        classes = sd.take("last_linear.weight").shape[0]
        set_dense(layer(model, f"fc{classes}"), sd, "last_linear")


register_converter("timm:legacy_se", convert)

for _name, (_timm, _blocks, _top1, _params) in MODELS.items():
    register_weight_sets(_name, WeightSet(
        tag="imagenet", source=f"timm:{_timm}", url=_HUB.format(f"{_timm}.in1k"),
        classes=1000, input_size=(224, 224, 3), mean=_IMAGENET_MEAN, std=_IMAGENET_STD,
        interpolation="bilinear", crop_pct=0.875, top1=_top1, license="Apache-2.0",
        num_params=_params,
        recipe="the SENet authors' released Caffe model (Hu et al.), ported to PyTorch by "
               "Cadene's pretrained-models",
        note=f"timm {_timm}.in1k: the SENet authors' released model (Cadene's port)."
             + ("" if _name == "senet154" else
                " timm's module also applies dropout 0.2 before last_linear in training; "
                f"kerascnn's {_name} has none (equal at inference).")))
