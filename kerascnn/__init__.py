"""kerascnn: the history of convolutional image classifiers in Keras 3.

    import kerascnn
    model = kerascnn.applications.ResNet50(input_shape=(64, 64, 3), classes=6)
    kerascnn.list_models("resnet*")
    model = kerascnn.create_model("resnet50", classes=6)

``import kerascnn`` is cheap: Keras (and with it its backend: TensorFlow, JAX or
PyTorch; TensorFlow is needed only to train) is imported on first use of a model,
the registry or the training code, so the command-line
scripts answer ``--help`` at once. kerascnn's custom layers are registered
with Keras as soon as Keras is imported, so after ``import kerascnn`` a saved
model loads with ``keras.saving.load_model(path)``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

__version__ = "0.2.0"

__all__ = ["applications", "create_model", "list_models", "load_images", "model_info",
           "models_table", "reset_classifier",
           "transfer_weights", "visualize", "__version__"]

# Public names -> (module, attribute or None for the module itself), imported on first use.
_LAZY = {
    "applications": ("kerascnn.applications", None),
    "create_model": ("kerascnn.api", "create_model"),
    "list_models": ("kerascnn.api", "list_models"),
    "model_info": ("kerascnn.api", "model_info"),
    "load_images": ("kerascnn.preprocessing", "load_images"),
    "reset_classifier": ("kerascnn.api", "reset_classifier"),
    "transfer_weights": ("kerascnn.weights.transfer", "transfer_weights"),
    "models_table": ("kerascnn.utils.table", "models_table"),
    "visualize": ("kerascnn.visualize", None),
}

_SUBMODULES = ("api", "blocks", "cli", "data", "layers", "models", "recipes", "registry",
               "training", "tuning", "utils")

# Modules that register Keras serializables (custom layers, learning-rate schedules) which
# saved kerascnn models refer to.
_SERIALIZABLES = ("kerascnn.layers", "kerascnn.training.schedules")


def __getattr__(name):
    if name in _LAZY:
        module_name, attribute = _LAZY[name]
        module = importlib.import_module(module_name)
        value = module if attribute is None else getattr(module, attribute)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"kerascnn.{name}")
    raise AttributeError(f"module 'kerascnn' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | set(_SUBMODULES))


def register_serializables() -> None:
    """Imports the modules whose Keras objects saved kerascnn models refer to."""
    for module in _SERIALIZABLES:
        importlib.import_module(module)


class _AfterKerasImport(importlib.abc.MetaPathFinder):
    """Registers kerascnn's custom objects right after Keras itself is imported."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "keras":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec("keras")
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_register(module):
            exec_module(module)
            register_serializables()

        spec.loader.exec_module = exec_then_register
        return spec


if "keras" in sys.modules:
    register_serializables()
elif not any(isinstance(f, _AfterKerasImport) for f in sys.meta_path):
    sys.meta_path.insert(0, _AfterKerasImport())
