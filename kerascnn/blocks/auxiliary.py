"""Auxiliary classifiers of the Inception line (GoogLeNet section 5, Inception v3 section 4).

GoogLeNet (Szegedy et al., "Going Deeper with Convolutions", 2015) attaches two
to the outputs of inception (4a) and (4d): 5x5/3 average pooling, 1x1
convolution with 128 filters and ReLU, a 1024-unit fully connected layer with
ReLU, dropout 0.7 and a linear classifier; their losses are added with weight
0.3 during training and the heads are dropped at inference.

Inception v3 (Szegedy et al., "Rethinking the Inception Architecture", 2016)
keeps one, on the 17x17 grid: 5x5/3 average pooling, 1x1 convolution 128 and a
5x5 convolution 768 (both with BN and ReLU), then the classifier.
"""

from __future__ import annotations

from keras import layers

from kerascnn.blocks.common import conv_bn
from kerascnn.layers.conv import Conv2D

__all__ = ["googlenet_aux_head", "inception_v3_aux_head"]


def googlenet_aux_head(x, classes, classifier_activation="softmax", *, name="aux1",
                       dropout=0.7):
    """GoogLeNet's auxiliary classifier (needs a grid of at least 5x5)."""
    x = layers.AveragePooling2D(5, strides=3, name=f"{name}_pool")(x)
    x = Conv2D(128, 1, activation="relu", name=f"{name}_conv")(x)
    x = layers.Flatten(name=f"{name}_flatten")(x)
    x = layers.Dense(1024, activation="relu", name=f"{name}_fc")(x)
    x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return layers.Dense(classes, activation=classifier_activation, name=f"{name}_predictions")(x)


def inception_v3_aux_head(x, classes, classifier_activation="softmax", *, name="aux",
                          bn_scale=False):
    """Inception v3's auxiliary classifier (needs the 17x17 grid of a 299 input,
    at least 17x17); ``bn_scale``: BN with gamma (torchvision's layout)."""
    x = layers.AveragePooling2D(5, strides=3, name=f"{name}_pool")(x)
    x = conv_bn(x, 128, 1, name=f"{name}_conv1", bn_scale=bn_scale)
    x = conv_bn(x, 768, 5, padding="valid", name=f"{name}_conv2", bn_scale=bn_scale)
    x = layers.GlobalAveragePooling2D(name=f"{name}_gap")(x)
    return layers.Dense(classes, activation=classifier_activation, name=f"{name}_predictions")(x)
