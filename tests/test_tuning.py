"""kerascnn.tuning and scripts/tune.py on real data (a SIGNS slice at 32x32).

The searches train ``tiny_cnn`` (registered below, family ``tiny_test``): two
small convolutions, so that a trial takes seconds on a CPU. Subprocesses get it
with ``--import tests.test_tuning``.
"""

import csv
import json
import os
import socket
import subprocess
import sys
import time

import keras
import pytest

import kerascnn
from kerascnn import api, registry
from kerascnn.models.common import (
    build_input,
    check_arguments,
    classifier_head,
    finish_model,
)
from kerascnn.models.variants import register_model

from .conftest import ROOT


def TinyCNN(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None,
            classes=6, classifier_activation="softmax", name="tiny_cnn", filters=8):
    """Two 3x3 convolutions with BN, for fast tuning tests (not a paper model)."""
    check_arguments(weights, include_top, classes, pooling, classifier_activation)
    img_input = build_input(input_tensor, input_shape, default_shape=(32, 32, 3), min_size=8,
                            include_top=include_top, weights=weights)
    x = keras.layers.Conv2D(filters, 3, strides=2, padding="same", use_bias=False,
                            name="conv1")(img_input)
    x = keras.layers.BatchNormalization(name="conv1_bn")(x)
    x = keras.layers.Activation("relu", name="conv1_relu")(x)
    x = keras.layers.Conv2D(2 * filters, 3, strides=2, padding="same", name="conv2")(x)
    x = keras.layers.Activation("relu", name="conv2_relu")(x)
    x = classifier_head(x, include_top, pooling, classes, classifier_activation)
    return finish_model(img_input, input_tensor, x, name, weights)


if "tiny_cnn" not in registry._MODELS:
    register_model("tiny_cnn", TinyCNN, family="tiny_test",
                            paper=("test model", 2024), default_input_shape=(32, 32, 3),
                            min_input_size=8)
    register_model("tiny_cnn_wide", TinyCNN, family="tiny_test",
                            paper=("test model", 2024), default_input_shape=(32, 32, 3),
                            min_input_size=8, filters=16)
    register_model("tiny_broken", lambda classes=6, **kw: TinyCNN(classes=2, **kw),
                            family="tiny_broken", paper=("test model", 2024),
                            default_input_shape=(32, 32, 3), min_input_size=8)

from kerascnn.tuning import SearchSpaceError, hypermodel_for, load_search_space  # noqa: E402
from kerascnn.tuning.cli import main  # noqa: E402
from kerascnn.tuning.search import ranked_table  # noqa: E402

FAST_SPACE = {"batch_size": [64], "augment": ["none", "standard"]}


def _argv(signs_dir, directory, *extra, family="tiny_test", trials=3):
    return ["--model-family", family, "--dataset", "signs", "--data-dir", str(signs_dir),
            "--image-size", "32", "--max-trials", str(trials), "--epochs", "1",
            "--directory", str(directory), "--train-subset", "128", "--val-subset", "64",
            "--verbose", "0", *extra]


def _space_file(tmp_path, space=FAST_SPACE, name="space.json"):
    path = tmp_path / name
    path.write_text(json.dumps(space))
    return str(path)


def _trials(project):
    with open(project / "trials.csv") as f:
        return list(csv.DictReader(f))


def _hp_key(row):
    return tuple(sorted((k, v) for k, v in row.items()
                        if k not in ("rank", "trial_id", "status", "val_accuracy", "params",
                                     "seconds", "error")))


def test_random_search_writes_resumes_and_overwrites(signs_dir, tmp_path, capsys):
    space = _space_file(tmp_path)
    argv = _argv(signs_dir, tmp_path / "tuning", "--search-space", space, trials=2)
    project = tmp_path / "tuning" / "tiny_test"
    assert main(argv) == 0
    rows = _trials(project)
    assert [r["status"] for r in rows] == ["COMPLETED"] * 2
    # A resumed search with a larger budget keeps its finished trials and adds one.
    argv3 = _argv(signs_dir, tmp_path / "tuning", "--search-space", space, trials=3)
    assert main(argv3) == 0
    rows = _trials(project)
    assert sorted(r["trial_id"] for r in rows) == ["0", "1", "2"]
    assert len({_hp_key(r) for r in rows}) == 3  # no duplicate trial
    scores = [float(r["val_accuracy"]) for r in rows]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    assert all(int(r["params"]) in (1518, 5334) for r in rows)  # tiny_cnn, tiny_cnn_wide
    best = json.loads((project / "best_hyperparameters.json").read_text())
    assert best["trial_id"] == rows[0]["trial_id"] and best["score"] == pytest.approx(scores[0])
    assert best["model"] == best["hyperparameters"]["model"]
    assert best["hyperparameters"]["batch_size"] == 64 and best["trials"] == 3
    model = keras.models.load_model(project / "best_model.keras")
    assert model.output.shape == (None, 6) and model.count_params() == int(rows[0]["params"])
    # The same command again: nothing new is trained.
    before = sorted(p.name for p in project.glob("trial_*"))
    capsys.readouterr()
    assert main(argv3 + ["--verbose", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    header = next(line for line in out if line.startswith("rank"))
    assert header.split()[:6] == ["rank", "trial", "status", "val_accuracy", "params", "seconds"]
    assert out[-1].startswith("best trial ") and "test_accuracy=" in out[-1]
    assert sorted(p.name for p in project.glob("trial_*")) == before and len(_trials(project)) == 3
    assert not [p for p in os.listdir(project) if ".tmp" in p]
    # --overwrite starts over.
    assert main(_argv(signs_dir, tmp_path / "tuning", "--search-space", space, "--overwrite",
                      trials=1)) == 0
    assert [r["trial_id"] for r in _trials(project)] == ["0"]
    assert sorted(p.name for p in project.glob("trial_*")) == ["trial_0"]


def test_retrain_on_train_and_val(signs_dir, tmp_path):
    space = _space_file(tmp_path, {**FAST_SPACE, "model": "tiny_cnn", "augment": "none"})
    argv = _argv(signs_dir, tmp_path / "t", "--search-space", space, "--retrain",
                 trials=1)
    assert main(argv) == 0
    best = json.loads((tmp_path / "t" / "tiny_test" / "best_hyperparameters.json").read_text())
    assert best["retrained"] is True and best["params"] == 1518
    assert 0 <= best["test_accuracy"] <= 1


def test_all_trials_failing_is_an_error(signs_dir, tmp_path, capsys):
    argv = _argv(signs_dir, tmp_path / "t", "--search-space",
                 _space_file(tmp_path, {**FAST_SPACE, "label_smoothing": 0.0}),
                 family="tiny_broken", trials=2)
    assert main(argv) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]  # after keras-tuner's tracebacks
    assert last.startswith("tune.py: all 2 trials failed; the last error: ")
    assert "Received a label value of 5 which is outside the valid range of [0, 2)" in last
    assert not (tmp_path / "t" / "tiny_broken" / "best_model.keras").exists()


@pytest.mark.parametrize("extra, space, message", [
    (["--model-family", "nope"], None, "Unknown model family 'nope'; allowed: "),
    (["--max-trials", "0"], None, "--max-trials must be a positive integer; got 0."),
    ([], {"learning_rate": {"min": 0.1, "max": 0.001}},
     "learning_rate: inverted range, min 0.1 > max 0.001."),
    ([], {"batch_size": []}, "batch_size: 'values' must be a non-empty list; got []."),
    ([], {"learning_rate": {"min": 0.01, "max": 0.01}}, "learning_rate: empty range"),
    ([], {"depth": [40]}, "Unknown hyperparameter 'depth' for family 'tiny_test'; allowed: "),
    ([], {"optimizer": ["lbfgs"]}, "optimizer: 'lbfgs' is not allowed; must be one of sgd"),
    (["--chief", "127.0.0.1:99999"], None, "--chief must be HOST:PORT with a port in 1..65535"),
    (["--trial-lease", "0"], None, "tune.py: error: --trial-lease must be positive; got 0.0."),
    (["--connect-timeout", "nan"], None,
     "tune.py: error: --connect-timeout must be positive; got nan."),
])
def test_bad_input_one_line_exit_2_nothing_written(signs_dir, tmp_path, capsys, extra, space,
                                                   message):
    argv = _argv(signs_dir, tmp_path / "t")
    if space is not None:
        argv += ["--search-space", _space_file(tmp_path, space)]
    with pytest.raises(SystemExit) as info:
        sys.exit(main(argv + extra))
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "t").exists()


def test_directory_holding_a_different_search_is_refused(signs_dir, tmp_path, capsys):
    project = tmp_path / "t" / "tiny_test"
    project.mkdir(parents=True)
    (project / "search.json").write_text(json.dumps({"family": "tiny_test", "tuner": "random"}))
    before = sorted(os.listdir(project))
    assert main(_argv(signs_dir, tmp_path / "t")) == 2
    err = capsys.readouterr().err.strip()
    assert "holds a different search (differs in: " in err and "--overwrite" in err
    assert len(err.splitlines()) == 1 and sorted(os.listdir(project)) == before


def test_search_space_files_yaml_and_json(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text("optimizer: [sgd, adam]\nlearning_rate: {min: 0.001, max: 0.1, "
                    "sampling: log}\naugment: none\n")
    space = load_search_space(path)
    hm = hypermodel_for("tiny_test", search_space=space, classes=6)
    assert hm.space["optimizer"] == {"values": ["sgd", "adam"]}
    assert hm.space["augment"] == {"fixed": "none"}
    assert hm.space["learning_rate"]["sampling"] == "log"
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    with pytest.raises(SearchSpaceError, match=r"^--search-space .*bad.json is not valid JSON"):
        load_search_space(bad)


def _random_sample(hm, seed):
    import keras_tuner as kt

    hp = kt.HyperParameters()
    hm.build(hp)  # declares the space (default values)
    sample = kt.HyperParameters()
    for i, p in enumerate(hp.space):
        sample.merge([p])
        sample.values[p.name] = p.random_sample(seed + i)
    return hp, sample


FAMILY_CASES = [
    ("resnet", {"model": "resnet50"}),
    ("resnet_cifar", {"n": {"min": 1, "max": 2}, "width": [1, 2]}),
    ("densenet", {"depth": [22, 40], "growth_rate": [12, 16]}),
    ("squeezenet", None),
    ("vgg", {"config": ["A", "B"]}),
    ("inception", None),
    ("tiny_test", None),
]


@pytest.mark.parametrize("family, space", FAMILY_CASES, ids=[c[0] for c in FAMILY_CASES])
def test_each_hypermodel_builds_default_and_random_sample(family, space):
    assert family in kerascnn.tuning.families()
    hm = hypermodel_for(family, classes=6, native_size=32, search_space=space)
    default, sample = _random_sample(hm, seed=3)
    for hp in (default, sample):
        model = hm.build(hp)
        assert model.output.shape == (None, 6)
        name, kwargs, _ = hm.architecture(hp)
        assert api.model_info(name)["family"] == family
        size = max(32, api.model_info(name)["min_input_size"])
        assert tuple(model.input.shape[1:3]) == (size, size)
        assert model.optimizer is not None and model.compiled
        keras.backend.clear_session()
    if family == "resnet":  # the registry's model, untouched
        expected = kerascnn.create_model("resnet50", input_shape=(32, 32, 3), classes=6)
        assert model.count_params() == expected.count_params() == 23_600_006


def test_hypermodel_for_a_model_name_and_unknown_names():
    assert hypermodel_for("tiny_cnn").family == "tiny_test"
    with pytest.raises(SearchSpaceError, match=r"^Unknown model family 'resnet5'; allowed: "):
        hypermodel_for("resnet5")


def test_ranked_table_formats_rows():
    rows = [{"trial_id": "1", "status": "COMPLETED", "score": 0.5, "params": 1234.0,
             "seconds": 2.25, "hyperparameters": {"optimizer": "sgd"}, "error": ""},
            {"trial_id": "0", "status": "FAILED", "score": None, "params": None,
             "seconds": None, "hyperparameters": {"optimizer": "adam"}, "error": "boom"}]
    lines = ranked_table(rows).splitlines()
    assert lines[0].split() == ["rank", "trial", "status", "val_accuracy", "params", "seconds",
                                "optimizer"]
    assert lines[1].split() == ["1", "1", "COMPLETED", "0.5000", "1,234", "2.2", "sgd"]
    assert lines[2].split() == ["2", "0", "FAILED", "adam"]


def test_bayesian_without_scikit_learn_is_refused(signs_dir, tmp_path, capsys, monkeypatch):
    # scikit-learn is a dependency; a user's environment may still lack it.
    monkeypatch.setitem(sys.modules, "sklearn", None)  # makes `import sklearn` fail
    assert main(_argv(signs_dir, tmp_path / "t", "--tuner", "bayesian")) == 2
    assert capsys.readouterr().err.strip() == (
        "tune.py: error: --tuner bayesian needs scikit-learn, which is not installed; use "
        "random or hyperband.")
    assert not (tmp_path / "t").exists()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_hung_oracle_times_out_with_a_clear_error(signs_dir, tmp_path, capsys):
    # A listener that accepts connections and never answers: a hung chief.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        start = time.perf_counter()
        try:
            code = main(_argv(signs_dir, tmp_path / "t", "--worker", "1", "--chief",
                              f"127.0.0.1:{port}", "--oracle-timeout", "2"))
        finally:
            for name in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
                os.environ.pop(name, None)
        elapsed = time.perf_counter() - start
    assert code == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"tune.py: the oracle at 127.0.0.1:{port} did not answer within 2 s; start the chief "
        "first (tune.py --chief HOST:PORT) or raise --oracle-timeout.")
    assert elapsed < 60


@pytest.mark.slow
def test_chief_and_two_workers_share_the_trials(signs_dir, tmp_path):
    port = _free_port()
    directory = tmp_path / "tuning"
    space = _space_file(tmp_path)
    common = _argv(signs_dir, directory, "--search-space", space, "--import", "tests.test_tuning",
                   trials=4)
    script = [sys.executable, str(ROOT / "scripts" / "tune.py")]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT),
           "CUDA_VISIBLE_DEVICES": ""}
    env.pop("KERASTUNER_TUNER_ID", None)
    logs = {name: open(tmp_path / f"{name}.log", "w") for name in ("chief", "w1", "w2")}
    chief = subprocess.Popen(script + common + ["--chief", f"127.0.0.1:{port}", "--verbose", "1"],
                             cwd=ROOT, env=env, stdout=logs["chief"], stderr=subprocess.STDOUT)
    workers = [subprocess.Popen(script + common + ["--worker", str(i), "--chief",
                                                   f"127.0.0.1:{port}", "--oracle-timeout", "120",
                                                   "--connect-timeout", "120"],
                                cwd=ROOT, env=env, stdout=logs[f"w{i}"],
                                stderr=subprocess.STDOUT) for i in (1, 2)]
    try:
        codes = [p.wait(timeout=500) for p in workers + [chief]]
    finally:
        for p in workers + [chief]:
            if p.poll() is None:
                p.kill()
        for f in logs.values():
            f.close()
    output = {name: (tmp_path / f"{name}.log").read_text() for name in logs}
    assert codes == [0, 0, 0], {k: v[-3000:] for k, v in output.items()}
    project = directory / "tiny_test"
    rows = _trials(project)
    assert sorted(r["trial_id"] for r in rows) == ["0", "1", "2", "3"]
    assert [r["status"] for r in rows] == ["COMPLETED"] * 4
    assert len({_hp_key(r) for r in rows}) == 4  # no trial run twice
    # Each trial ran exactly once.
    runners = {}
    for trial_dir in sorted(project.glob("trial_*")):
        trial = json.loads((trial_dir / "trial.json").read_text())
        assert trial["status"] == "COMPLETED"
        runners[trial["trial_id"]] = trial
    assert len(runners) == 4
    oracle = json.loads((project / "oracle.json").read_text())
    assert sorted(oracle["end_order"]) == ["0", "1", "2", "3"]
    assert len(oracle["end_order"]) == 4 and oracle["ongoing_trials"] == {}
    assert oracle["run_times"] == {"0": 1, "1": 1, "2": 1, "3": 1}
    assert (project / "best_model.keras").exists()
    assert "oracle serving on 127.0.0.1:" in output["chief"]
    assert "rank" in output["chief"]


# --- The chief behind its guard (kerascnn.tuning.distributed.GuardedServicer) ---------------


def _small_oracle(directory, trials=2):
    import keras_tuner as kt

    oracle = kt.oracles.RandomSearchOracle(objective=kt.Objective("val_accuracy", "max"),
                                           max_trials=trials, seed=1)
    oracle._set_project_dir(str(directory), "p")
    hp = kt.HyperParameters()
    hp.Choice("units", [8, 16, 32])
    oracle.update_space(hp)
    return oracle


def _status(trial_proto):
    from keras_tuner.src.engine import trial as trial_module

    return trial_module.Trial.from_proto(trial_proto).status


class _RawClient:
    """keras-tuner's own gRPC stub, with whatever metadata a test gives it."""

    def __init__(self, port, token=None):
        import grpc
        from keras_tuner.src import protos

        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.stub = protos.get_service_grpc().OracleStub(self.channel)
        self.service = protos.get_service()
        self.token = token
        self.leases = {}

    def call(self, method, lease=None, **fields):
        from kerascnn.tuning.distributed import LEASE_KEY, TOKEN_KEY

        metadata = [(TOKEN_KEY, self.token)] if self.token is not None else []
        if lease is not None:
            metadata.append((LEASE_KEY, lease))
        request = getattr(self.service, f"{method}Request")(**fields)
        response, call = getattr(self.stub, method).with_call(
            request, metadata=metadata, timeout=60, wait_for_ready=True)
        trailing = dict(call.trailing_metadata() or ())
        if LEASE_KEY in trailing:
            self.leases[response.trial.trial_id] = trailing[LEASE_KEY]
        return response

    def refused(self, method, **fields):
        import grpc

        with pytest.raises(grpc.RpcError) as info:
            self.call(method, **fields)
        return info.value.code().name, info.value.details()

    def create(self, tuner_id):
        trial = self.call("CreateTrial", tuner_id=tuner_id).trial
        return trial.trial_id, self.leases.get(trial.trial_id)

    def end(self, trial_id, lease, status="COMPLETED", **values):
        from keras_tuner.src.engine import trial as trial_module

        trial = trial_module.Trial.from_proto(self.call("GetTrial", trial_id=trial_id).trial)
        trial.status = status
        trial.hyperparameters.values.update(values)
        return self.call("EndTrial", lease=lease, trial=trial.to_proto())

    def close(self):
        self.channel.close()


class _ChiefThread:
    """serve_oracle in a thread of this process, on a free loopback port."""

    def __init__(self, oracle, monkeypatch, token=None):
        from types import SimpleNamespace

        from kerascnn.tuning import distributed

        self.port = _free_port()
        monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
        monkeypatch.setenv("KERASTUNER_ORACLE_PORT", str(self.port))
        monkeypatch.delenv(distributed.TOKEN_ENV, raising=False)
        self.error = None

        def serve():
            try:
                distributed.serve_oracle(oracle, SimpleNamespace(auth_token=token), verbose=0,
                                         poll_seconds=0.05)
            except BaseException as e:  # reported by the test
                self.error = e

        import threading

        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()

    def exited(self, timeout=60):
        self.thread.join(timeout)
        assert self.error is None, self.error
        return not self.thread.is_alive()


def test_chief_survives_a_bad_update_trial_and_exits(tmp_path, monkeypatch, capsys):
    oracle = _small_oracle(tmp_path)
    chief = _ChiefThread(oracle, monkeypatch)
    client = _RawClient(chief.port)
    try:
        # The case: an unknown trial id.
        assert client.refused("UpdateTrial", trial_id="nope",
                              metrics={"val_accuracy": 0.999}) == (
            "NOT_FOUND", "no trial 'nope' in this search")
        trial_id, lease = client.create("worker-1")
        assert trial_id == "0" and lease
        # A call that raises inside keras-tuner's @synchronized update_trial (no objective):
        # that client gets the error, the oracle's lock is released.
        code, details = client.refused("UpdateTrial", lease=lease, trial_id="0",
                                       metrics={"loss": 1.0})
        assert code == "INVALID_ARGUMENT" and details.startswith("UpdateTrial failed: ")
        for trial_id, score in (("0", 0.5), ("1", 0.7)):
            if trial_id == "1":
                assert client.create("worker-1")[0] == "1"
            lease = client.leases[trial_id]
            client.call("UpdateTrial", lease=lease, trial_id=trial_id,
                        metrics={"val_accuracy": score})
            client.end(trial_id, lease)
        assert _status(client.call("CreateTrial", tuner_id="worker-1").trial) == "STOPPED"
    finally:
        client.close()
    assert chief.exited(timeout=60), "the chief did not exit after the last trial"
    assert {t: oracle.trials[t].score for t in oracle.trials} == {"0": 0.5, "1": 0.7}
    err = capsys.readouterr().err
    assert "refused UpdateTrial from " in err and "no trial 'nope'" in err


def test_chief_token_and_leases_refuse_forged_reports(tmp_path, monkeypatch, capsys):
    token = "s3cret-Token_42"
    oracle = _small_oracle(tmp_path)
    chief = _ChiefThread(oracle, monkeypatch, token=token)
    a, b = _RawClient(chief.port, token), _RawClient(chief.port, token)
    anonymous, wrong = _RawClient(chief.port), _RawClient(chief.port, token + "x")
    try:
        assert anonymous.refused("GetSpace")[0] == "UNAUTHENTICATED"
        assert wrong.refused("CreateTrial", tuner_id="thief") == (
            "UNAUTHENTICATED", "wrong token")
        assert a.create("worker-a")[0] == "0" and b.create("worker-b")[0] == "1"
        # b reports a's trial: without a lease, with its own lease, and an EndTrial.
        forged = {"trial_id": "0", "metrics": {"val_accuracy": 0.999}}
        assert b.refused("UpdateTrial", **forged) == (
            "PERMISSION_DENIED", "trial '0' was not handed to this client")
        assert b.refused("UpdateTrial", lease=b.leases["1"], **forged)[0] == "PERMISSION_DENIED"
        # a's own lease, without the token.
        assert anonymous.refused("UpdateTrial", lease=a.leases["0"], **forged)[0] == (
            "UNAUTHENTICATED")
        import grpc

        with pytest.raises(grpc.RpcError) as info:
            b.end("0", b.leases["1"])
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
        # a itself may not change the hyperparameters it was given.
        a.call("UpdateTrial", lease=a.leases["0"], trial_id="0", metrics={"val_accuracy": 0.5})
        given = oracle.trials["0"].hyperparameters.values["units"]
        with pytest.raises(grpc.RpcError) as info:
            a.end("0", a.leases["0"], units=64 if given != 64 else 8)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "other values of units" in info.value.details()
        a.end("0", a.leases["0"])
        # A finished trial takes no more reports, even with its lease.
        assert a.refused("UpdateTrial", lease=a.leases["0"], **forged)[0] == "PERMISSION_DENIED"
        b.call("UpdateTrial", lease=b.leases["1"], trial_id="1", metrics={"val_accuracy": 0.6})
        b.end("1", b.leases["1"])
        for client, tuner_id in ((a, "worker-a"), (b, "worker-b")):
            assert _status(client.call("CreateTrial", tuner_id=tuner_id).trial) == "STOPPED"
    finally:
        for client in (a, b, anonymous, wrong):
            client.close()
    assert chief.exited(timeout=60), "the chief did not exit after the last trial"
    assert [(t.trial_id, t.score) for t in oracle.get_best_trials(2)] == [("1", 0.6), ("0", 0.5)]
    err = capsys.readouterr().err
    assert err.count("tune.py: chief: refused ") == 8 and token not in err


def _pop_tuner_env():
    for name in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
        os.environ.pop(name, None)


def test_chief_with_a_token_and_tune_py_workers(signs_dir, tmp_path, monkeypatch, capsys):
    token = "e2e-token-123"
    port = _free_port()
    directory = tmp_path / "tuning"
    common = _argv(signs_dir, directory, "--search-space", _space_file(tmp_path),
                   "--import", "tests.test_tuning", trials=2)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT),
           "CUDA_VISIBLE_DEVICES": "", "KERASCNN_TUNER_TOKEN": token}
    env.pop("KERASTUNER_TUNER_ID", None)
    monkeypatch.delenv("KERASCNN_TUNER_TOKEN", raising=False)
    log = open(tmp_path / "chief.log", "w")
    chief = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "tune.py"), *common,
                              "--chief", f"127.0.0.1:{port}", "--verbose", "1"],
                             cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        forger = _RawClient(port)
        assert forger.refused("CreateTrial", tuner_id="worker-x")[0] == "UNAUTHENTICATED"
        forger.close()
        insider = _RawClient(port, token)
        assert insider.refused("UpdateTrial", trial_id="nope",
                               metrics={"val_accuracy": 0.999})[0] == "NOT_FOUND"
        insider.close()
        worker = [*common, "--worker", "1", "--chief", f"127.0.0.1:{port}",
                  "--oracle-timeout", "120"]
        try:
            assert main(worker + ["--auth-token", "not-the-token"]) == 1
            assert capsys.readouterr().err.strip().splitlines()[-1] == (
                f"tune.py: the oracle at 127.0.0.1:{port} refused the call (UNAUTHENTICATED: "
                "wrong token); give every worker the chief's token (--auth-token or "
                "KERASCNN_TUNER_TOKEN).")
            assert main(worker + ["--auth-token", token]) == 0
        finally:
            _pop_tuner_env()
        code = chief.wait(timeout=120)
    finally:
        if chief.poll() is None:
            chief.kill()
        log.close()
    output = (tmp_path / "chief.log").read_text()
    assert code == 0, output[-3000:]
    assert "(token required)" in output and output.count("tune.py: chief: refused ") == 3
    project = directory / "tiny_test"
    assert [r["status"] for r in _trials(project)] == ["COMPLETED"] * 2
    assert token not in (project / "search.json").read_text()
    assert (project / ".kerascnn-search").is_file()


@pytest.mark.parametrize("name", ["ABSOLUTE", "..", ".", "a/b", "../escape", ""])
def test_project_name_is_one_directory_name(signs_dir, tmp_path, capsys, name):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    if name == "ABSOLUTE":
        name = str(victim)
    argv = _argv(signs_dir, tmp_path / "t", "--project-name", name, "--overwrite")
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("tune.py: error: --project-name must be a single directory name (no path "
                   f"separator, not '.' or '..'); got {name!r}.")
    assert (victim / "precious.txt").read_text() == "keep me"
    assert not (tmp_path / "t").exists()


def test_overwrite_deletes_only_a_marked_search(signs_dir, tmp_path, capsys):
    from kerascnn.tuning.cli import parse_config
    from kerascnn.tuning.search import SearchError, validate

    project = tmp_path / "t" / "tiny_test"
    project.mkdir(parents=True)
    (project / "precious.txt").write_text("keep me")
    argv = _argv(signs_dir, tmp_path / "t", "--overwrite")
    assert main(argv) == 2
    assert capsys.readouterr().err.strip() == (
        f"tune.py: error: --overwrite: {project} is not a tune.py search (no .kerascnn-search "
        "or search.json); refusing to delete it.")
    assert sorted(os.listdir(project)) == ["precious.txt"]
    # A search.json that is not a search's is no proof either.
    (project / "search.json").write_text(json.dumps({"name": "my notes"}))
    with pytest.raises(SearchError, match="is not a tune.py search"):
        validate(parse_config(argv))
    # The search.json of an older tune.py (before the marker) or the marker itself is.
    (project / "search.json").write_text(json.dumps(
        {"family": "tiny_test", "tuner": "random", "search_space": {}}))
    validate(parse_config(argv))
    (project / "search.json").unlink()
    (project / ".kerascnn-search").write_text("")
    validate(parse_config(argv))
    # A symbolic link is never deleted.
    link = tmp_path / "t" / "linked"
    link.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(SearchError, match=r"--overwrite: .*linked is a symbolic link"):
        validate(parse_config(argv + ["--project-name", "linked"]))
    assert sorted(os.listdir(project)) == [".kerascnn-search", "precious.txt"]


def test_auth_token_checks(signs_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("KERASCNN_TUNER_TOKEN", raising=False)
    assert main(_argv(signs_dir, tmp_path / "t", "--auth-token", "abc")) == 2
    assert capsys.readouterr().err.strip() == (
        "tune.py: error: --auth-token needs --chief HOST:PORT (it guards the oracle).")
    monkeypatch.setenv("KERASCNN_TUNER_TOKEN", "")
    assert main(_argv(signs_dir, tmp_path / "t", "--chief", "127.0.0.1:1")) == 2
    assert capsys.readouterr().err.strip() == (
        "tune.py: error: KERASCNN_TUNER_TOKEN must be a non-empty token of printable ASCII "
        "characters without spaces.")
    assert main(_argv(signs_dir, tmp_path / "t", "--chief", "127.0.0.1:1",
                      "--auth-token", "two words")) == 2
    assert "--auth-token must be a non-empty token" in capsys.readouterr().err
    assert not (tmp_path / "t").exists()


# --- Leases: a worker that dies does not hang the search --------------------------------------


class _Aborted(Exception):
    pass


class _Context:
    """The parts of a gRPC ServicerContext that GuardedServicer uses."""

    def __init__(self, lease=None):
        from kerascnn.tuning.distributed import LEASE_KEY

        self.metadata = [(LEASE_KEY, lease)] if lease is not None else []
        self.trailing = {}

    def invocation_metadata(self):
        return self.metadata

    def set_trailing_metadata(self, metadata):
        self.trailing = dict(metadata)

    def peer(self):
        return "ipv4:127.0.0.1:1"

    def abort(self, code, message):
        raise _Aborted(code.name, message)


def test_a_silent_worker_s_trial_is_handed_out_again_then_failed(tmp_path):
    import io

    from keras_tuner.src import protos
    from keras_tuner.src.distribute.oracle_chief import exit_chief

    from kerascnn.tuning.distributed import LEASE_KEY, LEASE_SECONDS_KEY, GuardedServicer

    oracle = _small_oracle(tmp_path, trials=2)
    now = [0.0]
    log = io.StringIO()
    servicer = GuardedServicer(oracle, log=log, lease_seconds=10, clock=lambda: now[0])
    service = protos.get_service()

    def call(method, lease=None, **fields):
        context = _Context(lease)
        response = getattr(servicer, method)(getattr(service, f"{method}Request")(**fields),
                                             context)
        return response, context.trailing

    def create(tuner_id):
        response, trailing = call("CreateTrial", tuner_id=tuner_id)
        assert trailing[LEASE_SECONDS_KEY] == "10"
        return response.trial.trial_id, _status(response.trial), trailing.get(LEASE_KEY)

    def lapse_lines():
        return [line for line in log.getvalue().splitlines() if "lease lapsed" in line]

    w1, w2 = create("worker-1"), create("worker-2")
    assert (w1[:2], w2[:2]) == (("0", "RUNNING"), ("1", "RUNNING")) and w1[2] and w2[2]
    # No trial left, but both running ones may come back: the others wait (IDLE).
    assert create("worker-3")[1:] == ("IDLE", None)
    assert create("worker-4")[1] == "IDLE"
    now[0] = 6
    call("GetTrial", lease=w2[2], trial_id="1")  # worker-2's heartbeat
    assert create("worker-3")[1] == "IDLE"
    now[0] = 12  # worker-1 and worker-4 said nothing for 12 s: worker-3 gets trial 0.
    w3 = create("worker-3")
    assert w3[:2] == ("0", "RUNNING")
    assert lapse_lines() == [
        "tune.py: chief: worker-1 sent nothing for 10 s (lease lapsed); its trial 0 is handed "
        "out again (run 2 of at most 2).",
        "tune.py: chief: worker-4 sent nothing for 10 s (lease lapsed; it held no trial); "
        "forgotten."]
    assert {t: trial.trial_id for t, trial in oracle.ongoing_trials.items()} == {
        "worker-2": "1", "worker-3": "0"}
    assert oracle.tuner_ids == {"worker-2", "worker-3"}
    # worker-1 was only slow: its report is refused.
    with pytest.raises(_Aborted) as info:
        call("UpdateTrial", lease=w1[2], trial_id="0", metrics={"val_accuracy": 0.9})
    assert info.value.args == ("PERMISSION_DENIED", "trial '0' was taken back: its lease "
                                                    "lapsed (worker-1 sent nothing for 10 s)")
    call("UpdateTrial", lease=w2[2], trial_id="1", metrics={"val_accuracy": 0.7})
    trial = oracle.trials["1"]
    trial.status = "COMPLETED"
    call("EndTrial", lease=w2[2], trial=trial.to_proto())
    # Trial 0 runs for the last time: nothing can come back, worker-2 stops.
    assert create("worker-2")[1] == "STOPPED"
    now[0] = 30
    servicer.check_leases()  # the chief's timer
    assert lapse_lines()[-1] == ("tune.py: chief: worker-3 sent nothing for 10 s (lease "
                                 "lapsed); its trial 0 FAILED (lost in 2 runs).")
    assert oracle.trials["0"].status == "FAILED"
    assert oracle.trials["0"].message == "its worker was lost: worker-3 sent nothing for 10 s"
    assert sorted(oracle.end_order) == ["0", "1"] and oracle._run_times["0"] == 2
    assert exit_chief(oracle)  # the chief can finish


def test_a_worker_killed_mid_trial_does_not_hang_the_search(signs_dir, tmp_path, monkeypatch,
                                                            capsys):
    import signal

    port = _free_port()
    directory = tmp_path / "tuning"
    project = directory / "tiny_test"
    common = _argv(signs_dir, directory, "--search-space", _space_file(tmp_path),
                   "--import", "tests.test_tuning", trials=2)
    script = [sys.executable, str(ROOT / "scripts" / "tune.py")]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT),
           "CUDA_VISIBLE_DEVICES": ""}
    env.pop("KERASTUNER_TUNER_ID", None)
    env.pop("KERASCNN_TUNER_TOKEN", None)
    monkeypatch.delenv("KERASCNN_TUNER_TOKEN", raising=False)
    worker = ["--chief", f"127.0.0.1:{port}", "--connect-timeout", "120"]
    logs = {name: open(tmp_path / f"{name}.log", "w") for name in ("chief", "w1")}
    chief = subprocess.Popen(script + common + ["--chief", f"127.0.0.1:{port}", "--verbose", "1",
                                                "--trial-lease", "5"],
                             cwd=ROOT, env=env, stdout=logs["chief"], stderr=subprocess.STDOUT)
    w1 = subprocess.Popen(script + common + ["--worker", "1", *worker], cwd=ROOT, env=env,
                          stdout=logs["w1"], stderr=subprocess.STDOUT)
    try:
        killed = None
        deadline = time.monotonic() + 300
        while killed is None and time.monotonic() < deadline and w1.poll() is None:
            try:  # the chief saves the oracle when it hands a trial out
                state = json.loads((project / "oracle.json").read_text())
            except (OSError, ValueError):
                state = {}
            killed = state.get("ongoing_trials", {}).get("worker-1")
            if killed is None:
                time.sleep(0.05)
        assert killed is not None, "worker 1 never got a trial"
        w1.send_signal(signal.SIGKILL)
        assert w1.wait(timeout=30) == -signal.SIGKILL
        try:  # worker 2 runs the other trials, waits for the lapse, runs the lost one
            assert main(common + ["--worker", "2", *worker]) == 0
        finally:
            _pop_tuner_env()
        code = chief.wait(timeout=120)
    finally:
        for p in (w1, chief):
            if p.poll() is None:
                p.kill()
        for f in logs.values():
            f.close()
    output = (tmp_path / "chief.log").read_text()
    assert code == 0, output[-3000:]
    assert (f"tune.py: chief: worker-1 sent nothing for 5 s (lease lapsed); its trial {killed} "
            "is handed out again (run 2 of at most 2).") in output.splitlines()
    rows = _trials(project)
    assert sorted(r["trial_id"] for r in rows) == ["0", "1"]
    assert [r["status"] for r in rows] == ["COMPLETED"] * 2
    state = json.loads((project / "oracle.json").read_text())
    assert state["ongoing_trials"] == {} and sorted(state["end_order"]) == ["0", "1"]
    assert state["run_times"] == {**{t: 1 for t in ("0", "1")}, killed: 2}
    assert (project / "best_model.keras").exists()


def test_a_worker_whose_chief_refuses_connections_fails_fast(signs_dir, tmp_path, capsys):
    port = _free_port()  # nothing listens there
    try:
        # --connect-timeout, not the oracle's timeout, decides: the message names it.
        code = main(_argv(signs_dir, tmp_path / "t", "--worker", "1", "--chief",
                          f"127.0.0.1:{port}", "--connect-timeout", "2"))
    finally:
        _pop_tuner_env()
    assert code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"tune.py: error: cannot connect to the chief at 127.0.0.1:{port} (Connection refused) "
        "within 2 s; start the chief first (tune.py --chief HOST:PORT) or raise "
        "--connect-timeout.")
