"""The modules that declare weight sets and converters, and :func:`load_all`, which imports
them.

Each family's weight sets live in its folder, one module per publisher
(``kerascnn/models/<family>/weights_<publisher>.py``), beside keras.applications' twins
(:mod:`kerascnn.weights.sources.keras_twins`). Each module calls
:func:`kerascnn.weights.core.register_weight_sets` for the models it serves and
:func:`kerascnn.weights.core.register_converter` for the layouts it reads; what several
families share is in :mod:`kerascnn.weights.core`, :mod:`kerascnn.weights.torchvision` and
:mod:`kerascnn.weights.pytorchcv`.
"""

from __future__ import annotations

import importlib

MODULES = (
    "kerascnn.weights.sources.keras_twins",
    "kerascnn.models.resnet.weights_torchvision",
    "kerascnn.models.vgg.weights_torchvision",
    "kerascnn.models.alexnet.weights_torchvision",
    "kerascnn.models.densenet.weights_torchvision",
    "kerascnn.models.squeezenet.weights_torchvision",
    "kerascnn.models.inception_v3.weights_torchvision",
    "kerascnn.models.inception_v4.weights_timm",
    "kerascnn.models.resnet.weights_timm",
    "kerascnn.models.cifar_resnet.weights_pytorchcv",
    "kerascnn.models.densenet.weights_pytorchcv",
    "kerascnn.models.nin.weights_pytorchcv",
    "kerascnn.models.alexnet.weights_pytorchcv",
    "kerascnn.models.shufflenet.weights_pytorchcv",
    "kerascnn.models.googlenet.weights_pytorchcv",
)

_loaded = False


def load_all() -> None:
    """Imports every weight module once (a module not yet written is skipped)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for name in MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
