"""Loading a weight set or a checkpoint file into a built kerascnn model."""

from __future__ import annotations

import os

from kerascnn.weights.core import WeightsError, converter_for, read_state_dict, weight_sets

__all__ = ["CHECKPOINT_SUFFIXES", "is_checkpoint", "load_checkpoint", "source_of"]

# Files converted from another framework's layout (keras' own .keras/.weights.h5 load as is).
CHECKPOINT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")


def is_checkpoint(weights) -> bool:
    return isinstance(weights, (str, os.PathLike)) and \
        os.fspath(weights).endswith(CHECKPOINT_SUFFIXES)


def source_of(model_name: str, tag: str | None = None) -> str:
    """The state-dict layout a checkpoint for ``model_name`` has: the given weight set's
    source, else the ``"imagenet"`` set's, else the model's only source."""
    sets = weight_sets(model_name)
    if not sets:
        raise WeightsError(f"{model_name} has no converted weight sets: weights= takes None or "
                           "a .keras/.weights.h5 file of this architecture.")
    if tag is not None:
        return sets[tag].source
    if "imagenet" in sets:
        return sets["imagenet"].source
    sources = sorted({ws.source for ws in sets.values()})
    if len(sources) > 1:
        raise WeightsError(f"{model_name} reads checkpoints of {', '.join(sources)}: "
                           "name the weight set's tag instead of a file.")
    return sources[0]


def load_checkpoint(model, model_name: str, path, *, skip_classifier: bool = False,
                    source: str | None = None) -> None:
    """Converts the checkpoint at ``path`` into ``model`` (every tensor must find its place;
    with ``skip_classifier`` the classifier's tensors are left out)."""
    sd = read_state_dict(path)
    source = source or source_of(model_name)
    converter_for(source)(sd, model, skip_classifier=skip_classifier)
    sd.check_all_used()
