"""torchvision's AlexNet -> ``alexnet_owt``.

torchvision's AlexNet is kerascnn's ``alexnet_owt`` (Krizhevsky's "One weird trick"
single-tower network: 64-192-384-256-256, 11x11/4 first convolution with 2 pixels of
padding, 3x3/2 max pooling without padding, ``AdaptiveAvgPool2d((6, 6))``, dropout before
fc6 and fc7). The first fully connected layer's rows are reordered from torch's (C, H, W)
flatten to keras' (H, W, C) (:func:`kerascnn.weights.core.set_dense`).

Files. AlexNet has no safetensors copy on the hub: its set is torchvision's ``.pth`` (read
with ``torch.load(weights_only=True)``). Tag: ``"imagenet"`` = torchvision's
``IMAGENET1K_V1`` (its only classification set), top-1 as torchvision reports.
"""

from __future__ import annotations

from kerascnn.weights.core import (
    WeightsError,
    WeightSet,
    layer,
    register_converter,
    register_weight_sets,
    set_conv,
)
from kerascnn.weights.torchvision import (
    LICENSE,
    TORCHVISION,
    features_prefixes,
    published,
    set_dense_top,
)

__all__ = ["convert_alexnet"]

register_weight_sets("alexnet_owt", WeightSet(
    tag="imagenet", source="torchvision:alexnet",
    url=TORCHVISION.format("alexnet-owt-7be5be79.pth"), classes=1000, input_size=(224, 224, 3),
    interpolation="bilinear", license=LICENSE, **published("alexnet-owt-7be5be79.pth"),
    note="torchvision's alexnet IMAGENET1K_V1 weights (a .pth file: reading it needs torch; "
         "no safetensors copy is published)"))


def convert_alexnet(sd, model, *, skip_classifier: bool = False) -> None:
    """Copies torchvision's AlexNet state dict into kerascnn's ``alexnet_owt``."""
    filled = []
    convs, bns = features_prefixes(sd)
    if len(convs) != 5 or bns:
        raise WeightsError(f"{sd.origin} is not a torchvision AlexNet state dict.")
    for i, prefix in enumerate(convs, start=1):
        set_conv(layer(model, f"conv{i}"), sd, prefix)
        filled.append(f"conv{i}")
    set_dense_top(sd, model, filled, (("fc6", "classifier.1"), ("fc7", "classifier.4")),
                  "classifier.6", (256, 6, 6), skip_classifier)


register_converter("torchvision:alexnet", convert_alexnet)
