"""Every reference row builds through the registry with exactly its parameter count."""

import csv
import json

import keras
import numpy as np
import pytest

import kerascnn
from kerascnn.registry import reference_rows

from .conftest import REFERENCE_CSV


def _rows():
    if not REFERENCE_CSV.exists():
        return []
    with open(REFERENCE_CSV, newline="") as f:
        return list(csv.DictReader(f))


def _registered(name):
    try:
        kerascnn.registry.get_spec(name)
        return True
    except ValueError:
        return False


def _trainable(model):
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


ROWS = _rows()


@pytest.mark.parametrize("row", ROWS, ids=[r["model"] for r in ROWS])
def test_reference_row(row):
    name = row["model"]
    if not _registered(name):
        pytest.skip(f"{name} is not registered yet")
    h, w, c = (int(v) for v in row["input"].split("x"))
    kwargs = json.loads(row["kwargs"]) if row["kwargs"] else {}
    model = kerascnn.create_model(name, input_shape=(h, w, c), classes=int(row["classes"]),
                                  **kwargs)
    assert _trainable(model) == int(row["trainable_params"])
    if row["keras_total_params"]:
        assert model.count_params() == int(row["keras_total_params"])
    keras.backend.clear_session()


def test_packaged_reference_table_matches_shared(reference_csv):
    with open(reference_csv, newline="") as f:
        shared = {r["model"]: r for r in csv.DictReader(f)}
    assert reference_rows() == shared


def test_model_info_reports_reference_params():
    info = kerascnn.model_info("resnet50")
    assert info["reference_params"] == 25583592
    assert info["reference_keras_params"] == 25636712
