"""Every reference row builds through the registry with exactly its parameter count."""

import csv
import json

import keras
import numpy as np
import pytest

import kerascnn
from kerascnn.registry import reference_rows


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


def test_packaged_reference_table_matches_shared(reference_csv):
    with open(reference_csv, newline="") as f:
        shared = {r["model"]: r for r in csv.DictReader(f)}
    assert reference_rows() == shared


def test_model_info_reports_reference_params():
    info = kerascnn.model_info("resnet50")
    assert info["reference_params"] == 25583592
    assert info["reference_keras_params"] == 25636712
