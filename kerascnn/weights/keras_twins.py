"""keras.applications' own ImageNet files, for the kerascnn models that are keras twins.

A twin is declared once, on its variant row (``Variant(..., keras_twin=KerasTwin(...))``
in its family's folder); registering the variant registers its ``"imagenet"`` weight set
and its files here (:func:`register_twin`).

These files need no conversion of layout: the builder reads them with keras' own
constructor and copies them layer by layer (:func:`kerascnn.models.common.
load_keras_twin_weights`). They are downloaded from keras' storage into the Keras cache
(``~/.keras/models``, where keras.applications keeps them too), checked against the md5
sums keras.applications publishes in its source. The top-1 accuracies are those of the
keras.applications documentation's table.

Preprocessing: each keras application has its own ``preprocess_input`` mode: ``"caffe"``
(RGB to BGR, the ImageNet mean subtracted, no scaling), ``"tf"`` (to [-1, 1]) or
``"torch"`` (x / 255, ImageNet mean and std). Keras' documented use of its ImageNet
models reads an image with ``keras.utils.load_img(path, target_size=(224, 224))``: the
image is resized straight to the input size with PIL's nearest neighbour, its aspect
ratio not kept (``resize_mode="squash"``). The documentation's table gives top-1, top-5
and a rounded parameter count; ``num_params`` is keras.applications' ``count_params()``
of the model with its top (the same model, counted exactly).
"""

from __future__ import annotations

import dataclasses

from kerascnn.weights.core import WeightSet, register_weight_sets

__all__ = ["KerasTwin", "KERAS_FILES", "KERAS_DOCS", "register_twin", "keras_mode", "twin_file"]

_STORAGE = "https://storage.googleapis.com/tensorflow/keras-applications"
LICENSES = {
    "caffe_resnet": "MIT (ported from Kaiming He's release)",
    "keras": "MIT (trained by the Keras team)",
    "vgg": "CC-BY-4.0 (ported from the Oxford VGG release)",
    "densenet": "BSD-3-Clause (ported from the DenseNet authors' release)",
    "slim": "Apache-2.0 (ported from the TensorFlow-Slim release)",
}
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


@dataclasses.dataclass(frozen=True)
class KerasTwin:
    """The identical keras.applications network and its ImageNet file.

    Attributes:
        constructor: keras.applications' constructor name (``"ResNet50"``).
        stem: keras' file stem: ``{stem}_weights_tf_dim_ordering_tf_kernels[_notop].h5``
            (None: keras names the file otherwise, as MobileNet's).
        directory: the file's folder in keras' storage.
        md5, md5_notop: the md5 sums keras.applications publishes (None: none published).
        top1: ImageNet top-1 (%) of keras.applications' documentation.
        license: a key of :data:`LICENSES`.
        mode: keras' ``preprocess_input`` mode (``"caffe"``, ``"tf"``, ``"torch"``).
    """

    constructor: str
    stem: str | None
    directory: str
    md5: str | None
    md5_notop: str | None
    top1: float
    license: str
    mode: str

    def __post_init__(self):
        if self.license not in LICENSES or self.mode not in _MEAN_STD:
            raise ValueError(f"KerasTwin {self.constructor}: licence one of {sorted(LICENSES)}, "
                             f"mode one of {sorted(_MEAN_STD)}; got {self.license!r}, "
                             f"{self.mode!r}.")


def twin_file(stem: str, include_top: bool = True) -> str:
    """keras' ImageNet file name for a file stem."""
    return f"{stem}_weights_tf_dim_ordering_tf_kernels{'' if include_top else '_notop'}.h5"


#: keras' file name -> (URL, md5 or None): every file the builders' loaders may ask for
#: (filled by :func:`register_twin`; MobileNet's sizes and widths are listed here).
KERAS_FILES: dict[str, tuple[str, str | None]] = {}
for _alpha in ("1_0", "7_5", "5_0", "2_5"):
    for _rows in (128, 160, 192, 224):
        for _suffix in ("", "_no_top"):
            _file = f"mobilenet_{_alpha}_{_rows}_tf{_suffix}.h5"
            KERAS_FILES[_file] = (f"{_STORAGE}/mobilenet/{_file}", None)

# keras.applications' constructor -> (top-5 of keras' documentation table, count_params()
# of keras.applications' model with its top).
KERAS_DOCS = {
    "Xception": (94.5, 22910480),
    "VGG16": (90.1, 138357544),
    "VGG19": (90.0, 143667240),
    "ResNet50": (92.1, 25636712),
    "ResNet101": (92.8, 44707176),
    "ResNet152": (93.1, 60419944),
    "ResNet50V2": (93.0, 25613800),
    "ResNet101V2": (93.8, 44675560),
    "ResNet152V2": (94.2, 60380648),
    "InceptionV3": (93.7, 23851784),
    "InceptionResNetV2": (95.3, 55873736),
    "MobileNet": (89.5, 4253864),
    "DenseNet121": (92.3, 8062504),
    "DenseNet169": (93.2, 14307880),
    "DenseNet201": (93.6, 20242984),
}
DOCS_URL = "https://keras.io/api/applications/"

# "keras:ResNet50" -> preprocessing mode
_MODES: dict[str, str] = {}


def keras_mode(source: str) -> str | None:
    """keras' preprocessing mode of a ``"keras:ResNet50"`` source, None for other sources."""
    return _MODES.get(source)


def register_twin(model_name: str, twin: KerasTwin, input_size: tuple) -> WeightSet:
    """Registers ``model_name``'s ``"imagenet"`` weight set: keras' file of ``twin``."""
    if twin.stem is None:
        file = "mobilenet_1_0_224_tf.h5"
    else:
        file = twin_file(twin.stem)
        for top, md5 in ((True, twin.md5), (False, twin.md5_notop)):
            name = twin_file(twin.stem, top)
            KERAS_FILES[name] = (f"{_STORAGE}/{twin.directory}/{name}", md5)
    source = f"keras:{twin.constructor}"
    _MODES[source] = twin.mode
    mean, std = _MEAN_STD[twin.mode]
    ws = WeightSet(
        tag="imagenet", source=source, url=KERAS_FILES[file][0], classes=1000,
        input_size=tuple(input_size), mean=mean, std=std, interpolation="nearest",
        crop_pct=1.0, resize_mode="squash", channel_order="BGR" if twin.mode == "caffe" else "RGB",
        top1=twin.top1, top5=KERAS_DOCS[twin.constructor][0],
        num_params=KERAS_DOCS[twin.constructor][1],
        recipe=f"keras.applications' {twin.constructor} ({DOCS_URL})",
        license=LICENSES[twin.license], file_hash=twin.md5,
        note=_NOTES[twin.mode] + ("; the alpha=1.0, 224x224 file" if twin.stem is None else ""),
    )
    register_weight_sets(model_name, ws)
    return ws
