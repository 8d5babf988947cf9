"""Custom layers that Keras itself lacks."""

__all__ = []
# Issue 4: LRN (AlexNet, GoogLeNet, VGG A-LRN) and Inception-ResNet's scaled sum.
from kerascnn.layers.lrn import LocalResponseNormalization  # noqa: E402
from kerascnn.layers.scale import CustomScaleLayer  # noqa: E402

__all__ += ["LocalResponseNormalization", "CustomScaleLayer"]
