"""evaluate.py --model NAME --weights TAG|FILE --data DIR on a small ImageNet-layout folder
made from real photographs, and predict.py naming ImageNet classes.

The weights are a random SqueezeNet 1.1 in torchvision's layout (no download here): the
scores are whatever it predicts, checked against the same images run through
``load_images`` + ``preprocess_input`` + the model directly.
"""

import csv
import shutil

import numpy as np
import pytest

from tests._photos import make_photos, truncated_copy

from .conftest import load_script

WNIDS = ("n01440764", "n01443537", "n15075141")  # tench, goldfish, toilet tissue


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    tv = pytest.importorskip("torchvision.models")
    from tests._torch import randomize_torch, save_safetensors

    path = tmp_path_factory.mktemp("weights") / "squeezenet.safetensors"
    return save_safetensors(randomize_torch(tv.squeezenet1_1()), path)


@pytest.fixture(scope="module")
def photos(signs_dir, tmp_path_factory):
    return make_photos(signs_dir, tmp_path_factory.mktemp("photos"))


def _wnid_folder(photos, root):
    labels = {}
    for i, (kind, path) in enumerate(sorted(photos.items())):
        folder = root / WNIDS[i % 3]
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{kind}{path.suffix}"
        shutil.copy(path, target)
        labels[target] = WNIDS[i % 3]
    return labels


def _expected(checkpoint, files, wnids):
    """Top-1 and top-5 (percent) of the same model on the same files, done directly."""
    import kerascnn
    from kerascnn.preprocessing import imagenet_classes

    index = {w: i for i, (w, _) in enumerate(imagenet_classes())}
    model = kerascnn.create_model("squeezenet1_1", weights=str(checkpoint),
                                  classifier_activation=None)
    x = kerascnn.applications.preprocess_input(
        kerascnn.load_images(files, "squeezenet1_1"), model="squeezenet1_1")
    logits = np.asarray(model.predict_on_batch(x))
    y = np.array([index[w] for w in wnids])
    top5 = np.argsort(-logits, axis=1)[:, :5]
    return 100 * np.mean(top5[:, 0] == y), 100 * np.mean(np.any(top5 == y[:, None], axis=1))


def test_evaluate_wnid_folders_and_results_csv(photos, checkpoint, tmp_path, capsys):
    labels = _wnid_folder(photos, tmp_path / "val")
    truncated = truncated_copy(photos["jpeg"], tmp_path / "val" / WNIDS[0] / "cut.jpg")
    results = tmp_path / "out" / "results.csv"
    results.parent.mkdir()
    argv = ["--model", "squeezenet1_1", "--weights", str(checkpoint), "--data",
            str(tmp_path / "val"), "--results-csv", str(results), "--batch-size", "4"]
    evaluate = load_script("evaluate")
    assert evaluate.main(argv + ["--workers", "1"]) == 1  # one unreadable image
    out, err = capsys.readouterr()
    assert f"cannot read {truncated}: image file is truncated" in err
    top1, top5 = _expected(checkpoint, sorted(labels), [labels[p] for p in sorted(labels)])
    assert f"top-1 {top1:.3f} %" in out and f"top-5 {top5:.3f} %" in out
    assert "(published 58.178, difference " in out
    assert "images/s end to end, the network alone" in out
    # --limit: the first 5 files (sorted; the truncated one among them); a second row
    # under the same header.
    assert evaluate.main(argv + ["--workers", "0", "--limit", "5"]) == 1
    with open(results, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["images"] for r in rows] == [str(len(labels)), "4"]
    assert [r["unreadable"] for r in rows] == ["1", "1"]
    first = rows[0]
    assert (first["model"], first["weights"], first["top1"], first["top5"]) == (
        "squeezenet1_1", "squeezenet.safetensors", f"{top1:.3f}", f"{top5:.3f}")
    assert first["published_top1"] == "58.178" and first["published_top5"] == "80.624"
    assert float(first["top1_low"]) <= top1 <= float(first["top1_high"])
    assert first["transform"].startswith("RGB, resize shorter side to 256 (bilinear)")
    assert first["layout"] == "wnid folders"


def test_evaluate_flat_folder_with_ground_truth(photos, checkpoint, tmp_path, capsys):
    flat = tmp_path / "flat"
    flat.mkdir()
    names = []
    for i, kind in enumerate(("jpeg", "png", "square")):
        name = f"ILSVRC2012_val_{i + 1:08d}"
        shutil.copy(photos[kind], flat / f"{name}.JPEG")
        names.append(name)
    truth = tmp_path / "LOC_val_solution.csv"
    truth.write_text("ImageId,PredictionString\n" + "".join(
        f"{n},{WNIDS[i]} 1 2 3 4\n" for i, n in enumerate(names)) + "ILSVRC2012_val_00049999,"
        "n01440764 1 2 3 4\n")
    code = load_script("evaluate").main(["--model", "squeezenet1_1", "--weights",
                                         str(checkpoint), "--data", str(flat),
                                         "--ground-truth", str(truth), "--workers", "0"])
    out, _ = capsys.readouterr()
    assert code == 0
    top1, top5 = _expected(checkpoint, [flat / f"{n}.JPEG" for n in names], WNIDS)
    assert "3 images (flat folder + ground truth)" in out
    assert f"top-1 {top1:.3f} %" in out and f"top-5 {top5:.3f} %" in out


def _error(argv, capsys):
    code = load_script("evaluate").main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err, err
    return err


def test_bad_data_is_one_line_before_any_work(photos, checkpoint, tmp_path, capsys):
    base = ["--model", "squeezenet1_1", "--weights", str(checkpoint), "--data"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _error(base + [str(empty)], capsys) == (
        f"evaluate.py: error: --data {empty} holds no images (one folder per WordNet id, or "
        "ILSVRC2012_val_*.JPEG with a ground-truth file, are expected)")
    odd = tmp_path / "odd"
    (odd / "n01440764").mkdir(parents=True)
    (odd / "cats").mkdir()
    (odd / "n99999999").mkdir()
    assert _error(base + [str(odd)], capsys) == (
        f"evaluate.py: error: --data {odd}: 2 of its 3 folders are not ImageNet-1k WordNet "
        "ids: cats, n99999999")
    flat = tmp_path / "flat"
    flat.mkdir()
    for i in (1, 2):
        shutil.copy(photos["jpeg"], flat / f"ILSVRC2012_val_{i:08d}.JPEG")
    assert _error(base + [str(flat)], capsys) == (
        f"evaluate.py: error: --data {flat} is a flat folder of 2 images: it needs "
        "--ground-truth FILE (Kaggle's LOC_val_solution.csv or 'FILE WNID' lines)")
    truth = tmp_path / "truth.txt"
    truth.write_text("ILSVRC2012_val_00000001.JPEG n01440764\n")
    assert _error(base + [str(flat), "--ground-truth", str(truth)], capsys) == (
        f"evaluate.py: error: the ground-truth file {truth} does not match --data {flat}: no "
        "label for 1 of its 2 images (ILSVRC2012_val_00000002.JPEG)")
    devkit = tmp_path / "ILSVRC2012_validation_ground_truth.txt"
    devkit.write_text("490\n361\n")
    assert _error(base + [str(flat), "--ground-truth", str(devkit)], capsys) == (
        f"evaluate.py: error: {devkit} holds one number a line: the devkit's ILSVRC2012_ID "
        "labels, whose class order is not the WordNet-sorted one; give Kaggle's "
        "LOC_val_solution.csv or a 'FILE WNID' list instead")
    assert _error(["--model", "resnet20_cifar_b", "--weights", "cifar10", "--data",
                   str(flat)], capsys) == (
        "evaluate.py: error: resnet20_cifar_b's cifar10 set has 10 classes; --data "
        "validates ImageNet-1k (1,000-class) weight sets")
    assert _error(["--model", "squeezenet1_1", "--model-path", "x.keras", "--data",
                   str(flat)], capsys) == (
        "evaluate.py: error: --model (pretrained weights) and --model-path/--dataset (a "
        "trained run) are two modes; give one")
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    assert _error(base + [str(flat), "--ground-truth", str(truth), "--results-csv",
                          str(other)], capsys).startswith(
        f"evaluate.py: error: --results-csv {other} has other columns (a, b); a results "
        "file has date, model, weights, images,")


def test_predict_names_imagenet_classes(photos, checkpoint, tmp_path, capsys):
    import kerascnn
    from kerascnn.preprocessing import imagenet_classes

    bad = truncated_copy(photos["jpeg"], tmp_path / "cut.jpg")
    files = [photos["jpeg"], photos["palette_png"], bad]
    code = load_script("predict").main(["--model", "squeezenet1_1", "--weights",
                                        str(checkpoint), "--top-k", "2"]
                                       + [str(f) for f in files])
    out, err = capsys.readouterr()
    assert code == 1 and err.count("\n") == 1 and f"cannot read {bad}" in err
    lines = out.strip().splitlines()
    assert len(lines) == 2
    model = kerascnn.create_model("squeezenet1_1", weights=str(checkpoint))
    x = kerascnn.applications.preprocess_input(kerascnn.load_images(files[:2], "squeezenet1_1"),
                                               model="squeezenet1_1")
    decoded = kerascnn.applications.decode_predictions(np.asarray(model.predict_on_batch(x)), 2)
    for line, path, best in zip(lines, files, decoded):
        wnid, name, p = best[0]
        assert line.startswith(f"{path}: {wnid} {name} {p:.4f}, ")
        assert (wnid, name) in imagenet_classes()


def test_weight_table_shows_measured_next_to_published(tmp_path):
    """A row evaluate.py appended to the results CSV shows in the generated weight table."""
    from kerascnn.data.imagenet import append_result
    from kerascnn.utils import table

    results = tmp_path / "pretrained_results.csv"
    row = {"date": "2026-12-07", "model": "resnet18", "weights": "imagenet", "images": 50000,
           "unreadable": 0, "top1": "69.760", "top1_low": "69.356", "top1_high": "70.161",
           "top5": "89.080", "top5_low": "88.804", "top5_high": "89.350",
           "published_top1": "69.758", "published_top5": "89.078", "top1_difference": "0.002",
           "top5_difference": "0.002", "transform": "...", "backend": "jax",
           "layout": "wnid folders"}
    append_result(results, row)
    append_result(results, {**row, "model": "resnet34", "weights": "resnet34.pth"})
    rows = {(r["model"], r["tag"]): r for r in table.weights_table(results=str(results))}
    assert (rows["resnet18", "imagenet"]["measured_top1"],
            rows["resnet18", "imagenet"]["measured_images"]) == (69.76, 50000)
    assert rows["resnet34", "imagenet"]["measured_top1"] is None  # a file's row, not a tag's
    markdown = table.weights_table_markdown(list(rows.values()))
    assert ("| `resnet18` | `imagenet` | [`torchvision:resnet18`](https://huggingface.co/timm/"
            "resnet18.tv_in1k/resolve/main/model.safetensors) | 256 → 224x224 bilinear | "
            "69.76 / 89.08 | 69.76 / 89.08 (+0.00) | 11.7M | BSD-3-Clause |") in markdown
    assert "| 224x224 nearest, BGR | 74.90 / 92.10 |  | 25.6M |" in markdown  # keras' resnet50
