"""What the converters of torchvision's checkpoints share across families: the download
address of torchvision's files, the ``features.{i}`` layout of its plain convolutional
nets (VGG, AlexNet) and the loading of their fully connected top."""

from __future__ import annotations

from kerascnn.weights.core import WeightsError, check_all_filled, layer, set_dense

__all__ = ["TORCHVISION", "LICENSE", "PUBLISHED", "published", "features_prefixes", "set_dense_top"]

TORCHVISION = "https://download.pytorch.org/models/{}"
LICENSE = "BSD-3-Clause"


def features_prefixes(sd) -> tuple[list[str], list[str]]:
    """The ``features.{i}`` prefixes of the convolutions and of the BN layers, in order."""
    indices = sorted({int(key.split(".")[1]) for key in sd.keys()
                      if key.startswith("features.")})
    convs = [f"features.{i}" for i in indices if sd.tensors[f"features.{i}.weight"].ndim == 4]
    bns = [f"features.{i}" for i in indices if f"features.{i}.running_mean" in sd]
    return convs, bns


def _head_layers(model, names):
    present = {lyr.name for lyr in model.layers}
    return [name for name in names if name in present]


def set_dense_top(sd, model, filled, hidden, classifier, chw, skip_classifier) -> None:
    """Loads the fully connected top: ``hidden`` ((keras name, prefix) pairs, the first one
    after the flatten of a ``chw`` map) and the ``classifier`` prefix into ``predictions``;
    then checks that every weighted layer was filled (``filled``: the names loaded so far)."""
    top = _head_layers(model, [name for name, _ in hidden])
    if top and len(top) != len(hidden):
        raise WeightsError(f"{model.name!r} has the fully connected layers {top}, the "
                           f"checkpoint {[name for name, _ in hidden]}.")
    if not top:  # include_top=False: only the convolutions load
        if not skip_classifier:
            raise WeightsError(f"{model.name!r} has no fully connected top to load "
                               f"{sd.origin}'s classifier into.")
        sd.skip(*[prefix for _, prefix in hidden], classifier)
    else:
        for i, (name, prefix) in enumerate(hidden):
            set_dense(layer(model, name), sd, prefix, chw=chw if i == 0 else None)
            filled.append(name)
        if skip_classifier:
            sd.skip(classifier)
        else:
            set_dense(layer(model, "predictions"), sd, classifier)
            filled.append("predictions")
    check_all_filled(model, filled, left_out=("predictions",) if skip_classifier else ())
# torchvision file -> (acc@1, acc@5, num_params, recipe, resize_size): the weights' meta
# (``_metrics['ImageNet-1K']``, ``num_params``, ``recipe``) and ``transforms().resize_size``
# of torchvision 0.29.
PUBLISHED = {
    "resnet18-f37072fd.pth": (69.758, 89.078, 11689512,
        "https://github.com/pytorch/vision/tree/main/references/classification#resnet", 256),
    "resnet34-b627a593.pth": (73.314, 91.42, 21797672,
        "https://github.com/pytorch/vision/tree/main/references/classification#resnet", 256),
    "resnet50-0676ba61.pth": (76.13, 92.862, 25557032,
        "https://github.com/pytorch/vision/tree/main/references/classification#resnet", 256),
    "resnet50-11ad3fa6.pth": (80.858, 95.434, 25557032,
        "https://github.com/pytorch/vision/issues/3995#issuecomment-1013906621", 232),
    "resnet101-63fe2227.pth": (77.374, 93.546, 44549160,
        "https://github.com/pytorch/vision/tree/main/references/classification#resnet", 256),
    "resnet101-cd907fc2.pth": (81.886, 95.78, 44549160,
        "https://github.com/pytorch/vision/issues/3995#new-recipe", 232),
    "resnet152-394f9c45.pth": (78.312, 94.046, 60192808,
        "https://github.com/pytorch/vision/tree/main/references/classification#resnet", 256),
    "resnet152-f82ba261.pth": (82.284, 96.002, 60192808,
        "https://github.com/pytorch/vision/issues/3995#new-recipe", 232),
    "wide_resnet50_2-95faca4d.pth": (78.468, 94.086, 68883240,
        "https://github.com/pytorch/vision/pull/912#issue-445437439", 256),
    "wide_resnet50_2-9ba9bcbe.pth": (81.602, 95.758, 68883240,
        "https://github.com/pytorch/vision/issues/3995#new-recipe-with-fixres", 232),
    "wide_resnet101_2-32ee1156.pth": (78.848, 94.284, 126886696,
        "https://github.com/pytorch/vision/pull/912#issue-445437439", 256),
    "wide_resnet101_2-d733dc28.pth": (82.51, 96.02, 126886696,
        "https://github.com/pytorch/vision/issues/3995#new-recipe", 232),
    "resnext50_32x4d-7cdf4587.pth": (77.618, 93.698, 25028904,
        "https://github.com/pytorch/vision/tree/main/references/classification#resnext", 256),
    "resnext50_32x4d-1a0047aa.pth": (81.198, 95.34, 25028904,
        "https://github.com/pytorch/vision/issues/3995#new-recipe", 232),
    "resnext101_32x8d-8ba56ff5.pth": (79.312, 94.526, 88791336,
        "https://github.com/pytorch/vision/tree/main/references/classification#resnext", 256),
    "resnext101_32x8d-110c445d.pth": (82.834, 96.228, 88791336,
        "https://github.com/pytorch/vision/issues/3995#new-recipe-with-fixres", 232),
    "resnext101_64x4d-173b62eb.pth": (83.246, 96.454, 83455272,
        "https://github.com/pytorch/vision/pull/5935", 232),
    "alexnet-owt-7be5be79.pth": (56.522, 79.066, 61100840,
        "https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg", 256),
    "densenet121-a639ec97.pth": (74.434, 91.972, 7978856,
        "https://github.com/pytorch/vision/pull/116", 256),
    "densenet161-8d451a50.pth": (77.138, 93.56, 28681000,
        "https://github.com/pytorch/vision/pull/116", 256),
    "densenet169-b2777c0a.pth": (75.6, 92.806, 14149480,
        "https://github.com/pytorch/vision/pull/116", 256),
    "densenet201-c1103571.pth": (76.896, 93.37, 20013928,
        "https://github.com/pytorch/vision/pull/116", 256),
    "inception_v3_google-0cc3c7bd.pth": (77.294, 93.45, 27161264,
        "https://github.com/pytorch/vision/tree/main/references/classification#inception-v3", 342),
    "squeezenet1_0-b66bff10.pth": (58.092, 80.42, 1248424,
        "https://github.com/pytorch/vision/pull/49#issuecomment-277560717", 256),
    "squeezenet1_1-b8a52dc0.pth": (58.178, 80.624, 1235496,
        "https://github.com/pytorch/vision/pull/49#issuecomment-277560717", 256),
    "vgg11-8a719046.pth": (69.02, 88.628, 132863336,
        "https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg", 256),
    "vgg11_bn-6002323d.pth": (70.37, 89.81, 132868840,
        "https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg", 256),
    "vgg13-19584684.pth": (69.928, 89.246, 133047848,
        "https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg", 256),
    "vgg13_bn-abd245e5.pth": (71.586, 90.374, 133053736,
        "https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg", 256),
    "vgg16-397923af.pth": (71.592, 90.382, 138357544,
        "https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg", 256),
    "vgg16_bn-6c64b313.pth": (73.36, 91.516, 138365992,
        "https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg", 256),
    "vgg19-dcbb9e9d.pth": (72.376, 90.876, 143667240,
        "https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg", 256),
    "vgg19_bn-c79401a0.pth": (74.218, 91.842, 143678248,
        "https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg", 256),
}


def published(file: str) -> dict:
    """The :class:`~kerascnn.weights.WeightSet` arguments torchvision publishes for its
    ``file``: ``top1``, ``top5``, ``num_params``, ``recipe`` and ``resize_size`` (its
    ``Weights.transforms()`` resizes the shorter side to it; the crop is the set's
    input size)."""
    top1, top5, num_params, recipe, resize_size = PUBLISHED[file]
    return {"top1": top1, "top5": top5, "num_params": num_params, "recipe": recipe,
            "resize_size": resize_size, "crop_pct": None}
