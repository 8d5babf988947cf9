"""The search job behind ``scripts/tune.py``.

:func:`run_search` checks everything first (nothing is written on bad input),
loads the data with :func:`kerascnn.data.load_source`, builds the family's
hypermodel and a keras-tuner tuner in ``DIRECTORY/PROJECT``, searches (or
serves the oracle / works for a chief, see :mod:`kerascnn.tuning.distributed`)
and writes, atomically, into ``DIRECTORY/PROJECT``:

* ``search.json``: what was asked (a later run with other settings is refused);
* ``trials.csv``: every trial, ranked (score, status, hyperparameters,
  params, seconds);
* ``best_hyperparameters.json``: the best trial's values and score;
* ``best_model.keras``: the best trial's model at its best epoch, or, with
  ``retrain``, the best configuration trained again on train + val.

Started again with the same settings a search resumes: keras-tuner reloads its
oracle, finished trials are kept and an interrupted trial is run again under
its own id. ``overwrite`` starts over.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import shutil

from kerascnn.training import strategy as strategies
from kerascnn.training.config import ConfigError, check_settings, identity_differences
from kerascnn.training.data import prepare_data
from kerascnn.training.report import score
from kerascnn.tuning import distributed
from kerascnn.tuning.config import (
    DISTRIBUTIONS,
    OBJECTIVE,
    TUNERS,
    SearchConfig,
    search_identity,
)
from kerascnn.tuning.errors import SearchError, SearchFailed, SearchSpaceError
from kerascnn.tuning.hypermodels import hypermodel_for
from kerascnn.utils.io import atomic_path, atomic_write, is_marked_directory, write_json_atomic

__all__ = ["SearchConfig", "SearchError", "SearchFailed", "run_search", "validate",
           "TUNERS", "DISTRIBUTIONS", "OBJECTIVE", "ranked_table"]

OUTPUT_FILES = ("trials.csv", "best_hyperparameters.json", "best_model.keras")
# Written into every project directory a search starts: --overwrite deletes only such a directory.
MARKER = ".kerascnn-search"


def validate(config: SearchConfig):
    """Checks ``config`` before anything is read or written; returns the hypermodel
    (without data) and the identity dict of the search."""
    for flag, value in (("--max-trials", config.max_trials),):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SearchError(f"{flag} must be a positive integer; got {value}.")
    try:
        check_settings(config.fit)  # fit.py's checks, fit.py's messages
    except ConfigError as e:
        raise SearchError(str(e)) from None
    choices = (("--tuner", config.tuner, TUNERS),
               ("--distribution", config.distribution, DISTRIBUTIONS))
    for flag, value, allowed in choices:
        if value not in allowed:
            raise SearchError(f"{flag} {value!r} is not one of: {', '.join(allowed)}.")
    for flag, value in (("--train-subset", config.train_subset),
                        ("--val-subset", config.val_subset)):
        if value is not None and value < 1:
            raise SearchError(f"{flag} must be a positive integer; got {value}.")
    if not 0 < config.fit.val_fraction < 1:
        raise SearchError(f"--val-fraction must be in (0, 1) (the search scores on the "
                          f"validation split); got {config.fit.val_fraction}.")
    for flag, value in (("--oracle-timeout", config.oracle_timeout),
                        ("--connect-timeout", config.connect_timeout),
                        ("--trial-lease", config.trial_lease)):
        if not value > 0:
            raise SearchError(f"{flag} must be positive; got {value}.")
    if config.tuner == "bayesian":
        try:
            import sklearn  # noqa: F401
        except ImportError:
            raise SearchError("--tuner bayesian needs scikit-learn, which is not installed; "
                              "use random or hyperband.") from None
    if config.worker is not None and config.chief is None:
        raise SearchError("--worker ID needs --chief HOST:PORT (the oracle to work for).")
    if config.chief is not None:
        distributed.parse_address(config.chief)  # raises SearchError
        distributed.auth_token(config)  # raises SearchError
    elif config.auth_token is not None:
        raise SearchError("--auth-token needs --chief HOST:PORT (it guards the oracle).")
    _check_project_name(config.project_name)
    if config.worker is not None and (not str(config.worker) or "chief" in str(config.worker)):
        raise SearchError(f"--worker ID must be a non-empty name without 'chief'; "
                          f"got {config.worker!r}.")
    try:
        hypermodel = hypermodel_for(config.family, base=config.fit,
                                    search_space=config.search_space,
                                    image_size=config.fit.image_size)
    except SearchSpaceError as e:
        raise SearchError(str(e)) from None
    if hypermodel.family != config.family:
        raise SearchError(f"--model-family {config.family!r} is a model name; its family is "
                          f"{hypermodel.family!r}.")
    identity = search_identity(config, hypermodel.space)
    _check_directory(config, identity)
    return hypermodel, identity


def _check_project_name(name) -> None:
    """A project name is one directory name inside ``--directory``."""
    if name is None:
        return
    separators = [c for c in (os.sep, os.altsep, "/") if c]
    if (not name or name in (".", "..") or os.path.isabs(name) or "\0" in name
            or any(c in name for c in separators)):
        raise SearchError(f"--project-name must be a single directory name (no path separator, "
                          f"not '.' or '..'); got {name!r}.")


def _is_search_directory(path) -> bool:
    """Whether ``path`` holds our marker file, or the search.json of a tune.py
    search (written by versions before the marker)."""
    return is_marked_directory(path, MARKER, "search.json", ("family", "tuner", "search_space"))


def _check_directory(config: SearchConfig, identity: dict) -> None:
    project = config.project_dir
    if config.overwrite and os.path.islink(project):
        raise SearchError(f"--overwrite: {project} is a symbolic link; refusing to delete it.")
    if os.path.exists(project) and not os.path.isdir(project):
        raise SearchError(f"{project} exists and is not a directory.")
    if not os.path.exists(project):
        return
    if config.overwrite:
        if os.listdir(project) and not _is_search_directory(project):
            raise SearchError(f"--overwrite: {project} is not a tune.py search (no {MARKER} or "
                              "search.json); refusing to delete it.")
        return
    saved_path = os.path.join(project, "search.json")
    if not os.path.exists(saved_path):
        if os.listdir(project):
            raise SearchError(f"{project} holds files that are not a tune.py search; choose "
                              "another --directory/--project-name or pass --overwrite.")
        return
    differs = identity_differences(saved_path, identity)
    if differs is None:
        return
    raise SearchError(f"{project} holds a different search (differs in: "
                      f"{', '.join(differs)}); choose another "
                      "--project-name or pass --overwrite to start over.")


def _make_tuner(config, hypermodel, strategy):
    import keras_tuner as kt

    objective = kt.Objective(OBJECTIVE, direction="max")
    common = dict(objective=objective, seed=config.seed, directory=config.directory,
                  project_name=config.project_name or config.family,
                  overwrite=False,  # run_search removed the project first
                  distribution_strategy=strategy, max_consecutive_failed_trials=10 ** 6)
    if config.tuner == "random":
        tuner = kt.RandomSearch(hypermodel, max_trials=config.max_trials, **common)
    elif config.tuner == "bayesian":
        tuner = kt.BayesianOptimization(hypermodel, max_trials=config.max_trials, **common)
    else:
        tuner = kt.Hyperband(hypermodel, max_epochs=config.epochs, factor=3, **common)
        # Hyperband sizes itself from max_epochs; --max-trials caps it.
        getattr(tuner.oracle, "_oracle", tuner.oracle).max_trials = config.max_trials
    return tuner


def run_search(config: SearchConfig) -> dict:
    """Runs (or resumes) the search; returns a summary dict.

    Raises:
        SearchError, DataError: bad request or data (nothing written), or a worker's
            chief address that refuses connections (``--connect-timeout``).
        SearchFailed: every trial failed.
        distributed.OracleUnavailable: a worker's oracle did not answer in time.
    """
    import importlib

    for module in config.imports:
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise SearchError(f"--import {module}: {e}") from None
    hypermodel, identity = validate(config)
    try:
        data = prepare_data(config.fit, require=("train", "val", "test"),
                            train_subset=config.train_subset, val_subset=config.val_subset)
    except ConfigError as e:
        raise SearchError(str(e)) from None
    role = distributed.configure(config)  # "local", "chief" or "worker"; sets the env vars
    strategy = None
    if config.distribution != "default":
        strategy = strategies.get_strategy(config.distribution)
        if strategies.num_replicas(strategy) == 1 and config.distribution == "auto":
            strategy = None
    hypermodel.set_data(data)
    hypermodel.replicas = strategies.num_replicas(strategy) if strategy is not None else 1

    project = config.project_dir
    if role != "worker":
        if config.overwrite and os.path.isdir(project) and _is_search_directory(project):
            shutil.rmtree(project)  # validate() refused any other non-empty directory
        if not os.path.exists(os.path.join(project, MARKER)):
            atomic_write(os.path.join(project, MARKER), "a kerascnn tune.py search\n")
        write_json_atomic(os.path.join(project, "search.json"), identity)

    tuner = _make_tuner(config, hypermodel, strategy)
    if role != "worker":
        _drop_finished_retries(tuner.oracle)
    if role == "chief":
        tuner.save()
        distributed.serve_oracle(tuner.oracle, config, verbose=config.verbose)
    elif role == "worker":
        # Token, leases and heartbeat; a refused address fails fast.
        with distributed.worker_session(tuner.oracle, config):
            tuner.search(epochs=config.epochs, verbose=config.verbose)
        return {"role": "worker", "project_dir": project}
    else:
        tuner.search(epochs=config.epochs, verbose=config.verbose)
    return finish(config, tuner, hypermodel)


def _drop_finished_retries(oracle) -> None:
    """A reloaded oracle retries every trial it saved as ongoing; one that had
    already finished (saved between its end and the save that forgets it) is
    not run again."""
    queue = getattr(oracle, "_retry_queue", None)
    if queue:
        oracle._retry_queue = [t for t in queue if oracle.trials[t].status != "COMPLETED"]


def _error_line(message: str) -> str:
    """The exception line of a trial's traceback (with TensorFlow's detail line)."""
    lines = [line.rstrip() for line in message.strip().splitlines()]
    errors = [line for line in lines if re.match(r"^[A-Za-z_][\w.]*(Error|Exception)\b", line)]
    line = errors[-1] if errors else (lines[-1] if lines else "")
    if line.endswith(":"):
        detail = next((d for d in reversed(lines) if d and not d.startswith(
            (" ", "\t", "[[", "File ", "Traceback", "Detected at"))), "")
        if detail and detail != line:
            line = f"{line} {detail}"
    return " ".join(line.split())[:300]


def _trial_rows(tuner) -> list[dict]:
    rows = []
    for trial in tuner.oracle.trials.values():
        metrics = trial.metrics
        best_step = trial.best_step

        def value(name, metrics=metrics, best_step=best_step):
            if not metrics.exists(name):
                return None
            history = metrics.get_history(name)
            for observation in history:
                if observation.step == best_step:
                    return float(observation.value[0])
            return float(history[-1].value[0]) if history else None

        score = trial.score if trial.status == "COMPLETED" else None
        error = _error_line(trial.message or "")
        rows.append({"trial_id": trial.trial_id, "status": trial.status,
                     "score": None if score is None or math.isnan(score) else float(score),
                     "params": value("params"), "seconds": value("seconds"),
                     "hyperparameters": dict(trial.hyperparameters.values),
                     "error": error})
    rows.sort(key=lambda r: (r["score"] is None, -(r["score"] or 0.0), r["trial_id"]))
    return rows


def _format(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def ranked_table(rows) -> str:
    """The ranked trials as fixed-width text."""
    names = sorted({k for r in rows for k in r["hyperparameters"] if not k.startswith("tuner/")})
    header = ["rank", "trial", "status", OBJECTIVE, "params", "seconds"] + names
    lines = [header]
    for rank, r in enumerate(rows, 1):
        lines.append([str(rank), r["trial_id"], r["status"],
                      "" if r["score"] is None else f"{r['score']:.4f}",
                      "" if r["params"] is None else f"{int(r['params']):,}",
                      "" if r["seconds"] is None else f"{r['seconds']:.1f}"]
                     + [_format(r["hyperparameters"].get(n, "")) for n in names])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip()
                     for line in lines)


def _trials_csv(rows) -> str:
    names = sorted({k for r in rows for k in r["hyperparameters"]})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["rank", "trial_id", "status", OBJECTIVE, "params", "seconds"] + names +
                    ["error"])
    for rank, r in enumerate(rows, 1):
        writer.writerow([rank, r["trial_id"], r["status"],
                         "" if r["score"] is None else f"{r['score']:.6g}",
                         "" if r["params"] is None else int(r["params"]),
                         "" if r["seconds"] is None else f"{r['seconds']:.3f}"]
                        + [r["hyperparameters"].get(n, "") for n in names] + [r["error"]])
    return out.getvalue()


def finish(config, tuner, hypermodel) -> dict:
    """Checks the trials and writes the ranked table and the three output files."""
    rows = _trial_rows(tuner)
    completed = [r for r in rows if r["status"] == "COMPLETED" and r["score"] is not None]
    project = config.project_dir
    if not completed:
        reason = next((r["error"] for r in rows if r["error"]), "no trial reported a score")
        raise SearchFailed(f"all {len(rows)} trials failed; the last error: {reason}")
    if config.verbose:
        print(ranked_table(rows))
    for r in rows:
        if r["status"] not in ("COMPLETED",):
            print(f"trial {r['trial_id']} {r['status']}: {r['error']}")
    atomic_write(os.path.join(project, "trials.csv"), _trials_csv(rows))

    best = completed[0]
    best_trial = tuner.oracle.trials[best["trial_id"]]
    hp = best_trial.hyperparameters
    model_name, model_kwargs, _ = hypermodel.architecture(hp)
    summary = {"family": config.family, "objective": OBJECTIVE, "trial_id": best["trial_id"],
               "score": best["score"], "model": model_name,
               "model_kwargs": {k: v for k, v in model_kwargs.items() if k != "name"},
               "hyperparameters": {k: v for k, v in hp.values.items()
                                   if not k.startswith("tuner/")},
               "params": None if best["params"] is None else int(best["params"]),
               "trials": len(rows), "completed": len(completed),
               "retrained": bool(config.retrain)}
    if config.retrain:
        model = _retrain(config, hypermodel, hp)
    else:
        model = tuner.load_model(best_trial)
    summary["test_accuracy"] = _test_accuracy(
        hypermodel, hp, model, ("train", "val") if config.retrain else ("train",))
    with atomic_path(os.path.join(project, "best_model.keras")) as tmp:
        model.save(tmp)
    write_json_atomic(os.path.join(project, "best_hyperparameters.json"), summary)
    if config.verbose:
        print(f"best trial {best['trial_id']}: {OBJECTIVE}={best['score']:.4f}, "
              f"test_accuracy={summary['test_accuracy']:.4f}; results in {project}: "
              + " ".join(OUTPUT_FILES))
    summary["rows"] = rows
    summary["project_dir"] = project
    return summary


def _retrain(config, hypermodel, hp):
    """The best configuration trained from scratch on train + val."""
    import dataclasses

    data = hypermodel.data
    hypermodel.data = dataclasses.replace(data, train_splits=("train", "val"))
    try:
        model = hypermodel.build(hp)
        hypermodel.fit(hp, model, epochs=config.epochs)
    finally:
        hypermodel.data = data
    return model


def _test_accuracy(hypermodel, hp, model, train_splits) -> float:
    """The saved model's accuracy on the raw test images."""
    data = hypermodel.data
    test = data.eval_dataset("test", batch_size=hypermodel.training_config(hp).batch_size,
                             size=hypermodel.input_shape_for(hypermodel.architecture(hp)[0])[0])
    return score(model, test, data.labels("test"), data.num_classes)["accuracy"]
