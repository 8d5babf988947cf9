"""Every reference row builds through the registry with exactly its parameter count."""

import csv
import json

import keras
import numpy as np
import pytest

import kerascnn
from kerascnn.registry import derived_rows, reference_rows

from .conftest import own_models


def _rows():
    # The table shipped with the package; test_packaged_reference_table_matches_shared
    # checks it against ../shared/reference.
    return list(reference_rows().values())


def _trainable(model):
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


ROWS = _rows()
# Rows whose model takes tens of seconds to build on 2 CPU cores run with -m slow.
SLOW_ROWS = {"resnet1202_cifar"}
PARAMS = [pytest.param(r, id=r["model"],
                       marks=[pytest.mark.slow] if r["model"] in SLOW_ROWS else [])
          for r in ROWS]


@pytest.mark.parametrize("row", PARAMS)
def test_reference_row(row):
    name = row["model"]
    h, w, c = (int(v) for v in row["input"].split("x"))
    kwargs = json.loads(row["kwargs"]) if row["kwargs"] else {}
    model = kerascnn.create_model(name, input_shape=(h, w, c), classes=int(row["classes"]),
                                  **kwargs)
    assert _trainable(model) == int(row["trainable_params"])
    if row["keras_total_params"]:
        assert model.count_params() == int(row["keras_total_params"])
    keras.backend.clear_session()


# ------------------------------------------------------------------ derived rows
# Registered names the shared reference table lacks: kerascnn/derived_param_counts.csv,
# each count with the independent implementation or closed form it was checked against.
DERIVED = list(derived_rows().values())
SLOW_DERIVED = {"senet154", "wide_resnet101_2", "se_resnet152", "preact_resnet1001_cifar"}


@pytest.mark.parametrize("row", [
    pytest.param(r, id=r["model"], marks=[pytest.mark.slow] if r["model"] in SLOW_DERIVED else [])
    for r in DERIVED])
def test_derived_row(row):
    h, w, c = (int(v) for v in row["input"].split("x"))
    kwargs = json.loads(row["kwargs"]) if row["kwargs"] else {}
    model = kerascnn.create_model(row["model"], input_shape=(h, w, c),
                                  classes=int(row["classes"]), **kwargs)
    assert _trainable(model) == int(row["trainable_params"])
    keras.backend.clear_session()


def test_every_listed_name_has_one_reference():
    listed = set(own_models())
    reference, derived = set(reference_rows()), set(derived_rows())
    assert sorted(listed - reference - derived) == []
    assert sorted(reference & derived) == []
    assert sorted(derived - listed) == []
    assert all(row["source"] for row in DERIVED)
    info = kerascnn.model_info("vgg13_bn")
    assert info["reference_params"] == 133053736
    assert info["reference_source"].startswith("torchvision vgg13_bn")
    assert kerascnn.model_info("resnet50")["reference_source"] == "reference table"


# ---------------------------------------------------------------- closed forms
def cifar_resnet_params(n, *, preact, width=1, bottleneck=False, option="B", classes=10):
    """Trainable parameters of a CIFAR ResNet: 3x3 16-filter stem, three stages of n blocks
    of widths (16, 32, 64) * width (bottlenecks output 4x), no convolution biases, BN with
    gamma and beta, a projection (option B) or parameter-free shortcut (option A) where
    the shape changes, the pre-activation form's final BN, the classifier."""
    total = 27 * 16 + (0 if preact else 2 * 16)
    c = 16
    for base in (16, 32, 64):
        w = base * width
        out = 4 * w if bottleneck else w
        for _ in range(n):
            if bottleneck:
                total += c * w + 9 * w * w + w * out
                total += 2 * ((c + w + w) if preact else (w + w + out))
            else:
                total += 9 * c * w + 9 * w * w + 2 * ((c + w) if preact else (w + out))
            if c != out and option == "B":
                total += c * out + (0 if preact else 2 * out)
            c = out
    return total + (2 * c if preact else 0) + c * classes + classes


def densenet_cifar_params(depth, k, bc, classes=10):
    """Trainable parameters of the DenseNet paper's CIFAR networks (section 3, table 2)."""
    per_block = (depth - 4) // (6 if bc else 3)
    c = 2 * k if bc else 16
    total = 27 * c
    for block in range(3):
        for _ in range(per_block):
            if bc:  # BN-ReLU-Conv1x1(4k)-BN-ReLU-Conv3x3(k)
                total += 2 * c + 4 * k * c + 8 * k + 36 * k * k
            else:  # BN-ReLU-Conv3x3(k)
                total += 2 * c + 9 * c * k
            c += k
        if block < 2:  # BN-ReLU-Conv1x1(theta c)-AvgPool
            out = c // 2 if bc else c
            total += 2 * c + c * out
            c = out
    return total + 2 * c + c * classes + classes


def _count(name):
    row = reference_rows().get(name) or derived_rows()[name]
    return int(row["trainable_params"])


@pytest.mark.parametrize("name, args, paper_millions", [
    ("resnet20_cifar", dict(n=3, preact=False, option="A"), 0.27),
    ("resnet32_cifar", dict(n=5, preact=False, option="A"), 0.46),
    ("resnet44_cifar", dict(n=7, preact=False, option="A"), 0.66),
    ("resnet56_cifar", dict(n=9, preact=False, option="A"), 0.85),
    ("resnet110_cifar", dict(n=18, preact=False, option="A"), 1.7),
    ("resnet1202_cifar", dict(n=200, preact=False, option="A"), 19.4),
    ("resnet110_cifar_b", dict(n=18, preact=False), 1.7),
    ("preact_resnet110_cifar", dict(n=18, preact=True), 1.7),
    ("preact_resnet164_cifar", dict(n=18, preact=True, bottleneck=True), 1.7),
    ("preact_resnet1001_cifar", dict(n=111, preact=True, bottleneck=True), 10.2),
    ("wrn16_8_cifar", dict(n=2, preact=True, width=8), 11.0),
    ("wrn40_4_cifar", dict(n=6, preact=True, width=4), 8.9),
    ("wrn28_10_cifar", dict(n=4, preact=True, width=10), 36.5),
])
def test_cifar_resnet_counts_have_their_closed_form(name, args, paper_millions):
    assert _count(name) == cifar_resnet_params(**args)
    # The papers round to 0.1 M (0.01 M below 1 M); ResNet-1001's 10.33 M is printed 10.2 M.
    assert abs(_count(name) / 1e6 - paper_millions) < (0.006 if paper_millions < 1 else 0.15)


@pytest.mark.parametrize("name, depth, k, bc, paper_millions", [
    ("densenet40_cifar", 40, 12, False, 1.0),
    ("densenet100_cifar", 100, 12, False, 7.0),
    ("densenet100_k24_cifar", 100, 24, False, 27.2),
    ("densenet_bc100_cifar", 100, 12, True, 0.8),
    ("densenet_bc250_cifar", 250, 24, True, 15.3),
    ("densenet_bc190_cifar", 190, 40, True, 25.6),
])
def test_densenet_cifar_counts_have_their_closed_form(name, depth, k, bc, paper_millions):
    assert _count(name) == densenet_cifar_params(depth, k, bc)
    assert round(_count(name) / 1e6, 1) == paper_millions


@pytest.mark.parametrize("depth, k, paper_millions", [  # WRN paper, table 4
    (40, 1, 0.6), (40, 2, 2.2), (40, 4, 8.9), (40, 8, 35.7), (28, 10, 36.5), (28, 12, 52.5),
    (22, 8, 17.2), (22, 10, 26.8), (16, 8, 11.0), (16, 10, 17.1),
])
def test_wrn_table_widths(depth, k, paper_millions):
    assert round(cifar_resnet_params((depth - 4) // 6, preact=True, width=k) / 1e6, 1) == \
        paper_millions
    assert kerascnn.model_info(f"wrn{depth}_{k}_cifar")["kwargs"]["width"] == k


def test_closed_forms_match_small_builds():
    # The closed forms are checked against builds here, so the big rows above need none.
    for name, expected in (
        ("preact_resnet20_cifar", cifar_resnet_params(3, preact=True)),
        ("resnet20_cifar_b", cifar_resnet_params(3, preact=False)),
        ("wrn16_2_cifar", cifar_resnet_params(2, preact=True, width=2)),
        ("preact_resnet164_cifar", cifar_resnet_params(18, preact=True, bottleneck=True)),
    ):
        assert _trainable(kerascnn.create_model(name)) == expected, name
    assert _trainable(kerascnn.create_model("densenet_bc40_cifar", growth_rate=4)) == \
        densenet_cifar_params(40, 4, True)
    keras.backend.clear_session()


def test_packaged_reference_table_matches_shared(reference_csv):
    with open(reference_csv, newline="") as f:
        shared = {r["model"]: r for r in csv.DictReader(f)}
    assert reference_rows() == shared


def test_model_info_reports_reference_params():
    info = kerascnn.model_info("resnet50")
    assert info["reference_params"] == 25583592
    assert info["reference_keras_params"] == 25636712
