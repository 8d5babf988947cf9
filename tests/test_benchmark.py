"""scripts/benchmark.py on a tiny registered model and its stand-in keras twin."""

import dataclasses
import json

import keras
import pytest
from keras import layers

from kerascnn import registry
from kerascnn.models.variants import pattern_member

from .conftest import load_script


def _script():
    return load_script("benchmark")


def _tiny(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None,
          classes=1000, classifier_activation="softmax", name="tiny_bench"):
    inputs = keras.Input(input_shape or (16, 16, 3))
    x = layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, layers.Dense(classes, activation=classifier_activation,
                                            name="fc")(x), name=name)


@pytest.fixture
def tiny_registered(monkeypatch):
    """A tiny model registered for the test, with keras.applications.TinyTwin as its twin."""
    spec = dataclasses.replace(
        pattern_member("tiny_bench", _tiny, family="test", paper=("Tiny", 2024),
                       default_input=(16, 16, 3), min_size=8), keras_twin="TinyTwin")
    monkeypatch.setitem(registry._MODELS, "tiny_bench", spec)
    monkeypatch.setattr(keras.applications, "TinyTwin", _tiny, raising=False)
    return spec


def test_benchmark_writes_json_and_table(tiny_registered, tmp_path, capsys):
    out = tmp_path / "bench" / "b.json"
    rc = _script().main(["--models", "tiny_bench", "--batch-size", "4", "--image-size", "12",
                         "--classes", "3", "--steps", "2", "--warmup", "1", "--rounds", "2",
                         "--compare-keras", "--json", str(out)])
    assert rc == 0
    data = json.loads(out.read_text())
    assert data["settings"]["batch_size"] == 4 and data["settings"]["compare_keras"] is True
    assert "RSS" in data["settings"]["memory"] or "GPU" in data["settings"]["memory"]
    assert "multiply-accumulates" in data["settings"]["macs"]
    (r,) = data["results"]
    # conv 12*12*4*9*3 + dense 4*3
    assert r["macs"] == 12 * 12 * 4 * 9 * 3 + 4 * 3
    assert r["params"] == (9 * 3 * 4 + 4) + (4 * 3 + 3) == r["total_params"]
    assert r["input_shape"] == [12, 12, 3]
    for kind in ("train", "infer"):
        assert r[f"{kind}_timed_steps"] == 4 == r["keras"][f"{kind}_timed_steps"]
        assert r[f"{kind}_images_per_s"] > 0 and r[f"{kind}_step_ms"] > 0
        assert r[f"{kind}_peak_memory_mb"] > 0
        expected = round(r[f"{kind}_images_per_s"] / r["keras"][f"{kind}_images_per_s"], 3)
        assert r[f"ratio_{kind}"] == expected
    assert r["keras"]["name"] == "keras.applications.TinyTwin"
    assert r["keras"]["macs"] == r["macs"]
    printed = capsys.readouterr().out
    assert "tiny_bench: kerascnn/keras images/s ratio: train " in printed
    assert "  keras.applications.TinyTwin" in printed
    assert f"wrote {out}" in printed
    assert list(out.parent.iterdir()) == [out]  # atomic write left no temporary file


def test_benchmark_inference_only_and_too_small(tiny_registered, tmp_path):
    out = tmp_path / "b.json"
    assert _script().main(["--models", "tiny_bench", "--image-size", "4", "--json",
                           str(out)]) == 0
    (r,) = json.loads(out.read_text())["results"]
    assert r == {"name": "tiny_bench", "skipped": "image size 4 is below tiny_bench's minimum 8"}
    assert _script().main(["--models", "tiny_bench", "--no-train", "--steps", "1", "--rounds",
                           "1", "--warmup", "0", "--json", str(out)]) == 0
    (r,) = json.loads(out.read_text())["results"]
    assert "train_images_per_s" not in r and r["infer_timed_steps"] == 1
    assert r["input_shape"] == [16, 16, 3]  # the default input size


def test_benchmark_argument_errors(capsys):
    script = _script()
    assert script.main(["--models", "tiny_nothing*"]) == 2
    assert capsys.readouterr().err == "error: no registered model matches 'tiny_nothing*'\n"
    assert script.main(["--models", "resnet50", "--batch-size", "0"]) == 2
    assert capsys.readouterr().err == \
        "error: --batch-size must be a positive integer; got 0\n"


def test_alternating_order():
    script = _script()
    calls = []

    class Fake:
        def __init__(self, label):
            self.label = label

        def warmup(self, kind, steps):
            calls.append(("warmup", kind, self.label))

        def timed(self, kind, steps, meter):
            calls.append((kind, self.label))

    script.benchmark_runners([Fake("a"), Fake("b")], steps=1, warmup=1, rounds=3, meter=None)
    assert calls == [("warmup", "train", "a"), ("warmup", "train", "b"),
                     ("train", "a"), ("train", "b"), ("train", "b"), ("train", "a"),
                     ("train", "a"), ("train", "b"),
                     ("warmup", "infer", "a"), ("warmup", "infer", "b"),
                     ("infer", "a"), ("infer", "b"), ("infer", "b"), ("infer", "a"),
                     ("infer", "a"), ("infer", "b")]
