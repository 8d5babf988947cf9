"""Distributed search: keras-tuner's chief/worker mode over gRPC.

The chief (``tune.py --chief HOST:PORT``) holds the oracle and answers the
workers' requests (next trial, results); each worker (``tune.py --worker ID
--chief HOST:PORT``, same other flags) asks for a trial, trains it and reports
back, until the oracle has handed out ``--max-trials`` trials. All of them use
the same ``--directory`` (a shared file system): the chief saves the oracle
after every change, each worker writes its trials' checkpoints there.

keras-tuner reads three environment variables, set here from the flags:
``KERASTUNER_TUNER_ID`` (``chief`` or ``worker-ID``), ``KERASTUNER_ORACLE_IP``
and ``KERASTUNER_ORACLE_PORT``.

Security: the oracle's gRPC server has no authentication and no encryption;
anyone who reaches the port can read the search and send it results. It binds
127.0.0.1 unless ``--bind-any`` is given (then it binds HOST). On several
machines keep it on 127.0.0.1 and give each worker machine an SSH tunnel::

    chief$   python scripts/tune.py --chief 127.0.0.1:8000 ...
    worker$  ssh -N -L 8000:127.0.0.1:8000 chief-host &
    worker$  python scripts/tune.py --worker 1 --chief 127.0.0.1:8000 ...

or bind a private-network address behind a firewall that admits only the
workers (``--chief 10.0.0.5:8000 --bind-any``).

Failures: a worker that dies loses only its current trial; started again
with the same ``--worker ID`` it runs that trial again (the oracle keeps it as
that worker's ongoing trial), and finished trials stay in the oracle. A chief
started again reloads the oracle from disk. Every oracle call of a worker
times out after ``--oracle-timeout`` seconds (keras-tuner's own limit is an
hour) with a one-line error.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import sys
import time

from kerascnn.tuning.errors import OracleUnavailable, SearchError

__all__ = ["parse_address", "configure", "serve_oracle", "oracle_timeout",
           "OracleUnavailable"]

_ENV = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (or ``:PORT`` / ``PORT`` for 127.0.0.1) -> (host, port)."""
    host, sep, port = str(text).rpartition(":")
    if not sep:
        host, port = "", text
    host = host.strip("[]") or "127.0.0.1"
    try:
        number = int(port)
    except ValueError:
        number = -1
    if not 1 <= number <= 65535:
        raise SearchError(f"--chief must be HOST:PORT with a port in 1..65535; got {text!r}.")
    return host, number


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def configure(config) -> str:
    """Sets keras-tuner's environment for ``config``; returns the role:
    ``"local"``, ``"chief"`` or ``"worker"``."""
    for name in _ENV:
        os.environ.pop(name, None)
    if config.chief is None:
        return "local"
    host, port = parse_address(config.chief)
    role = "worker" if config.worker is not None else "chief"
    if role == "chief" and not _is_loopback(host) and not config.bind_any:
        host = "127.0.0.1"
    os.environ["KERASTUNER_ORACLE_IP"] = host
    os.environ["KERASTUNER_ORACLE_PORT"] = str(port)
    os.environ["KERASTUNER_TUNER_ID"] = "chief" if role == "chief" else f"worker-{config.worker}"
    return role


def serve_oracle(oracle, config, verbose=1, poll_seconds=0.2) -> None:
    """Runs the oracle's gRPC server until every trial is handed out and finished.

    keras-tuner's own loop polls every 20 s once the last trial is handed out;
    this one polls every ``poll_seconds``.
    """
    from concurrent import futures

    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute.oracle_chief import OracleServicer, exit_chief

    host = os.environ["KERASTUNER_ORACLE_IP"]
    port = os.environ["KERASTUNER_ORACLE_PORT"]
    if not _is_loopback(host):
        print(f"tune.py: warning: the oracle listens on {host}:{port} without authentication; "
              "admit only the workers (firewall, private network or SSH tunnels).",
              file=sys.stderr)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    servicer = OracleServicer(oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError:
        bound = 0
    if not bound:
        raise OracleUnavailable(f"cannot listen on {host}:{port} (in use or not a local "
                                "address).")
    server.start()
    if verbose:
        print(f"oracle serving on {host}:{port}", flush=True)
    try:
        while True:
            time.sleep(poll_seconds)
            if servicer.stop_triggered and exit_chief(oracle):
                break
    finally:
        server.stop(grace=2)
        # end_trial saves the oracle before it forgets the ongoing trial: save the final state.
        oracle.save()


@contextlib.contextmanager
def oracle_timeout(config):
    """Limits every oracle call of a worker to ``config.oracle_timeout`` seconds
    and turns gRPC failures into :class:`OracleUnavailable`."""
    import grpc
    from keras_tuner.src.distribute import oracle_client

    previous = oracle_client.TIMEOUT
    oracle_client.TIMEOUT = float(config.oracle_timeout)
    try:
        yield
    except grpc.RpcError as e:
        code = e.code() if hasattr(e, "code") else None
        what = ("did not answer within "
                f"{config.oracle_timeout:g} s" if code == grpc.StatusCode.DEADLINE_EXCEEDED
                else f"failed ({getattr(code, 'name', code)}: "
                     f"{(e.details() if hasattr(e, 'details') else '') or ''})".rstrip())
        raise OracleUnavailable(
            f"the oracle at {config.chief} {what}; start the chief first "
            "(tune.py --chief HOST:PORT) or raise --oracle-timeout.") from None
    finally:
        oracle_client.TIMEOUT = previous
