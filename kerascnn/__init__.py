"""kerascnn: the history of convolutional image classifiers in Keras 3.

    import kerascnn
    model = kerascnn.applications.ResNet50(input_shape=(64, 64, 3), classes=6)
    kerascnn.list_models("resnet*")
    model = kerascnn.create_model("resnet50", classes=6)
"""

__version__ = "0.1.0"

from kerascnn import applications  # noqa: E402,F401  (registers every model)
from kerascnn.registry import create_model, list_models, model_info  # noqa: E402
from kerascnn.utils.transfer import transfer_weights  # noqa: E402


def models_table(pattern: str = "*") -> list[dict]:
    """Params, MACs, receptive field and input size of every registered model (instant).

    Read from the table shipped in the package; see :func:`kerascnn.utils.table.models_table`.
    """
    from kerascnn.utils.table import models_table as _models_table

    return _models_table(pattern)


def __getattr__(name):
    # kerascnn.visualize imports on first use, so `import kerascnn` stays light.
    if name == "visualize":
        import importlib

        return importlib.import_module("kerascnn.visualize")
    raise AttributeError(f"module 'kerascnn' has no attribute {name!r}")


__all__ = ["applications", "create_model", "list_models", "model_info", "models_table",
           "transfer_weights", "visualize", "__version__"]
