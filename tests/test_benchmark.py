"""scripts/benchmark.py on a tiny registered model and its stand-in keras twin; each backend
in a process of its own, timm alongside, and a run with TensorFlow absent."""

import dataclasses
import json
import os
import pathlib
import subprocess
import sys

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
    assert "tiny_bench: kerascnn/keras images/s ratio (tensorflow): train " in printed
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
    for extra, message in [
        (["--backend", "jax,tf"],
         "--backend must be tensorflow, jax or torch (comma-separated); got 'tf'"),
        (["--backend", ","], "--backend must be tensorflow, jax or torch (comma-separated); "
                             "got ''"),
        (["--precision", "fp16"], "--precision must be float32, bfloat16 or mixed; got 'fp16'"),
        (["--device", "cuda"], "--device must be cpu or gpu; got 'cuda'"),
        (["--compare", "torchvision"], "--compare must be timm; got 'torchvision'"),
        (["--timm-variants", "eager,fast"], "--timm-variants must be eager, channels_last "
                                            "and/or compile (comma-separated); got "
                                            "'eager,fast'"),
        (["--data-format", "nhwc"], "--data-format must be auto, channels_last or "
                                    "channels_first; got 'nhwc'"),
        (["--jax-conv", "fast"], "--jax-conv must be auto or native; got 'fast'"),
        (["--plugin", "/nonexistent/p.py"], "--plugin: no such file: /nonexistent/p.py"),
    ]:
        assert script.main(["--models", "resnet50"] + extra) == 2
        assert capsys.readouterr().err == f"error: {message}\n"


def test_timm_twins():
    script = _script()
    assert script.timm_twin("mobilenet") == "mobilenetv1_100"  # kerascnn's is MobileNet v1
    assert script.timm_twin("resnet50") == "resnet50"
    assert script.timm_twin("densenet121") == "densenet121"
    assert script.timm_twin("nin_cifar") is None
    assert set(script.TIMM_TWINS) <= set(registry._MODELS)


def test_backend_settings():
    from kerascnn.utils.backend_speed import best_settings, worker_env

    assert best_settings("tensorflow", "cpu") == {"data_format": "channels_last",
                                                  "jit_compile": False, "xla_flags": []}
    assert best_settings("torch", "gpu")["data_format"] == "channels_first"
    assert best_settings("jax", "gpu")["jit_compile"] is True
    with pytest.raises(ValueError, match="^backend must be one of tensorflow, jax, torch; "
                                         "got 'tf'$"):
        best_settings("tf", "cpu")
    env = worker_env("jax", "cpu", ["--a=1"], base={"XLA_FLAGS": "--b=2"})
    assert env["KERAS_BACKEND"] == "jax" and env["CUDA_VISIBLE_DEVICES"] == ""
    assert env["JAX_PLATFORMS"] == "cpu" and env["XLA_FLAGS"] == "--b=2 --a=1"
    env = worker_env(None, "gpu", base={})
    assert "KERAS_BACKEND" not in env and env["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"


ROOT = pathlib.Path(__file__).resolve().parents[1]
PLUGIN = str(ROOT / "tests" / "bench_plugin_tiny.py")
TINY = ["--models", "tiny_bench", "--plugin", PLUGIN, "--image-size", "12", "--batch-size",
        "2", "--classes", "3", "--steps", "1", "--rounds", "2", "--warmup", "1"]


def _run_script(args, tmp_path, block_tensorflow=False):
    """benchmark.py in a fresh process; with block_tensorflow, `import tensorflow` fails in
    it and in every process it starts (a sitecustomize on PYTHONPATH)."""
    env = dict(os.environ)
    path = [str(ROOT)]
    if block_tensorflow:
        site = tmp_path / "site"
        site.mkdir()
        (site / "sitecustomize.py").write_text("import sys\nsys.modules['tensorflow'] = None\n")
        path.insert(0, str(site))
        env.pop("KERAS_BACKEND", None)
    env["PYTHONPATH"] = os.pathsep.join(path + [env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "benchmark.py")] + args,
                          env=env, capture_output=True, text=True, timeout=900)


def test_backends_and_timm_without_tensorflow(tmp_path):
    out = tmp_path / "b.json"
    proc = _run_script(TINY + ["--backend", "jax", "--backend", "torch", "--compare", "timm",
                               "--timm-variants", "eager,channels_last", "--json", str(out)],
                       tmp_path, block_tensorflow=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(out.read_text())
    s = data["settings"]
    assert s["separate_processes"] is True and s["device"] == "cpu"
    assert set(s["workers"]) == {"jax", "torch", "timm"}
    assert s["workers"]["jax"]["settings"]["data_format"] == "channels_last"
    assert s["workers"]["jax"]["settings"]["jit_compile"] is True
    assert s["workers"]["jax"]["settings"]["conv_lowering"] == "auto"
    assert s["workers"]["torch"]["settings"]["conv_lowering"] is None
    assert s["workers"]["torch"]["settings"]["data_format"] == "channels_first"
    assert s["workers"]["torch"]["settings"]["dtype_policy"] == "float32"
    assert s["workers"]["timm"]["framework_version"].startswith("torch ")
    assert len(s["load_average_start"]) == 3 and len(s["load_average_end"]) == 3
    (r,) = data["results"]
    assert r["name"] == "tiny_bench" and r["input_shape"] == [12, 12, 3]
    assert r["macs"] == 12 * 12 * 4 * 9 * 3 + 4 * 3
    assert set(r["backends"]) == {"jax", "torch"}
    t = r["timm"]
    assert t["name"] == "test_resnet" and set(t["variants"]) == {"eager", "channels_last"}
    assert t["variants"]["channels_last"]["settings"]["memory_format"] == "channels_last"
    for kind in ("train", "infer"):
        key = f"{kind}_images_per_s"
        best = max(v[key] for v in t["variants"].values())
        assert t["best"][kind]["images_per_s"] == best
        assert t["variants"][t["best"][kind]["variant"]][key] == best
        for v in t["variants"].values():
            assert v[f"{kind}_timed_steps"] == 2
        for b in r["backends"].values():
            assert b[f"{kind}_timed_steps"] == 2 and b[key] > 0
            assert b[f"ratio_timm_{kind}"] == round(b[key] / best, 3)
    printed = proc.stdout
    assert printed.startswith("jax (cpu), torch (cpu), timm (cpu); ")
    assert "kerascnn/jax" in printed and "timm test_resnet channels_last" in printed
    assert "channels_first, jit_compile=False, float32" in printed
    assert "tiny_bench: x timm = images/s against timm's fastest variant (train " in printed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.json", "site"]  # atomic write


@pytest.mark.slow
def test_tensorflow_backend_in_its_own_process(tmp_path):
    """The default run covers TensorFlow in-process (test_benchmark_writes_json_and_table)."""
    out = tmp_path / "b.json"
    proc = _run_script(TINY + ["--backend", "tensorflow", "--precision", "mixed", "--no-train",
                               "--json", str(out)], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(out.read_text())
    w = data["settings"]["workers"]["tensorflow"]
    assert w["settings"]["dtype_policy"] == "mixed_bfloat16"
    assert w["settings"]["jit_compile"] is False  # XLA off on a CPU
    (r,) = data["results"]
    assert r["backends"]["tensorflow"]["infer_timed_steps"] == 2
    assert r["infer_timed_steps"] == 2 and "train_images_per_s" not in r  # one backend: on top
    assert "timm" not in r


@pytest.mark.slow
def test_timm_compile_variant(tmp_path):
    """torch.compile needs a C++ compiler on a CPU and takes a while: the slow run."""
    out = tmp_path / "b.json"
    proc = _run_script(TINY + ["--backend", "torch", "--compare", "timm", "--timm-variants",
                               "compile", "--json", str(out)], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    v = json.loads(out.read_text())["results"][0]["timm"]["variants"]["compile"]
    assert v["settings"]["torch_compile"] is True
    assert v.get("error") is None and v["train_timed_steps"] == 2


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
