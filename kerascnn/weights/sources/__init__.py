"""Weight sets and converters, one module per publisher and family.

Each module calls :func:`kerascnn.weights.core.register_weight_sets` for the models it
serves and :func:`kerascnn.weights.core.register_converter` for the layouts it reads.
"""

from __future__ import annotations

import importlib

MODULES = (
    "torchvision_resnet",
    "torchvision_vgg",
    "torchvision_densenet",
    "torchvision_squeezenet",
    "torchvision_inception",
    "timm_inception",
    "timm_senet",
    "pytorchcv_cifar",
    "pytorchcv_cifar_extra",
    "pytorchcv_imagenet",
)

_loaded = False


def load_all() -> None:
    """Imports every source module once (a module not yet written is skipped)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for name in MODULES:
        try:
            importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise
