"""What the converters of torchvision's checkpoints share across families: the download
address of torchvision's files, the ``features.{i}`` layout of its plain convolutional
nets (VGG, AlexNet) and the loading of their fully connected top."""

from __future__ import annotations

from kerascnn.weights.core import WeightsError, check_all_filled, layer, set_dense

__all__ = ["TORCHVISION", "LICENSE", "features_prefixes", "set_dense_top"]

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
