"""The augmentation plan of a run, as data (no TensorFlow needed to read it).

``--augment`` takes a preset (:data:`PRESETS`) or a comma list of presets and
the names in :data:`AUGMENTATIONS`; ``randaugment[:N[:M]]`` (N operations of
magnitude M, 0-30) and ``random_erasing[:P]`` (probability P) take parameters
(:data:`PARAMETERS`), which the plan writes out in full (``randaugment:2:9``). :meth:`AugmentPlan.parse` turns it into the
ordered layer names and what they need: the training pixels' PCA (``lighting``)
and one-hot labels (``mixup``/``cutmix`` mix labels). The layers themselves are
built from the plan by :func:`kerascnn.data.augment.build_augmentation`.
"""

from __future__ import annotations

import dataclasses

__all__ = ["AUGMENTATIONS", "PARAMETERS", "PRESETS", "AugmentPlan", "parse_augment",
           "split_name"]

AUGMENTATIONS = ("crop", "pad_crop", "scale", "flip", "rotate", "lighting", "brightness",
                 "contrast", "saturation", "mixup", "cutmix", "randaugment", "trivialaugment",
                 "augmix", "autoaugment", "random_erasing", "color_jitter")
# names that take parameters after colons: name -> (parameter letters, defaults)
PARAMETERS = {"randaugment": (("N", "M"), (2, 9)), "random_erasing": (("P",), (0.5,))}
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


def _allowed() -> str:
    names = [n if n not in PARAMETERS else
             n + "".join(f"[:{p}" for p in PARAMETERS[n][0]) + "]" * len(PARAMETERS[n][0])
             for n in AUGMENTATIONS]
    return f"allowed: presets {', '.join(PRESETS)} or {', '.join(names)} (comma separated)."


def _number(item, letter, what, text, convert, ok):
    try:
        value = convert(text)
    except ValueError:
        value = None
    if value is None or not ok(value):
        raise ValueError(f"{item}: {letter} ({what}) must be {_RULES[letter]}; got {text!r}.")
    return value


_RULES = {"N": "an integer from 1 to 10", "M": "an integer from 0 to 30",
          "P": "a number in (0, 1]"}


def _canonical(item: str) -> str:
    """``randaugment`` -> ``randaugment:2:9``; checks the parameters of one item."""
    base, *params = item.split(":")
    if base not in PARAMETERS:
        if params:
            raise ValueError(f"{item}: {base} takes no parameters.")
        return base
    letters, defaults = PARAMETERS[base]
    if len(params) > len(letters):
        form = base + "".join(f"[:{p}" for p in letters) + "]" * len(letters)
        raise ValueError(f"{item}: {base} takes at most {len(letters)} value"
                         f"{'s' if len(letters) > 1 else ''} ({form}); got {len(params)}.")
    values = list(defaults)
    for i, text in enumerate(params):
        letter = letters[i]
        if letter == "N":
            values[i] = _number(item, "N", "operations", text, int, lambda v: 1 <= v <= 10)
        elif letter == "M":
            values[i] = _number(item, "M", "magnitude", text, int, lambda v: 0 <= v <= 30)
        else:
            values[i] = _number(item, "P", "probability", text, float, lambda v: 0 < v <= 1)
    return ":".join([base] + [f"{v:g}" if isinstance(v, float) else str(v) for v in values])


def split_name(name: str) -> tuple:
    """``"randaugment:2:9"`` -> ``("randaugment", (2, 9))``; a plain name -> (name, ())."""
    base, *params = name.split(":")
    if base not in PARAMETERS:
        return base, ()
    return base, tuple(int(p) if base == "randaugment" else float(p) for p in params)


def parse_augment(spec) -> list[str]:
    """The layer names of an ``--augment`` value, presets expanded, duplicates dropped;
    parametrised names in full (``randaugment`` -> ``randaugment:2:9``).

    Raises:
        ValueError: an unknown name or a bad parameter (one line saying what is allowed).
    """
    if spec is None:
        return []
    items = [s.strip().lower() for s in spec.split(",")] if isinstance(spec, str) else list(spec)
    names = []
    for item in items:
        if item in PRESETS:
            names += [n for n in PRESETS[item] if n not in names]
            continue
        if item.split(":")[0] not in AUGMENTATIONS:
            raise ValueError(f"Unknown augmentation {item!r}; {_allowed()}")
        name = _canonical(item)
        same = [n for n in names if n.split(":")[0] == name.split(":")[0]]
        if same and same[0] != name:
            raise ValueError(f"{name.split(':')[0]} is given twice ({same[0]} and {name}); "
                             f"give it once.")
        if not same:
            names.append(name)
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
