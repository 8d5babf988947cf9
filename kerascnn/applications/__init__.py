"""Architectures with the keras.applications signature, one module per family.

Importing a family module registers its variants in :mod:`kerascnn.registry`.
"""

from kerascnn.applications.resnet import ResNet50, ResNet101, ResNet152

__all__ = ["ResNet50", "ResNet101", "ResNet152"]
