"""The augmentation plan of a run, as data (no TensorFlow needed to read it).

``--augment`` takes a preset (:data:`PRESETS`) or a comma list of presets and
the names in :data:`AUGMENTATIONS`. :meth:`AugmentPlan.parse` turns it into the
ordered layer names and what they need: the training pixels' PCA (``lighting``)
and one-hot labels (``mixup``/``cutmix`` mix labels). The layers themselves are
built from the plan by :func:`kerascnn.data.augment.build_augmentation`.
"""

from __future__ import annotations

import dataclasses

__all__ = ["AUGMENTATIONS", "PRESETS", "AugmentPlan", "parse_augment"]

AUGMENTATIONS = ("crop", "pad_crop", "scale", "flip", "rotate", "lighting", "brightness",
                 "contrast", "saturation", "mixup", "cutmix")
PRESETS = {
    "none": (),
    # He et al. 2015, CIFAR: 4-pixel zero padding, random 32x32 crop, horizontal flip
    "cifar": ("pad_crop", "flip"),
    # the Lasagne book chapter's list: random scale + random-size crop, flip, rotation,
    # lighting, colour jitter
    "standard": ("crop", "flip", "rotate", "lighting", "brightness", "saturation", "contrast"),
    # Krizhevsky et al. 2012: random crop of the image rescaled by 256/224, flips, PCA lighting
    "alexnet": ("alexnet_crop", "flip", "lighting"),
    # Simonyan & Zisserman 2015: scale jittering S in [256, 512] (relative to a 224 crop), flips
    "vgg": ("scale", "flip"),
    # Inception: random-size crop (8%-100% of the area, aspect 3/4-4/3), flips, colour
    "inception": ("inception_crop", "flip", "brightness", "saturation", "contrast"),
}
_COLOUR = ("lighting", "saturation")
_MIXERS = ("mixup", "cutmix")


def parse_augment(spec) -> list[str]:
    """The layer names of an ``--augment`` value, presets expanded, duplicates dropped.

    Raises:
        ValueError: an unknown name (one line naming what is allowed).
    """
    if spec is None:
        return []
    items = [s.strip().lower() for s in spec.split(",")] if isinstance(spec, str) else list(spec)
    names = []
    for item in items:
        if item in PRESETS:
            names += [n for n in PRESETS[item] if n not in names]
        elif item in AUGMENTATIONS:
            if item not in names:
                names.append(item)
        else:
            raise ValueError(
                f"Unknown augmentation {item!r}; allowed: presets {', '.join(PRESETS)} or "
                f"{', '.join(AUGMENTATIONS)} (comma separated)."
            )
    return names


@dataclasses.dataclass(frozen=True)
class AugmentPlan:
    """Which augmentation layers a run uses and what they need."""

    spec: str
    names: tuple

    @classmethod
    def parse(cls, spec) -> AugmentPlan:
        spec = "none" if spec is None else spec
        return cls(spec if isinstance(spec, str) else ",".join(spec),
                   tuple(parse_augment(spec)))

    @property
    def active(self) -> bool:
        return bool(self.names)

    @property
    def needs_pca(self) -> bool:
        """``lighting`` perturbs along the training pixels' principal components."""
        return "lighting" in self.names

    @property
    def mixes_labels(self) -> bool:
        """mixup/cutmix produce soft labels: the loss then takes one-hot targets."""
        return any(n in _MIXERS for n in self.names)

    @property
    def needs_colour(self) -> bool:
        """Layers that need three channels (PCA lighting, saturation)."""
        return any(n in _COLOUR for n in self.names)
