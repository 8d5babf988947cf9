"""The site's model guide (docs/guides/choosing.md, "Which model for a small data set") against
docs/learning_results.csv: every figure it quotes and every claim it makes, so that a new or
remeasured row cannot leave the guide stale."""

import csv

import pytest

from .conftest import ROOT

START, END = "<!-- guide:start -->", "<!-- guide:end -->"


def _csv_rows():
    with open(ROOT / "docs" / "learning_results.csv", newline="", encoding="utf-8") as f:
        return {r["row"]: r for r in csv.DictReader(f)}


def _guide():
    """{model: the guide's row as a dict of its columns}, in the guide's order, and the text
    after the table."""
    text = (ROOT / "docs" / "guides" / "choosing.md").read_text(encoding="utf-8")
    assert text.count(START) == 1 and text.count(END) == 1
    table, rest = text.split(START, 1)[1].split(END, 1)
    lines = [line for line in table.strip().splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header == ["Model", "Input", "Test acc.", "Time", "Load", "Row"]
    rows = {}
    for line in lines[2:]:
        cells = dict(zip(header, (c.strip() for c in line.strip("|").split("|"))))
        rows[cells["Model"].strip("`")] = cells
    return rows, rest.split("\n## ", 1)[0]


def _signs_rows(rows):
    """The CSV's finished SIGNS rows trained with fit.py's defaults alone."""
    return {r["model"]: r for r in rows.values()
            if r["data"] == "signs" and not r["flags"] and r["test_accuracy"]}


@pytest.fixture(scope="module")
def measured():
    return _csv_rows()


@pytest.fixture(scope="module")
def guide():
    return _guide()


def test_the_guide_quotes_its_csv_rows_exactly(measured, guide):
    rows, _ = guide
    for model, cells in rows.items():
        assert cells["Row"] in measured, f"the guide's row {cells['Row']!r} is not in the CSV"
        row = measured[cells["Row"]]
        assert (row["model"], row["data"], row["flags"]) == (model, "signs", ""), model
        assert cells["Input"] == f"{row['image_size']}px", model
        assert cells["Test acc."] == f"{float(row['test_accuracy']):.3f}", model
        assert cells["Time"] == f"{float(row['wall_seconds']) / 60:.1f} min", model
        assert cells["Load"] == row["load"], model


def test_the_guide_lists_every_signs_row_by_accuracy(measured, guide):
    rows, _ = guide
    signs = _signs_rows(measured)
    assert sorted(rows) == sorted(signs), (
        "docs/learning_results.csv's SIGNS rows differ from the guide (docs/guides/choosing.md): "
        f"missing {sorted(set(signs) - set(rows))}, extra {sorted(set(rows) - set(signs))}")
    accuracies = [float(signs[m]["test_accuracy"]) for m in rows]
    assert accuracies == sorted(accuracies, reverse=True)


def test_the_guides_claims_hold(measured, guide):
    rows, prose = guide
    signs = _signs_rows(measured)
    acc = {m: float(r["test_accuracy"]) for m, r in signs.items()}
    time = {m: float(r["wall_seconds"]) for m, r in signs.items()}
    size = {m: r["image_size"] for m, r in signs.items()}
    # "Start with `resnet18`: the most accurate. `googlenet` comes next, in less time."
    assert "Start with `resnet18`: the most accurate." in prose
    assert list(rows)[:2] == ["resnet18", "googlenet"] and acc["resnet18"] > acc["googlenet"]
    assert time["googlenet"] < time["resnet18"]
    # "`resnet50` and `resnet50_v2` took more than twice `resnet18`'s time for a lower accuracy"
    assert "`resnet50` and `resnet50_v2` took more than twice" in prose
    for big in ("resnet50", "resnet50_v2"):
        assert time[big] > 2 * time["resnet18"] and acc[big] < acc["resnet18"], big
    # "The CIFAR networks at 32px (`resnet20_cifar` is the quickest row) score below every
    # 64px network but `mobilenet`; `densenet_bc100_cifar` is the slowest and the least
    # accurate."
    assert "`resnet20_cifar` is the quickest row" in prose
    assert min(time, key=time.get) == "resnet20_cifar" and size["resnet20_cifar"] == "32"
    small = [m for m in signs if size[m] == "32"]
    large = [m for m in signs if size[m] == "64" and m != "mobilenet"]
    assert max(acc[m] for m in small) < min(acc[m] for m in large)
    assert "`densenet_bc100_cifar` is the slowest and the least accurate" in prose
    assert max(time, key=time.get) == min(acc, key=acc.get) == "densenet_bc100_cifar"
