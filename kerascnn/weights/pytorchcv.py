"""What the weight sets of pytorchcv's (osmr's imgclsmob) checkpoints share across families.

pytorchcv publishes each model as ``<name>-<error>-<sha1[:8]>.pth.zip`` among the
imgclsmob GitHub release assets (the release tag and full SHA-1 are in pytorchcv's
``models/common/model_metainfos.csv``; the error in the file name is the top-5 error of the
ImageNet models, the test error of the CIFAR ones, in hundredths of a percent). The archive
holds one ``.pth`` state dict. The publisher gives SHA-1 hashes, not SHA-256: each set's
``note`` records the SHA-1, its ``sha256`` is None. Licence: MIT (imgclsmob's).
"""

from __future__ import annotations

from kerascnn.weights.core import CIFAR10_MEAN, CIFAR10_STD, WeightSet

__all__ = ["RELEASES", "PUBLISHED", "published", "pytorchcv_set", "pytorchcv_cifar_set"]

RELEASES = "https://github.com/osmr/imgclsmob/releases/download"

# pytorchcv name -> (top-1 error, top-5 error or None, parameters): the errors (percent) of
# pytorchcv 0.0.74's README tables (ImageNet-1K: "standard 1-crop Top-1/Top-5 errors" on the
# validation set; CIFAR-10: the test error), the parameter counts of its
# models/common/model_metainfos.csv (``net_weights``).
PUBLISHED = {
    "alexnet": (38.50, 16.64, 62378344),
    "zfnet": (39.79, 17.27, 62357608),
    "bninception": (25.37, 7.74, 11295240),
    "shufflenet_g1_w1": (34.93, 13.89, 1531936),
    "shufflenet_g2_w1": (34.25, 13.63, 1733848),
    "shufflenet_g3_w1": (34.39, 13.48, 1865728),
    "shufflenet_g4_w1": (34.19, 13.35, 1968344),
    "shufflenet_g8_w1": (34.06, 13.42, 2434768),
    "nin_cifar10": (7.43, None, 966986),
    "resnet20_cifar10": (5.97, None, 272474),
    "resnet56_cifar10": (4.52, None, 855770),
    "resnet110_cifar10": (3.69, None, 1730714),
    "preresnet164bn_cifar10": (3.64, None, 1703258),
    "densenet100_k12_bc_cifar10": (4.16, None, 769162),
    "densenet190_k40_bc_cifar10": (2.52, None, 25624430),
    "wrn28_10_cifar10": (2.39, None, 36479194),
}
# pytorchcv's ImageNet evaluation (imgclsmob's ``imagenet_val_transform``): Resize(
# ceil(224 / 0.875)) (torchvision's, bilinear), CenterCrop(224), ImageNet mean and std.
IMAGENET_RESIZE = 256


def published(name: str, error: str, sha1: str, release: str) -> dict:
    """``top5``, ``num_params`` and ``recipe`` (the training log pytorchcv links) of
    pytorchcv's ``name``; ``top1`` is the caller's (100 minus the README's error)."""
    _, top5_error, num_params = PUBLISHED[name]
    log = f"{RELEASES}/{release}/{name}-{error}-{sha1[:8]}.pth.log"
    return {"top5": None if top5_error is None else round(100 - top5_error, 2),
            "num_params": num_params,
            "recipe": f"pytorchcv's training log {log} (its README: 'Converted from GL model')"}


def pytorchcv_set(name, error, sha1, release, top1, *, tag="imagenet", classes=1000,
                  input_size=(224, 224, 3), note="", **kwargs) -> WeightSet:
    """A pytorchcv weight set from its ``model_metainfos.csv`` row."""
    url = f"{RELEASES}/{release}/{name}-{error}-{sha1[:8]}.pth.zip"
    sha_note = (f"pytorchcv's {name} ({release}); a zip holding {name}-{error}-{sha1[:8]}.pth, "
                f"whose SHA-1 is {sha1} (no SHA-256 published)")
    if classes == 1000:
        kwargs.setdefault("resize_size", IMAGENET_RESIZE)
    return WeightSet(tag=tag, source=f"pytorchcv:{name}", url=url, classes=classes,
                     input_size=input_size, top1=top1, license="MIT",
                     note=f"{sha_note}. {note}".strip(),
                     **published(name, error, sha1, release), **kwargs)


def pytorchcv_cifar_set(name, error, sha1, release, **kwargs) -> WeightSet:
    """A pytorchcv CIFAR-10 weight set: ``top1`` is 100 minus the test error of the file
    name; 32x32 images as they are, normalized with pytorchcv's CIFAR mean and std."""
    return pytorchcv_set(name, error, sha1, release, round(100 - int(error) / 100, 2),
                         tag="cifar10", classes=10, input_size=(32, 32, 3), mean=CIFAR10_MEAN,
                         std=CIFAR10_STD, crop_pct=1.0, **kwargs)
