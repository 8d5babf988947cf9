"""A run directory that is damaged, shared, full or not ours: a correct result or one line.

The runs train resnet20_cifar on a small synthetic npz (160 images of 16x16), a few
seconds an epoch, through ``kerascnn.training.cli.main`` (exit status, stderr)."""

import errno
import json
import os
import pathlib
import signal
import socket
import stat
import subprocess
import sys
import time

import numpy as np
import pytest

from kerascnn.training.callbacks import RunCheckpoint, latest_checkpoint
from kerascnn.training.cli import main

from .conftest import ROOT

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}


def _argv(data, out, *extra, epochs=1):
    return ["--model", "resnet20_cifar", "--dataset", str(data), "--image-size", "16",
            "--batch-size", "32", "--epochs", str(epochs), "--output-dir", str(out),
            "--verbose", "0", *extra]


def _err(capsys):
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return [line for line in err.strip().splitlines() if line.startswith("fit.py")]


def test_damaged_checkpoints_fall_back_to_the_older_one(small_npz, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(_argv(small_npz, out, epochs=2)) == 0
    (out / "metrics.json").unlink()  # as if killed before the report
    ckpt = out / "checkpoints"
    assert [p.name for p in sorted(ckpt.iterdir())] == ["epoch-0001", "epoch-0002"]
    weights = ckpt / "epoch-0002" / "training.weights.h5"
    weights.write_bytes(weights.read_bytes()[:1000])  # truncated
    (ckpt / ".tmp-epoch-0003-99999").mkdir()  # left by a kill
    (out / ".best.abc.tmp.keras").write_bytes(b"half")
    with pytest.warns(UserWarning, match=r"checkpoint .*epoch-0002 is damaged \(training"
                                         r".weights.h5 does not match its checksum\); trying "
                                         r"the one before it\."):
        assert main(_argv(small_npz, out, epochs=3)) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["resumed_from_epoch"] == 1 and metrics["epochs"] == 3
    assert not (ckpt / ".tmp-epoch-0003-99999").exists()
    assert not (out / ".best.abc.tmp.keras").exists()
    # an empty state.json and a random weights file: the same fallback
    (out / "metrics.json").unlink()
    (ckpt / "epoch-0003" / "state.json").write_text("")
    with pytest.warns(UserWarning, match=r"epoch-0003 is damaged \(state.json is unreadable"):
        assert main(_argv(small_npz, out, epochs=3)) == 0
    (out / "metrics.json").unlink()
    (ckpt / "epoch-0003" / "training.weights.h5").write_bytes(os.urandom(4096))
    with pytest.warns(UserWarning, match=r"epoch-0003 is damaged"):
        assert main(_argv(small_npz, out, epochs=3)) == 0
    assert json.loads((out / "metrics.json").read_text())["resumed_from_epoch"] == 2


def test_run_config_cases(small_npz, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(_argv(small_npz, out, epochs=1)) == 0
    (out / "metrics.json").unlink()
    saved = (out / "run_config.json").read_text()
    # truncated: one line; --resume continues with this command's settings
    (out / "run_config.json").write_text(saved[:20])
    assert main(_argv(small_npz, out, epochs=2)) == 2
    assert _err(capsys) == [
        f"fit.py: error: --output-dir {out} holds a run whose run_config.json is missing or "
        "unreadable; pass --resume to continue it with this command's settings, or "
        "--overwrite to start over."]
    (out / "run_config.json").unlink()
    assert main(_argv(small_npz, out, "--resume", epochs=2)) == 0
    assert json.loads((out / "run_config.json").read_text()) == json.loads(saved)
    # --resume with another network: refused before anything is rewritten
    (out / "metrics.json").unlink()
    before = (out / "run_config.json").read_text()
    argv = _argv(small_npz, out, "--resume", epochs=3)
    argv[1] = "resnet32_cifar"
    assert main(argv) == 2
    assert _err(capsys) == [
        f"fit.py: error: --resume: this command's model is 'resnet32_cifar' but the run in "
        f"{out} has 'resnet20_cifar'; its checkpoint cannot continue with another network or "
        "data (differs in: model)."]
    assert (out / "run_config.json").read_text() == before
    assert main(_argv(small_npz, out, epochs=2)) == 0  # the original command still works


def test_a_failed_start_leaves_no_run_config(small_npz, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(_argv(small_npz, out, "--model-arg", "nosuchkey=3")) == 2
    err = _err(capsys)
    assert len(err) == 1 and err[0].startswith("fit.py: error: Bad model arguments for "
                                               "resnet20_cifar: ")
    assert not (out / "run_config.json").exists() and not (out / ".kerascnn-run.lock").exists()
    assert main(_argv(small_npz, out)) == 0


def test_best_keras_damaged_or_deleted(small_npz, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(_argv(small_npz, out, epochs=1)) == 0
    (out / "metrics.json").unlink()
    best = out / "best.keras"
    best.write_bytes(best.read_bytes()[:500])
    with pytest.warns(UserWarning, match=r"best.keras \(epoch 1\) is missing or damaged; the "
                                         r"best epoch is chosen again"):
        assert main(_argv(small_npz, out, epochs=2)) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["best_epoch"] == 2 and metrics["model_file"] == "best.keras"
    # deleted after the end: evaluate.py on the run directory scores what exists
    best.unlink()
    (out / "metrics.json").unlink()
    with pytest.warns(UserWarning, match="is missing or damaged"):
        assert main(_argv(small_npz, out, epochs=2)) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model_file"] == "model.keras" and metrics["evaluated"] == "final epoch"


def test_two_runs_on_one_directory(small_npz, tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, str(ROOT / "scripts" / "fit.py"), *_argv(small_npz, out, epochs=4)]
    first = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    deadline = time.time() + 120
    while not (out / ".kerascnn-run.lock").exists() and time.time() < deadline:
        time.sleep(0.1)
    assert (out / ".kerascnn-run.lock").exists()
    start = time.time()
    second = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=120)
    elapsed = time.time() - start
    assert second.returncode == 2
    lines = [line for line in second.stderr.splitlines() if line.startswith("fit.py")]
    assert lines == [f"fit.py: error: --output-dir {out} is in use by process {first.pid} on "
                     f"{socket.gethostname()} (since " + lines[0].split("(since ")[1]]
    assert lines[0].endswith("); wait for it to finish or choose another directory.")
    print(f"second fit.py refused in {elapsed:.1f} s")
    assert first.wait(timeout=600) == 0, first.stderr[-2000:]
    assert not (out / ".kerascnn-run.lock").exists()


def test_a_dead_processs_lock_is_taken_over(small_npz, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    (out / ".kerascnn-run.lock").write_text(json.dumps(
        {"pid": int(dead), "host": socket.gethostname(), "started": "then"}))
    assert main(_argv(small_npz, out)) == 0
    assert _err(capsys) == [f"fit.py: taking over the stale lock of process {dead}, which is "
                            f"no longer running ({out / '.kerascnn-run.lock'})."]


def test_disk_full_keeps_the_previous_checkpoint(small_npz, tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    save = RunCheckpoint._save

    def full_at_epoch_2(self, epoch):
        if epoch == 2:
            os.makedirs(os.path.join(self.directory, ".tmp-epoch-0002-1"))
            raise OSError(errno.ENOSPC, "No space left on device",
                          os.path.join(self.directory, ".tmp-epoch-0002-1"))
        return save(self, epoch)

    monkeypatch.setattr(RunCheckpoint, "_save", full_at_epoch_2)
    assert main(_argv(small_npz, out, epochs=3)) == 1
    err = _err(capsys)
    assert len(err) == 1 and err[0].startswith(
        f"fit.py: no space left on the device writing {out}/checkpoints/.tmp-epoch-0002-1 (a "
        "checkpoint needs about ")
    assert err[0].endswith("the checkpoint of epoch 1 is intact: free some space and run the "
                           "same command again to resume.")
    assert latest_checkpoint(out / "checkpoints")[0] == 1
    assert not (out / ".kerascnn-run.lock").exists()
    monkeypatch.setattr(RunCheckpoint, "_save", save)
    assert main(_argv(small_npz, out, epochs=3)) == 0  # resumes once there is space


def test_overwrite_deletes_only_a_kerascnn_run(small_npz, tmp_path, capsys):
    mine = tmp_path / "mine"
    (mine / "logs").mkdir(parents=True)
    (mine / "logs" / "notes.txt").write_text("keep me")
    (mine / "checkpoints").mkdir()
    assert main(_argv(small_npz, mine, "--overwrite")) == 2
    assert _err(capsys) == [
        f"fit.py: error: --overwrite: {mine} is not a kerascnn run directory (no .kerascnn-run "
        "or run_config.json of a run); refusing to delete anything in it."]
    assert (mine / "logs" / "notes.txt").read_text() == "keep me"
    run = tmp_path / "run"
    assert main(_argv(small_npz, run)) == 0
    assert (run / ".kerascnn-run").is_file()
    assert main(_argv(small_npz, run, "--overwrite")) == 0


@pytest.mark.parametrize("extra, message", [
    (["--weight-decay", "nan"], "--weight-decay must be a finite number >= 0; got nan."),
    (["--momentum", "-1"], "--momentum must be a finite number >= 0; got -1.0."),
    (["--seed", "-1"], "--seed must be in 0..4294967295; got -1."),
    (["--seed", "99999999999"], "--seed must be in 0..4294967295; got 99999999999."),
    (["--image-size", "100000"], "--image-size 100000 with --batch-size 32: one training step "
                                 "of resnet20_cifar needs about "),
])
def test_more_one_line_errors(extra, message, small_npz, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(_argv(small_npz, out, *extra)) == 2
    err = _err(capsys)
    assert len(err) == 1 and err[0].startswith(f"fit.py: error: {message}")
    assert not out.exists() or sorted(os.listdir(out)) == []


def test_output_dir_that_is_a_file(small_npz, tmp_path, capsys):
    target = tmp_path / "a_file"
    target.write_text("x")
    assert main(_argv(small_npz, target)) == 2
    assert _err(capsys) == [f"fit.py: error: --output-dir {target} exists and is not a "
                            "directory."]
    assert main(_argv(small_npz, target / "run")) == 2
    assert _err(capsys) == [f"fit.py: error: --output-dir {target / 'run'}: {target} is a "
                            "file, not a directory."]


def test_files_keep_the_users_umask(small_npz, tmp_path):
    old = os.umask(0o027)
    try:
        out = tmp_path / "run"
        assert main(_argv(small_npz, out)) == 0
    finally:
        os.umask(old)
    for name in ("metrics.json", "history.csv", "model.keras", "best.keras", "run_config.json"):
        assert stat.S_IMODE(os.stat(out / name).st_mode) == 0o640, name


def test_evaluate_refuses_damaged_files_in_one_line(small_npz, tmp_path, capsys):
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import evaluate as script
    finally:
        sys.path.pop(0)
    out = tmp_path / "run"
    assert main(_argv(small_npz, out)) == 0
    capsys.readouterr()
    (out / "metrics.json").write_text("{trunc")
    assert script.main(["--model-path", str(out), "--dataset", str(small_npz)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"evaluate.py: error: {out}/metrics.json is unreadable (JSONDecodeError); "
                   "pass the model file itself (--model-path RUN/best.keras).")
    best = out / "best.keras"
    best.write_bytes(best.read_bytes()[:300])
    assert script.main(["--model-path", str(best), "--dataset", str(small_npz)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"evaluate.py: error: cannot load {best}: ")
    with pytest.raises(SystemExit) as info:
        script.main(["--model-path", str(out / "model.keras"), "--dataset", str(small_npz),
                     "--batch-size", "0"])
    assert info.value.code == 2
    assert "argument --batch-size: expected a positive integer, got '0'" in \
        capsys.readouterr().err


@pytest.fixture
def mount_point(tmp_path):
    """A mount point under tmp_path, unmounted afterwards (tests skip where mounting is
    not allowed)."""
    point = tmp_path / "mnt"
    point.mkdir()
    mounted = []

    def mount(*args):
        done = subprocess.run(["mount", *args, str(point)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount here: {done.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for p in mounted:
        subprocess.run(["umount", "-l", str(p)], capture_output=True)


def test_read_only_output_dir(small_npz, tmp_path, capsys, mount_point):
    source = tmp_path / "src"
    source.mkdir()
    point = mount_point("--bind", str(source))
    done = subprocess.run(["mount", "-o", "remount,ro,bind", str(point)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot remount read-only here")
    assert main(_argv(small_npz, point / "run")) == 2
    assert _err(capsys) == [f"fit.py: error: --output-dir {point / 'run'}: {point} is not "
                            "writable (read-only file system or no permission); choose another "
                            "directory."]


def test_a_real_full_disk(small_npz, tmp_path, capsys, mount_point):
    # 9 MiB: the first epoch's checkpoint (weights and Adam's slots) and best.keras (the
    # same, about 3.4 MiB each) fit, the second epoch's files do not
    point = mount_point("-t", "tmpfs", "-o", "size=9m", "tmpfs")
    out = point / "run"
    code = main(_argv(small_npz, out, epochs=3))
    err = _err(capsys)
    assert code == 1, err
    assert len(err) == 1 and err[0].startswith("fit.py: no space left on the device writing ")
    assert "run the same command again to resume." in err[0]
    last = latest_checkpoint(out / "checkpoints")
    assert last is not None and "is intact" in err[0]
    state = json.loads((pathlib.Path(last[1]) / "state.json").read_text())
    assert state["epoch"] == last[0]
    assert not list((out / "checkpoints").glob(".tmp-*"))
    assert not (out / ".kerascnn-run.lock").exists()


def _npz(path, n_train=160, n_test=40, seed=0, labels=None, **extra):
    rng = np.random.RandomState(seed)
    n = n_train + n_test
    y = np.arange(n) % 2 if labels is None else labels
    x = rng.randint(0, 120, (n, 16, 16, 3)).astype(np.uint8)
    x[y == 1, 4:12, 4:12] = 255
    np.savez(path, x_train=x[:n_train], y_train=y[:n_train], x_test=x[n_train:],
             y_test=y[n_train:], **extra)
    return path


def _other_data(out, data) -> str:
    return (f"fit.py: error: {data}: the data differ from those the run in {out} was trained "
            "on ({}); its checkpoint cannot continue on other data: restore them, or start "
            "over with --overwrite or another --output-dir.")


def test_resume_on_other_data_is_refused(tmp_path, capsys):
    data, out = _npz(tmp_path / "data.npz"), tmp_path / "run"
    assert main(_argv(data, out, epochs=1)) == 0
    saved = json.loads((out / "run_config.json").read_text())
    assert saved["data"]["splits"] == {"train": 144, "val": 16, "test": 40}
    assert saved["data"]["files"]["data.npz"]["size"] == data.stat().st_size
    (out / "metrics.json").unlink()  # as if killed after epoch 1
    before = (out / "run_config.json").read_text()
    original = data.read_bytes()
    _npz(data, n_train=270, n_test=60, seed=1)  # more images under the same name
    for extra in (["--resume"], []):
        assert main(_argv(data, out, *extra, epochs=2)) == 2
        assert _err(capsys) == [_other_data(out, data).format(
            "train: 144 -> 243 images; val: 16 -> 27 images; test: 40 -> 60 images")]
    _npz(data, seed=0, labels=1 - np.arange(200) % 2)  # the same sizes, other labels
    assert main(_argv(data, out, "--resume", epochs=2)) == 2
    assert _err(capsys) == [_other_data(out, data).format(
        "train: other labels, other images; val: other labels, other images; test: other "
        "labels, other images")]
    _npz(data, seed=5)  # the same labels, other images
    assert main(_argv(data, out, "--resume", epochs=2)) == 2
    assert _err(capsys) == [_other_data(out, data).format(
        "train: other images; val: other images; test: other images")]
    assert (out / "run_config.json").read_text() == before
    assert latest_checkpoint(out / "checkpoints")[0] == 1
    # the same data written again (a new mtime): a warning, and the run resumes
    time.sleep(0.01)
    data.write_bytes(original)
    os.utime(data, ns=(data.stat().st_atime_ns, data.stat().st_mtime_ns + 10 ** 9))
    with pytest.warns(UserWarning, match=r"data.npz was modified since the run began; its "
                                         r"split sizes, labels and sampled images are the "
                                         r"same: resuming\."):
        assert main(_argv(data, out, epochs=2)) == 0
    assert json.loads((out / "metrics.json").read_text())["resumed_from_epoch"] == 1


@pytest.mark.parametrize("kind, message", [
    ("one class", "{data}: data has 1 class ('0'); training a classifier needs at least 2 "
                  "classes."),
    ("one class present", "{data}: the train split holds images of 1 class only ('b', "
                          "label 1; the data has 3 classes); training a classifier needs "
                          "images of at least 2 classes."),
    ("no test images", "{data}: the test split has no images; it needs at least one "
                       "(splits: train 144, test 0, val 16)."),
    ("no train images", "{data}: the train split has no images; it needs at least one "
                        "(splits: train 0, test 40, val 1)."),
])
def test_degenerate_data_is_refused_before_training(kind, message, tmp_path, capsys):
    data, out = tmp_path / "data.npz", tmp_path / "run"
    if kind == "one class":
        _npz(data, labels=np.zeros(200, np.int64))
    elif kind == "one class present":
        _npz(data, labels=np.ones(200, np.int64), class_names=np.array(["a", "b", "c"]))
    elif kind == "no test images":
        _npz(data, n_test=0)
    else:
        _npz(data, n_train=1, class_names=np.array(["a", "b"]))
    assert main(_argv(data, out)) == 2
    assert _err(capsys) == [f"fit.py: error: {message.format(data=data)}"]
    assert not out.exists()


def test_evaluate_refuses_an_empty_split(small_npz, tmp_path, capsys):
    from .conftest import load_script

    out = tmp_path / "run"
    assert main(_argv(small_npz, out)) == 0
    empty = _npz(tmp_path / "empty.npz", n_test=0)
    capsys.readouterr()
    script = load_script("evaluate")
    assert script.main(["--model-path", str(out), "--dataset", str(empty)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"evaluate.py: error: {empty}: the test split has no images; it needs at least one "
        "(splits: train 144, test 0, val 16).")
    assert not (out / "eval.json").exists()


def test_sigterm_says_how_to_resume_and_keeps_the_checkpoint(small_npz, tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, str(ROOT / "scripts" / "fit.py"), *_argv(small_npz, out, epochs=30)]
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.time() + 300
    while not (out / "checkpoints" / "epoch-0001").is_dir() and time.time() < deadline:
        time.sleep(0.2)
    assert (out / "checkpoints" / "epoch-0001").is_dir()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err[-2000:]
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("fit.py")]
    assert len(lines) == 1, err[-2000:]
    last = latest_checkpoint(out / "checkpoints")[0]
    assert lines[0] == (f"fit.py: stopped by SIGTERM; its checkpoint of epoch {last} is kept "
                        f"in {out}: run the same command again (with --output-dir {out}) to "
                        "resume.")
    assert not list((out / "checkpoints").glob(".tmp-*"))
    assert not (out / ".kerascnn-run.lock").exists()
    assert main(_argv(small_npz, out, epochs=last + 1)) == 0
    assert json.loads((out / "metrics.json").read_text())["resumed_from_epoch"] == last
