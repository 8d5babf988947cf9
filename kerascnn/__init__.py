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

__all__ = ["applications", "create_model", "list_models", "model_info", "transfer_weights",
           "__version__"]
