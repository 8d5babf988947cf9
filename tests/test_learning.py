"""Every family learns with fit.py's defaults: the learning benchmark's plumbing (fast) and
real training runs with no flag but the data (slow)."""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from .conftest import DATA, ROOT, load_script

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}


def _bench():
    return load_script("bench_learning")


def _need(path):
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return path


def test_bench_learning_plans_one_row_per_family_and_the_source_rows(capsys):
    from kerascnn import api

    from .conftest import own_models

    bench = _bench()
    rows = {r["row"]: r for r in bench.planned_rows()}
    families = {api.get_spec(n).family for n in own_models()}
    assert families <= set(rows)
    assert rows["lenet"]["model"] == "lenet5" and rows["lenet"]["data"] == "mnist"
    assert rows["resnet_cifar:mnist_lasagne"]["flags"] == (
        "--n", "1", "--num-filters", "8", "--batch-size", "500")
    assert rows["resnet_cifar:mnist_resnet20"]["flags"] == ()
    assert rows["resnet:signs_resnet50"]["model"] == "resnet50"
    assert bench.main(["--out", "unused.csv", "--only", "lenet,nothing"]) == 2
    assert "unknown rows: nothing" in capsys.readouterr().err
    assert not os.path.exists("unused.csv")


def test_bench_learning_writes_its_table_only_to_out(tmp_path, monkeypatch):
    data = _need(DATA / "signs" / "64x64_SIGNS")
    bench = _bench()
    work = tmp_path / "work"
    (work / "resnet_cifar").mkdir(parents=True)  # a finished run of the row: read, not rerun
    (work / "resnet_cifar" / "metrics.json").write_text(json.dumps(
        {"epochs": 30, "batch_size": 32, "test_accuracy": 0.9312, "wall_seconds": 321.4,
         "recipe_adapted": ["batch 64 -> 32 (at least 20 steps an epoch)"]}))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    out = tmp_path / "results.csv"
    assert bench.main(["--out", str(out), "--only", "resnet_cifar", "--work-dir", str(work),
                       "--data-root", str(data.parents[1])]) == 0
    assert os.listdir(cwd) == []
    (row,) = list(csv.DictReader(out.open()))
    assert row["model"] == "resnet20_cifar" and row["data"] == "signs"
    assert (row["epochs"], row["batch_size"], row["test_accuracy"]) == ("30", "32", "0.9312")
    assert row["wall_seconds"] == "321" and row["flags"] == ""
    assert float(row["majority_baseline"]) == pytest.approx(0.1667, abs=0.02)
    assert "adapted: batch 64 -> 32" in row["note"]
    from kerascnn.utils.plotting import models_table_markdown, read_learning_results

    learning = read_learning_results(out)
    table = models_table_markdown(
        [{"name": "resnet20_cifar", "family": "resnet_cifar", "paper": "Deep Residual Learning",
          "year": 2016, "params": 272474, "gmacs": 0.04, "default_input_shape": [32, 32, 3]}],
        learning)
    assert "| 0.931 (SIGNS 32px, 30 ep, 5 min) |" in table
    from kerascnn.utils.plotting import learning_table_markdown

    results = learning_table_markdown(out).splitlines()
    assert len(results) == 3 and results[2].startswith(
        "| resnet_cifar | `resnet20_cifar` | SIGNS 32px |  | 30 | 32 | 5.3 min | ")
    assert results[2].endswith(f" | 0.931 | {float(row['majority_baseline']):.3f} |")


def _fit(*argv, out):
    cmd = [sys.executable, str(ROOT / "scripts" / "fit.py"), *map(str, argv), "--output-dir",
           str(out), "--verbose", "0"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=3000)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((out / "metrics.json").read_text())


@pytest.mark.slow
def test_lenet5_reaches_098_on_mnist_with_no_flag_but_the_data(tmp_path):
    mnist = _need(DATA / "mnist")
    metrics = _fit("--model", "lenet5", "--dataset", "mnist", "--data-dir", mnist,
                   "--image-size", 32, out=tmp_path / "run")
    assert metrics["recipe"] == "default" and metrics["optimizer"] == "adam"
    assert metrics["test_accuracy"] >= 0.98, metrics["test_accuracy"]


@pytest.fixture(scope="module")
def mnist_slice(tmp_path_factory):
    """The first 2,000 MNIST training and 1,000 test digits."""
    path = _need(DATA / "mnist" / "mnist.npz")
    with np.load(path) as f:
        arrays = dict(x_train=f["x_train"][:2000], y_train=f["y_train"][:2000],
                      x_test=f["x_test"][:1000], y_test=f["y_test"][:1000])
    out = tmp_path_factory.mktemp("mnist_slice") / "mnist_slice.npz"
    np.savez(out, **arrays)
    return out, arrays


def _majority(y_train, y_test):
    return float(np.mean(np.asarray(y_test) == np.bincount(np.asarray(y_train)).argmax()))


# A sample of families, each with its default recipe and no other flag: the CIFAR ResNet and
# ShuffleNet on SIGNS (864 training photos), LeNet-5 on an MNIST slice (1,800 digits).
SAMPLE = (("resnet20_cifar", "signs", 32), ("shufflenet_g1", "signs", 64),
          ("lenet5", "mnist_slice", 32))


@pytest.mark.slow
@pytest.mark.parametrize("model,data,size", SAMPLE)
def test_families_learn_with_their_default_recipe(model, data, size, mnist_slice, tmp_path):
    if data == "signs":
        folder = _need(DATA / "signs" / "64x64_SIGNS")
        argv = ["--dataset", "signs", "--data-dir", folder]
        labels = {split: [int(n.name[0]) for n in (folder / f"{split}_signs").iterdir()]
                  for split in ("train", "test")}
        baseline = _majority(labels["train"], labels["test"])
    else:
        path, arrays = mnist_slice
        argv = ["--dataset", path]
        baseline = _majority(arrays["y_train"], arrays["y_test"])
    metrics = _fit("--model", model, *argv, "--image-size", size, out=tmp_path / "run")
    # well above the majority class: at least half of the way from it to perfect
    assert metrics["test_accuracy"] > baseline + 0.5 * (1 - baseline), (
        metrics["test_accuracy"], baseline)


def test_bench_learning_resumes_a_row_stopped_part_way(tmp_path, monkeypatch):
    data = _need(DATA / "signs" / "64x64_SIGNS")
    bench = _bench()
    work = tmp_path / "work"
    run = work / "resnet_cifar"
    run.mkdir(parents=True)
    (run / "run_config.json").write_text("{}")  # an attempt started and stopped part way
    (work / "resnet_cifar.elapsed").write_text("1500.0\n")
    calls = []

    def fake_fit(cmd, **kwargs):
        calls.append(cmd)
        (run / "metrics.json").write_text(json.dumps(
            {"epochs": 30, "batch_size": 32, "test_accuracy": 0.9, "wall_seconds": 200.0}))
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(bench.subprocess, "run", fake_fit)
    out = tmp_path / "results.csv"
    assert bench.main(["--out", str(out), "--only", "resnet_cifar", "--work-dir", str(work),
                       "--data-root", str(data.parents[1])]) == 0
    (cmd,) = calls
    assert cmd[-1] == "--resume" and cmd[cmd.index("--output-dir") + 1] == str(run)
    (row,) = list(csv.DictReader(out.open()))
    assert row["wall_seconds"] == "1700" and row["test_accuracy"] == "0.9"
    assert "resumed: 1500 s before the last attempt" in row["note"]


def test_bench_learning_records_the_time_of_a_timed_out_attempt(tmp_path, monkeypatch):
    data = _need(DATA / "signs" / "64x64_SIGNS")
    bench = _bench()
    work = tmp_path / "work"

    def too_slow(cmd, **kwargs):
        raise subprocess.TimeoutExpired(cmd, kwargs["timeout"])

    monkeypatch.setattr(bench.subprocess, "run", too_slow)
    out = tmp_path / "results.csv"
    assert bench.main(["--out", str(out), "--only", "resnet_cifar", "--work-dir", str(work),
                       "--data-root", str(data.parents[1]), "--timeout", "5"]) == 0
    (row,) = list(csv.DictReader(out.open()))
    assert row["test_accuracy"] == "" and "fit.py failed (timeout)" in row["note"]
    assert float((work / "resnet_cifar.elapsed").read_text()) >= 0


def test_the_model_table_shows_a_familys_own_row(tmp_path):
    from kerascnn.utils.plotting import read_learning_results

    path = tmp_path / "results.csv"
    fields = "row,family,model,data,image_size,flags,epochs,batch_size,wall_seconds," \
             "test_accuracy,majority_baseline,cpus,load,note"
    path.write_text("\n".join([
        fields,
        "resnet_cifar,resnet_cifar,resnet20_cifar,signs,32,,30,32,400,0.85,0.1667,2,,",
        "resnet_cifar:mnist_resnet20,resnet_cifar,resnet20_cifar,mnist,,,9,64,900,0.99,0.11,2,,",
        "resnet_cifar:mnist_small,resnet_cifar,resnet20_cifar,mnist,,--n 1,9,64,900,0.98,0.11,2,,",
        "squeezenet,squeezenet,squeezenet1_1,signs,64,,30,32,300,,0.1667,2,,failed",
    ]) + "\n")
    rows = read_learning_results(path)
    assert set(rows) == {"resnet20_cifar"}  # no unfinished row, no row with flags
    assert rows["resnet20_cifar"]["row"] == "resnet_cifar"
