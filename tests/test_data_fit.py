"""fit.py's engine trains on the SIGNS folder read through kerascnn.data (a local path)."""

import json

import keras

from kerascnn import registry
from kerascnn.models.common import build_input
from kerascnn.models.variants import register_model
from kerascnn.training.config import FitConfig
from kerascnn.training.run import run


def SmallCNN(input_shape=None, classes=6, name="small_cnn", **_):
    x_in = build_input(None, input_shape, default_shape=(32, 32, 3), min_size=16,
                       include_top=True)
    x = x_in
    for filters in (32, 64, 128):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(classes, activation="softmax")(x)
    return keras.Model(x_in, out, name=name)


def test_fit_on_signs_folder_beats_chance_widely(signs_dir, tmp_path):
    register_model("zz_small_cnn", SmallCNN, family="test", paper=("t", 2020),
                            default_input_shape=(32, 32, 3), min_input_size=16)
    try:
        metrics = run(FitConfig(model="zz_small_cnn", dataset=str(signs_dir), epochs=12,
                                batch_size=32, image_size=32, learning_rate=2e-3,
                                augment="flip", output_dir=str(tmp_path / "run"), verbose=0))
    finally:
        registry._MODELS.pop("zz_small_cnn")
    assert metrics["split_sizes"] == {"train": 864, "val": 216, "test": 120}
    assert metrics["skipped_files"] == 0 and metrics["augment"] == "flip"
    # chance is 1/6; the seed's ResNet-50 reaches ~0.87 at 64x64
    assert metrics["test_accuracy"] > 0.6, metrics["test_accuracy"]
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert len(saved["normalization"]["mean"]) == 3
