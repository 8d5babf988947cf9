"""The architectures, one folder per family, and the one place that loads them all.

Each ``kerascnn/models/<family>/`` holds the family's builder and variant table
(``model.py``), the blocks only it uses (``blocks.py``) and its published weight sets with
their converters, one module per publisher (``weights_<publisher>.py``). Importing a family
registers its variants in :mod:`kerascnn.registry`; importing this package imports every
family, as ``timm.models`` does. Shared pieces live below: :mod:`kerascnn.models.common`
(input checks, classifier head, keras' own weight files) and
:mod:`kerascnn.models.variants` (one constructor per variant, what ``weights=`` means).
"""

from kerascnn.models import (  # noqa: F401  (importing a family registers it)
    alexnet,
    cifar_resnet,
    densenet,
    googlenet,
    inception_v3,
    inception_v4,
    lenet,
    mobilenet,
    nin,
    resnet,
    resnet_v2,
    shufflenet,
    squeezenet,
    vgg,
    xception,
)

FAMILIES = ("alexnet", "cifar_resnet", "densenet", "googlenet", "inception_v3", "inception_v4",
            "lenet", "mobilenet", "nin", "resnet", "resnet_v2", "shufflenet", "squeezenet",
            "vgg", "xception")

__all__ = ["FAMILIES", "load_families"]


def load_families() -> tuple:
    """The family folders, all registered (they are once this package is imported): what
    code that reads the registry calls to say it needs it filled."""
    return FAMILIES
