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

__all__ = ["RELEASES", "pytorchcv_set", "pytorchcv_cifar_set"]

RELEASES = "https://github.com/osmr/imgclsmob/releases/download"


def pytorchcv_set(name, error, sha1, release, top1, *, tag="imagenet", classes=1000,
                  input_size=(224, 224, 3), note="", **kwargs) -> WeightSet:
    """A pytorchcv weight set from its ``model_metainfos.csv`` row."""
    url = f"{RELEASES}/{release}/{name}-{error}-{sha1[:8]}.pth.zip"
    sha_note = (f"pytorchcv's {name} ({release}); a zip holding {name}-{error}-{sha1[:8]}.pth, "
                f"whose SHA-1 is {sha1} (no SHA-256 published)")
    return WeightSet(tag=tag, source=f"pytorchcv:{name}", url=url, classes=classes,
                     input_size=input_size, top1=top1, license="MIT",
                     note=f"{sha_note}. {note}".strip(), **kwargs)


def pytorchcv_cifar_set(name, error, sha1, release, **kwargs) -> WeightSet:
    """A pytorchcv CIFAR-10 weight set: ``top1`` is 100 minus the test error of the file
    name; 32x32 images as they are, normalized with pytorchcv's CIFAR mean and std."""
    return pytorchcv_set(name, error, sha1, release, round(100 - int(error) / 100, 2),
                         tag="cifar10", classes=10, input_size=(32, 32, 3), mean=CIFAR10_MEAN,
                         std=CIFAR10_STD, crop_pct=1.0, **kwargs)
