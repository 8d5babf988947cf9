"""keras.applications' own ImageNet files, for the 15 kerascnn models that are keras twins.

These files need no conversion of layout: the builder reads them with keras' own
constructor and copies them layer by layer (:func:`kerascnn.applications.common.
load_keras_twin_weights`). They are downloaded from keras' storage into the Keras cache
(``~/.keras/models``, where keras.applications keeps them too), checked against the md5
sums keras.applications publishes in its source. The top-1 accuracies are those of the
keras.applications documentation's table.

Preprocessing: each keras application has its own ``preprocess_input`` mode
(:data:`KERAS_MODES`): ``"caffe"`` (RGB to BGR, the ImageNet mean subtracted, no
scaling), ``"tf"`` (to [-1, 1]) or ``"torch"`` (x / 255, ImageNet mean and std).
"""

from __future__ import annotations

from kerascnn.weights.core import WeightSet, register_weight_sets

__all__ = ["KERAS_FILES", "KERAS_MODES", "KERAS_TWINS", "keras_mode"]

_STORAGE = "https://storage.googleapis.com/tensorflow/keras-applications"
_LICENSES = {
    "caffe_resnet": "MIT (ported from Kaiming He's release)",
    "keras": "MIT (trained by the Keras team)",
    "vgg": "CC-BY-4.0 (ported from the Oxford VGG release)",
    "densenet": "BSD-3-Clause (ported from the DenseNet authors' release)",
    "slim": "Apache-2.0 (ported from the TensorFlow-Slim release)",
}

# model -> (keras constructor, file stem, directory, md5 top, md5 notop, top-1 %, licence,
#           preprocessing mode, input size)
KERAS_TWINS = {
    "resnet50": ("ResNet50", "resnet50", "resnet", "2cb95161c43110f7111970584f804107",
                 "4d473c1dd8becc155b73f8504c6f6626", 74.9, "caffe_resnet", "caffe", 224),
    "resnet101": ("ResNet101", "resnet101", "resnet", "f1aeb4b969a6efcfb50fad2f0c20cfc5",
                  "88cf7a10940856eca736dc7b7e228a21", 76.4, "caffe_resnet", "caffe", 224),
    "resnet152": ("ResNet152", "resnet152", "resnet", "100835be76be38e30d865e96f2aaae62",
                  "ee4c566cf9a93f14d82f913c2dc6dd0c", 76.6, "caffe_resnet", "caffe", 224),
    "resnet50_v2": ("ResNet50V2", "resnet50v2", "resnet", "3ef43a0b657b3be2300d5770ece849e0",
                    "fac2f116257151a9d068a22e544a4917", 76.0, "keras", "tf", 224),
    "resnet101_v2": ("ResNet101V2", "resnet101v2", "resnet",
                     "6343647c601c52e1368623803854d971", "c0ed64b8031c3730f411d2eb4eea35b5",
                     77.2, "keras", "tf", 224),
    "resnet152_v2": ("ResNet152V2", "resnet152v2", "resnet",
                     "a49b44d1979771252814e80f8ec446f9", "ed17cf2e0169df9d443503ef94b23b33",
                     78.0, "keras", "tf", 224),
    "densenet121": ("DenseNet121", "densenet121", "densenet",
                    "9d60b8095a5708f2dcce2bca79d332c7", "30ee3e1110167f948a6b9946edeeb738",
                    75.0, "densenet", "torch", 224),
    "densenet169": ("DenseNet169", "densenet169", "densenet",
                    "d699b8f76981ab1b30698df4c175e90b", "b8c4d4c20dd625c148057b9ff1c1176b",
                    76.2, "densenet", "torch", 224),
    "densenet201": ("DenseNet201", "densenet201", "densenet",
                    "1ceb130c1ea1b78c3bf6114dbdfd8807", "c13680b51ded0fb44dff2d8f86ac8bb1",
                    77.3, "densenet", "torch", 224),
    "vgg16": ("VGG16", "vgg16", "vgg16", "64373286793e3c8b2b4e3219cbf3544b",
              "6d6bbae143d832006294945121d1f1fc", 71.3, "vgg", "caffe", 224),
    "vgg19": ("VGG19", "vgg19", "vgg19", "cbe5617147190e668d6c5d5026f83318",
              "253f8cb515780f3b799900260a226db6", 71.3, "vgg", "caffe", 224),
    "inception_v3": ("InceptionV3", "inception_v3", "inception_v3",
                     "9a0d58056eeedaa3f26cb7ebd46da564", "bcbd6486424b2319ff4ef7d526e38f63",
                     77.9, "keras", "tf", 299),
    "inception_resnet_v2": ("InceptionResNetV2", "inception_resnet_v2", "inception_resnet_v2",
                            "e693bd0210a403b3192acc6073ad2e96",
                            "d19885ff4a710c122648d3b5c3b684e4", 80.3, "slim", "tf", 299),
    "xception": ("Xception", "xception", "xception", "0a58e3b7378bc2990ea3b43d5981f1f6",
                 "b0042744bf5b25fce3cb969f33bebb97", 79.0, "keras", "tf", 299),
    # keras publishes no md5 of its MobileNet files.
    "mobilenet": ("MobileNet", None, "mobilenet", None, None, 70.4, "slim", "tf", 224),
}

#: model name -> keras.applications' ``preprocess_input`` mode of its ImageNet file.
KERAS_MODES = {model: row[7] for model, row in KERAS_TWINS.items()}

#: keras' file name -> (URL, md5 or None): every file the builders' loaders may ask for.
KERAS_FILES: dict[str, tuple[str, str | None]] = {}
for _model, (_twin, _stem, _dir, _md5, _md5_notop, *_) in KERAS_TWINS.items():
    if _stem is None:
        continue
    for _suffix, _hash in (("", _md5), ("_notop", _md5_notop)):
        _file = f"{_stem}_weights_tf_dim_ordering_tf_kernels{_suffix}.h5"
        KERAS_FILES[_file] = (f"{_STORAGE}/{_dir}/{_file}", _hash)
for _alpha in ("1_0", "7_5", "5_0", "2_5"):
    for _rows in (128, 160, 192, 224):
        for _suffix in ("", "_no_top"):
            _file = f"mobilenet_{_alpha}_{_rows}_tf{_suffix}.h5"
            KERAS_FILES[_file] = (f"{_STORAGE}/mobilenet/{_file}", None)

# Each mode as mean and std of x / 255 in RGB (caffe: BGR order, the std 1/255 = no scaling).
_MEAN_STD = {
    "tf": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    "torch": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "caffe": ((123.68 / 255, 116.779 / 255, 103.939 / 255), (1 / 255, 1 / 255, 1 / 255)),
}
_NOTES = {
    "caffe": "keras' 'caffe' preprocessing: the network takes BGR images minus the ImageNet "
             "mean, unscaled (preprocess_input and include_preprocessing do it)",
    "tf": "keras' 'tf' preprocessing: x / 127.5 - 1",
    "torch": "keras' 'torch' preprocessing: x / 255, ImageNet mean and std",
}


def keras_mode(source: str) -> str | None:
    """keras' preprocessing mode of a ``"keras:ResNet50"`` source, None for other sources."""
    for row in KERAS_TWINS.values():
        if source == f"keras:{row[0]}":
            return row[7]
    return None


for _model, (_twin, _stem, _dir, _md5, _, _top1, _license, _mode, _size) in \
        KERAS_TWINS.items():
    _file = ("mobilenet_1_0_224_tf.h5" if _stem is None
             else f"{_stem}_weights_tf_dim_ordering_tf_kernels.h5")
    _mean, _std = _MEAN_STD[_mode]
    register_weight_sets(_model, WeightSet(
        tag="imagenet", source=f"keras:{_twin}", url=KERAS_FILES[_file][0], classes=1000,
        input_size=(_size, _size, 3), mean=_mean, std=_std, interpolation="bilinear",
        crop_pct=0.875, top1=_top1, license=_LICENSES[_license], file_hash=_md5,
        note=_NOTES[_mode] + ("; the alpha=1.0, 224x224 file" if _stem is None else ""),
    ))
