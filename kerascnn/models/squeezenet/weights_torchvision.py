"""torchvision's SqueezeNets (``torchvision.models.squeezenet1_0/1_1``) -> ``squeezenet1_0``
and ``squeezenet1_1``.

kerascnn's SqueezeNet is torchvision's graph: conv1 without padding (7x7/2, 96 filters in
1.0; 3x3/2, 64 in 1.1) and ReLU; 3x3/2 max pooling with ``ceil_mode=True`` after conv1,
fire4 and fire8 (1.0) or fire3 and fire5 (1.1); Fire modules squeeze 1x1 -> (expand 1x1 ||
expand 3x3 padded 1), each with a ReLU, concatenated in that order; the classifier Dropout,
1x1 convolution to the classes, ReLU and adaptive average pooling. Ceil-mode pooling is a
one-pixel zero padding at the bottom and right then a valid 3x3/2 pooling: it gives
``ceil((n - 3) / 2) + 1`` outputs for every n, and the padded zero, where a window reaches
it (even n), never exceeds the window's post-ReLU values, so the outputs are torchvision's
exactly, at any size.

State-dict keys: ``features.0`` (conv1), ``features.{i}.squeeze/expand1x1/expand3x3`` for the
eight Fire modules (fire2..fire9 in order), ``classifier.1`` (conv10).
"""

from __future__ import annotations

from kerascnn.weights.core import (
    StateDict,
    WeightsError,
    WeightSet,
    layer,
    register_converter,
    register_weight_sets,
    set_conv,
)
from kerascnn.weights.torchvision import published


def convert(sd: StateDict, model, *, skip_classifier: bool) -> None:
    """Copies a torchvision SqueezeNet state dict into a ``squeezenet1_*`` model."""
    if any(lyr.name.endswith(("_bypass", "_add")) for lyr in model.layers):
        raise WeightsError("torchvision's SqueezeNets have no bypass connections: build the "
                           "model with bypass=None to load them.")
    fires = sorted((p for p in sd.prefixes(2) if f"{p}.squeeze.weight" in sd),
                   key=lambda p: int(p.split(".")[1]))  # features.{i}, in the graph's order
    if len(fires) != 8 or "features.0.weight" not in sd:
        raise WeightsError(f"{sd.origin} is not a torchvision SqueezeNet state dict "
                           f"({len(fires)} Fire modules, expected 8).")
    set_conv(layer(model, "conv1"), sd, "features.0")
    for i, prefix in enumerate(fires, start=2):
        for part in ("squeeze", "expand1x1", "expand3x3"):
            keras_part = "squeeze1x1" if part == "squeeze" else part
            set_conv(layer(model, f"fire{i}_{keras_part}"), sd, f"{prefix}.{part}")
    if skip_classifier:
        sd.skip("classifier")
    else:
        set_conv(layer(model, "conv10"), sd, "classifier.1")


register_converter("torchvision:squeezenet", convert)

# torchvision's published evaluation (resize 256 bilinear, centre crop 224, ImageNet
# mean/std) and acc@1 from its weights metadata. torchvision publishes these two as .pth
# files only (read with torch.load(weights_only=True)).
for _version, _file, _top1 in (("1_0", "squeezenet1_0-b66bff10.pth", 58.092),
                               ("1_1", "squeezenet1_1-b8a52dc0.pth", 58.178)):
    register_weight_sets(
        f"squeezenet{_version}",
        WeightSet(
            tag="imagenet", source=f"torchvision:squeezenet{_version}",
            url=f"https://download.pytorch.org/models/{_file}",
            classes=1000, input_size=(224, 224, 3), interpolation="bilinear",
            license="BSD-3-Clause", **published(_file),
            note=f"torchvision's IMAGENET1K_V1 weights ({_file}: a .pth file, read with "
                 "torch.load(weights_only=True); torchvision publishes no safetensors copy); "
                 "equal to torchvision's outputs at any input size (ceil-mode pooling exact)"),
    )
