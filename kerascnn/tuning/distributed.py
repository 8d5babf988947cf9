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

Security: the oracle's gRPC server has no encryption. It binds 127.0.0.1
unless ``--bind-any`` is given (then it binds HOST). With a shared token
(``--auth-token TOKEN`` or, better, since a command line is visible to every
local user, the environment variable ``KERASCNN_TUNER_TOKEN``) on the chief
and on every worker, the chief refuses (UNAUTHENTICATED) every call that does
not carry it; the token travels in the gRPC metadata (in clear text: keep the
port on loopback, an SSH tunnel or a private network) and is compared in
constant time. With or without a token, the chief accepts a trial's results
(UpdateTrial/EndTrial) only from the client it handed that trial to:
CreateTrial returns a random lease for the trial in the call's trailing
metadata, the worker sends it back with its reports, and a report without the
trial's current lease is refused (PERMISSION_DENIED); a trial handed out again
(its worker restarted with the same ``--worker ID``) gets a new lease (so a
token holder asking under another worker's ID takes that worker's trial, and
the genuine worker is refused: loudly, the token is the trust boundary). A
call that fails in the oracle (an unknown trial id, a report without the
objective) is answered with an error to that client only and logged in one
line; the oracle's lock is released, so the search goes on and the chief exits
when it is done. On several machines keep the chief on 127.0.0.1 and give
each worker machine an SSH tunnel::

    chief$   export KERASCNN_TUNER_TOKEN=$(openssl rand -hex 16)
    chief$   python scripts/tune.py --chief 127.0.0.1:8000 ...
    worker$  ssh -N -L 8000:127.0.0.1:8000 chief-host &
    worker$  export KERASCNN_TUNER_TOKEN=...   # the chief's token
    worker$  python scripts/tune.py --worker 1 --chief 127.0.0.1:8000 ...

or bind a private-network address behind a firewall that admits only the
workers (``--chief 10.0.0.5:8000 --bind-any``). Only ``tune.py`` workers send
leases: a plain keras-tuner worker cannot report to this chief.

Failures: a worker that dies loses only its current trial. keras-tuner's
protocol has no heartbeat; here each worker holds a lease, renewed by every
trial request and by a heartbeat (a GetTrial carrying the trial's lease)
every quarter of the lease while a trial trains. A worker silent for
``--trial-lease`` seconds (the chief's flag, default 60) is forgotten: the
chief logs one line naming the worker and its trial and hands the trial out
again, or marks it FAILED once it has run ``MAX_RUNS`` times; a worker left
without a trial waits (IDLE) while another's may come back, so the search
finishes (see :class:`GuardedServicer`). A dead worker started again with the
same ``--worker ID`` before its lease lapses runs its trial again (the oracle
keeps it as that worker's ongoing trial); finished trials stay in the oracle.
A chief started again reloads the oracle from disk and hands the trials that
were running out again; a worker still running one of them is refused its
report (its lease is gone) and exits 1: start it again. A worker first makes
sure the chief's address accepts connections, retrying for
``--connect-timeout`` seconds (then a one-line error, exit 2); after that
every oracle call times out after ``--oracle-timeout`` seconds
(keras-tuner's own limit is an hour) with a one-line error.
"""

from __future__ import annotations

import collections
import contextlib
import hmac
import ipaddress
import os
import secrets
import sys
import threading
import time

from kerascnn.tuning.errors import OracleUnavailable, SearchError

__all__ = ["parse_address", "configure", "serve_oracle", "oracle_timeout", "auth_token",
           "authorize_client", "wait_for_chief", "worker_session", "GuardedServicer",
           "OracleUnavailable", "TOKEN_ENV", "MAX_RUNS"]

_ENV = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")
TOKEN_ENV = "KERASCNN_TUNER_TOKEN"
# gRPC metadata keys (lower case, as gRPC requires).
TOKEN_KEY = "x-kerascnn-token"
LEASE_KEY = "x-kerascnn-lease"
LEASE_SECONDS_KEY = "x-kerascnn-lease-seconds"
_REPORTS = ("UpdateTrial", "EndTrial")
_END_STATUSES = ("COMPLETED", "INVALID", "FAILED")
# A trial whose worker is lost is handed out again until it has run this many times, then FAILED
# (a trial that kills every worker it runs on does not take the whole search down).
MAX_RUNS = 2


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


def auth_token(config) -> str | None:
    """The shared token: ``config.auth_token``, else ``$KERASCNN_TUNER_TOKEN``, else None.

    Raises SearchError for an empty token or one that gRPC metadata cannot carry
    (printable ASCII without spaces); the message never shows the token.
    """

    token = getattr(config, "auth_token", None)
    source = "--auth-token"
    if token is None:
        token, source = os.environ.get(TOKEN_ENV), TOKEN_ENV
    if token is None:
        return None
    if not token or not all(33 <= ord(c) <= 126 for c in token):
        raise SearchError(f"{source} must be a non-empty token of printable ASCII characters "
                          "without spaces.")
    return token


class _Refused(Exception):
    def __init__(self, code_name: str, message: str):
        super().__init__(message)
        self.code_name = code_name
        self.message = message


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return f"{type(error).__name__}: {text}"[:300]


@contextlib.contextmanager
def _oracle_lock(oracle):
    """Holds keras-tuner's lock of ``oracle`` (the one its ``@synchronized``
    methods take) and always releases it.

    ``@synchronized`` keeps the lock when the wrapped method raises; the oracle
    methods called inside this block see the lock as their thread's and do not
    touch it, so an exception in them can no longer leave it taken (which kept
    the chief's ``exit_chief`` waiting forever).
    """
    from keras_tuner.src.engine import oracle as oracle_module

    name = threading.current_thread().name
    if oracle_module.THREADS[oracle] == name:  # already ours
        yield
        return
    lock = oracle_module.LOCKS[oracle]
    lock.acquire()
    oracle_module.THREADS[oracle] = name
    try:
        yield
    finally:
        oracle_module.THREADS[oracle] = None
        lock.release()


class GuardedServicer:
    """keras-tuner's ``OracleServicer`` behind a guard.

    Every call: checks the shared token (if one is set), then, holding the
    oracle's lock, ends the leases that lapsed, checks that a report
    (UpdateTrial/EndTrial) carries the lease of a trial this chief handed out
    and that is still running, and runs keras-tuner's servicer method. Any
    failure is answered to that client alone with a gRPC error and logged in
    one line; the chief goes on.

    Leases: a worker (a tuner id) is alive while the chief hears from it at
    least every ``lease_seconds``: a CreateTrial under its id, or any call
    carrying the lease of the trial it holds (``tune.py`` workers send a
    heartbeat, GetTrial, every quarter of the lease while a trial trains; the
    lease length travels to them in CreateTrial's trailing metadata). When a
    worker's lease lapses the chief logs one line naming the worker and its
    trial, forgets the worker (keras-tuner's ``tuner_ids``) and puts the trial
    back in the oracle's retry queue, or ends it FAILED once it has run
    ``max_runs`` times. A worker that asks for a trial when none is left, while
    another worker's trial may still come back, is told to wait (IDLE) rather
    than to stop, so that someone is there to run it. ``clock`` (seconds) is
    ``time.monotonic``; tests give a fake one.
    """

    def __init__(self, oracle, token: str | None = None, log=None, lease_seconds: float = 60.0,
                 max_runs: int = MAX_RUNS, clock=time.monotonic):
        from keras_tuner.src.distribute.oracle_chief import OracleServicer

        self.oracle = oracle
        self._inner = OracleServicer(oracle)
        self._token = token.encode("ascii") if token else None
        self._leases: dict[str, tuple[str, str]] = {}  # trial id -> (tuner id, lease)
        self._lapsed: dict[str, str] = {}  # a lapsed lease -> why
        self._seen: dict[str, float] = {}  # tuner id -> when the chief last heard from it
        self.lease_seconds = float(lease_seconds)
        self.max_runs = int(max_runs)
        self._clock = clock
        self._log = log if log is not None else sys.stderr

    @property
    def stop_triggered(self) -> bool:
        return self._inner.stop_triggered

    def GetSpace(self, request, context):  # gRPC method names
        return self._call("GetSpace", request, context)

    def UpdateSpace(self, request, context):
        return self._call("UpdateSpace", request, context)

    def CreateTrial(self, request, context):
        return self._call("CreateTrial", request, context)

    def UpdateTrial(self, request, context):
        return self._call("UpdateTrial", request, context)

    def EndTrial(self, request, context):
        return self._call("EndTrial", request, context)

    def GetTrial(self, request, context):
        return self._call("GetTrial", request, context)

    def GetBestTrials(self, request, context):
        return self._call("GetBestTrials", request, context)

    def check_leases(self) -> None:
        """Ends the leases that lapsed (the chief's timer; every call does it too)."""
        with _oracle_lock(self.oracle):
            self._expire()

    def _call(self, method, request, context):
        import grpc

        try:
            metadata = {k: v for k, v in (context.invocation_metadata() or ())
                        if isinstance(v, str)}
            self._authenticate(metadata)
            with _oracle_lock(self.oracle):
                self._expire()
                self._check(method, request, metadata)
                self._renew(method, request, metadata)
                response = getattr(self._inner, method)(request, context)
                response = self._after(method, request, response, context)
            return response
        except _Refused as e:
            code, message = getattr(grpc.StatusCode, e.code_name), e.message
        except Exception as e:  # the chief survives any bad call
            code = (grpc.StatusCode.INVALID_ARGUMENT
                    if isinstance(e, (KeyError, ValueError, TypeError))
                    else grpc.StatusCode.INTERNAL)
            message = f"{method} failed: {_one_line(e)}"
        message = message[:300]
        self._say(f"refused {method} from {context.peer()}: {message}")
        context.abort(code, message)

    def _say(self, line: str) -> None:
        print(f"tune.py: chief: {line}", file=self._log, flush=True)

    def _authenticate(self, metadata) -> None:
        if self._token is None:
            return
        given = metadata.get(TOKEN_KEY)
        if given is None:
            raise _Refused("UNAUTHENTICATED", "no token; this chief requires the shared token "
                                              f"(--auth-token or {TOKEN_ENV})")
        if not hmac.compare_digest(given.encode("utf-8", "replace"), self._token):
            raise _Refused("UNAUTHENTICATED", "wrong token")

    def _holder(self, trial_id, lease) -> str | None:
        """The tuner id that holds ``trial_id`` under ``lease`` (None: not a current lease)."""
        held = self._leases.get(trial_id)
        if (held is None or lease is None
                or not hmac.compare_digest(lease.encode("utf-8", "replace"),
                                           held[1].encode("ascii"))):
            return None
        return held[0]

    def _check(self, method, request, metadata) -> None:
        if method == "CreateTrial" and not request.tuner_id:
            raise _Refused("INVALID_ARGUMENT", "CreateTrial needs a tuner_id")
        if method not in _REPORTS:
            return
        if method == "UpdateTrial":
            trial_id = request.trial_id
        else:
            from keras_tuner.src.engine import trial as trial_module

            trial = trial_module.Trial.from_proto(request.trial)
            trial_id = trial.trial_id
        if trial_id not in self.oracle.trials:
            raise _Refused("NOT_FOUND", f"no trial {trial_id!r} in this search")
        lease = metadata.get(LEASE_KEY)
        holder = self._holder(trial_id, lease)
        if holder is None:
            if lease in self._lapsed:
                raise _Refused("PERMISSION_DENIED", f"trial {trial_id!r} was taken back: "
                                                    f"{self._lapsed[lease]}")
            raise _Refused("PERMISSION_DENIED",
                           f"trial {trial_id!r} was not handed to this client")
        running = self.oracle.ongoing_trials.get(holder)
        if running is None or running.trial_id != trial_id:
            raise _Refused("PERMISSION_DENIED", f"trial {trial_id!r} is not running")
        if method == "EndTrial":
            self._check_end(trial)

    def _check_end(self, trial) -> None:
        if trial.status not in _END_STATUSES:
            raise _Refused("INVALID_ARGUMENT", f"EndTrial status must be one of "
                                               f"{', '.join(_END_STATUSES)}; got {trial.status}")
        handed = self.oracle.trials[trial.trial_id].hyperparameters.values
        reported = trial.hyperparameters.values
        changed = sorted(k for k, v in handed.items() if k in reported and reported[k] != v)
        if changed:
            raise _Refused("INVALID_ARGUMENT", f"trial {trial.trial_id!r} reports other values "
                                               f"of {', '.join(changed)} than it was given")

    def _renew(self, method, request, metadata) -> None:
        """A CreateTrial renews its tuner id's lease; so does a call with a current lease."""
        if method == "CreateTrial":
            self._seen[request.tuner_id] = self._clock()
            return
        trial_id = (request.trial.trial_id if method == "EndTrial"
                    else request.trial_id if method in ("UpdateTrial", "GetTrial") else None)
        holder = self._holder(trial_id, metadata.get(LEASE_KEY)) if trial_id else None
        if holder is not None:
            self._seen[holder] = self._clock()

    def _expire(self) -> None:
        now = self._clock()
        alive = set(self.oracle.tuner_ids) | set(self.oracle.ongoing_trials)
        for tuner_id in set(self._seen) - alive:  # stopped: nothing to watch
            del self._seen[tuner_id]
        for tuner_id in sorted(alive):
            if now - self._seen.setdefault(tuner_id, now) > self.lease_seconds:
                self._lapse(tuner_id)

    def _lapse(self, tuner_id) -> None:
        """Forgets a worker the chief has not heard from; hands its trial out again
        (or ends it FAILED after ``max_runs`` runs)."""
        oracle = self.oracle
        del self._seen[tuner_id]
        oracle.tuner_ids.discard(tuner_id)
        trial = oracle.ongoing_trials.pop(tuner_id, None)
        why = f"{tuner_id} sent nothing for {self.lease_seconds:g} s"
        if trial is None:
            self._say(f"{why} (lease lapsed; it held no trial); forgotten.")
            return
        trial_id = trial.trial_id
        held = self._leases.pop(trial_id, None)
        if held is not None:
            self._lapsed[held[1]] = f"its lease lapsed ({why})"
        runs = oracle._run_times.get(trial_id, 0) + 1
        trial.message = f"its worker was lost: {why}"
        if runs < self.max_runs:
            oracle._run_times[trial_id] = runs
            trial.status = "INVALID"  # as keras-tuner keeps a trial waiting for a retry
            oracle._retry_queue.append(trial_id)
            oracle._save_trial(trial)
            oracle.save()
            self._say(f"{why} (lease lapsed); its trial {trial_id} is handed out again "
                      f"(run {runs + 1} of at most {self.max_runs}).")
        else:
            trial.status = "FAILED"
            oracle.end_trial(trial)  # counts the run, saves
            self._say(f"{why} (lease lapsed); its trial {trial_id} FAILED (lost in {runs} "
                      f"run{'s' if runs > 1 else ''}).")

    def _may_come_back(self, tuner_id) -> bool:
        """Whether a trial another worker holds would be handed out again if it lapsed."""
        return any(other != tuner_id and self.oracle._run_times.get(trial.trial_id, 0) + 1
                   < self.max_runs for other, trial in self.oracle.ongoing_trials.items())

    def _after(self, method, request, response, context):
        if method == "CreateTrial":
            return self._handed_out(request, response, context)
        if method == "EndTrial":
            trial_id = request.trial.trial_id
            if not any(t.trial_id == trial_id for t in self.oracle.ongoing_trials.values()):
                self._leases.pop(trial_id, None)
        return response

    def _handed_out(self, request, response, context):
        from keras_tuner.src import protos
        from keras_tuner.src.engine import trial as trial_module

        trailing = [(LEASE_SECONDS_KEY, f"{self.lease_seconds:g}")]
        tuner_id = request.tuner_id
        running = self.oracle.ongoing_trials.get(tuner_id)
        if running is not None and running.trial_id == response.trial.trial_id:
            lease = secrets.token_hex(16)  # a new one on every hand-out
            self._leases[running.trial_id] = (tuner_id, lease)
            trailing.append((LEASE_KEY, lease))
        elif (trial_module.Trial.from_proto(response.trial).status == "STOPPED"
                and self._may_come_back(tuner_id)):
            self.oracle.tuner_ids.add(tuner_id)  # waits (IDLE) instead of stopping
            idle = trial_module.Trial(self.oracle.hyperparameters.copy(), status="IDLE")
            response = protos.get_service().CreateTrialResponse(trial=idle.to_proto())
        context.set_trailing_metadata(tuple(trailing))
        return response


def serve_oracle(oracle, config, verbose=1, poll_seconds=0.2) -> None:
    """Runs the oracle's gRPC server until every trial is handed out and finished.

    keras-tuner's own loop polls every 20 s once the last trial is handed out;
    this one polls every ``poll_seconds`` and ends the workers' leases that
    lapsed (``config.trial_lease`` seconds). The oracle is served through a
    :class:`GuardedServicer` (token, leases, errors answered and logged).
    """
    from concurrent import futures

    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute.oracle_chief import exit_chief

    host = os.environ["KERASTUNER_ORACLE_IP"]
    port = os.environ["KERASTUNER_ORACLE_PORT"]
    token = auth_token(config)
    if not _is_loopback(host):
        if token is None:
            print(f"tune.py: warning: the oracle listens on {host}:{port} without "
                  "authentication; admit only the workers (firewall, private network or SSH "
                  "tunnels) or set a shared token (--auth-token / KERASCNN_TUNER_TOKEN).",
                  file=sys.stderr)
        else:
            print(f"tune.py: warning: the oracle listens on {host}:{port} unencrypted (the "
                  "token travels in clear text); admit only the workers (firewall, private "
                  "network or SSH tunnels).", file=sys.stderr)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    servicer = GuardedServicer(oracle, token=token,
                               lease_seconds=getattr(config, "trial_lease", 60.0))
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
        print(f"oracle serving on {host}:{port}"
              + (" (token required)" if token is not None else ""), flush=True)
    try:
        while True:
            time.sleep(poll_seconds)
            servicer.check_leases()
            if servicer.stop_triggered and exit_chief(oracle):
                break
    finally:
        server.stop(grace=2)
        # end_trial saves the oracle before it forgets the ongoing trial: save the final state.
        oracle.save()


def _client_interceptor(token: str | None):
    import grpc

    class _Details(collections.namedtuple(
            "_Details", ("method", "timeout", "metadata", "credentials", "wait_for_ready",
                         "compression")), grpc.ClientCallDetails):
        pass

    class _Credentials(grpc.UnaryUnaryClientInterceptor):
        """Adds the token to every call and a trial's lease to its reports and
        GetTrial calls; keeps the lease CreateTrial returns, the trial held
        (``current``) and the chief's lease length; waits up to a second when
        the chief answers IDLE (keras-tuner asks again at once)."""

        def __init__(self):
            self.leases: dict[str, str] = {}
            self.current: str | None = None
            self.lease_seconds: float | None = None

        def intercept_unary_unary(self, continuation, details, request):
            method = details.method.rsplit("/", 1)[-1]
            metadata = list(details.metadata or ())
            if token is not None:
                metadata.append((TOKEN_KEY, token))
            trial_id = (request.trial_id if method in ("UpdateTrial", "GetTrial")
                        else request.trial.trial_id if method == "EndTrial" else None)
            if trial_id in self.leases:
                metadata.append((LEASE_KEY, self.leases[trial_id]))
            call = continuation(_Details(details.method, details.timeout, metadata,
                                         details.credentials, details.wait_for_ready,
                                         details.compression), request)
            if call.code() != grpc.StatusCode.OK:
                return call
            if method == "CreateTrial":
                self._handed(call)
            elif method == "EndTrial" and trial_id == self.current:
                self.current = None
            return call

        def _handed(self, call) -> None:
            from keras_tuner.src.engine import trial as trial_module

            trailing = dict(call.trailing_metadata() or ())
            with contextlib.suppress(TypeError, ValueError):
                self.lease_seconds = float(trailing[LEASE_SECONDS_KEY])
            trial = call.result().trial
            if trailing.get(LEASE_KEY) is not None:
                self.leases[trial.trial_id] = trailing[LEASE_KEY]
                self.current = trial.trial_id
            if trial_module.Trial.from_proto(trial).status == "IDLE":
                time.sleep(min(1.0, self.beat_seconds()))  # then asks again

        def beat_seconds(self) -> float:
            """A quarter of the chief's lease (at most 1 s before the first trial)."""
            return self.lease_seconds / 4 if self.lease_seconds else 1.0

    return _Credentials()


def authorize_client(client, config):
    """Makes keras-tuner's ``OracleClient`` ``client`` (a worker's
    ``tuner.oracle``) send the shared token with every call and each trial's
    lease with its reports; returns the interceptor (its ``current`` trial and
    ``lease_seconds`` drive :func:`_heartbeat`)."""
    import grpc
    from keras_tuner.src import protos

    token = auth_token(config)
    host = os.environ["KERASTUNER_ORACLE_IP"]
    port = os.environ["KERASTUNER_ORACLE_PORT"]
    credentials = _client_interceptor(token)
    channel = grpc.intercept_channel(grpc.insecure_channel(f"{host}:{port}"), credentials)
    client.stub = protos.get_service_grpc().OracleStub(channel)
    return credentials


def wait_for_chief(stub, config, poll_seconds=0.25) -> None:
    """One GetSpace call, retried while the chief's address refuses connections,
    for at most ``config.connect_timeout`` seconds.

    keras-tuner's calls wait for the channel (``wait_for_ready``) for the whole
    call timeout; this one does not, so a worker pointed at a closed port
    stops within seconds: SearchError naming the address. Any other failure
    (a hung chief, a wrong token) is raised as gRPC's error.
    """
    import grpc
    from keras_tuner.src import protos

    deadline = time.monotonic() + float(config.connect_timeout)
    while True:
        try:
            stub.GetSpace(protos.get_service().GetSpaceRequest(), wait_for_ready=False,
                          timeout=float(config.oracle_timeout))
            return
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.UNAVAILABLE:
                raise
            if time.monotonic() >= deadline:
                reason = " ".join((e.details() or "unavailable").split()).rsplit(": ", 1)[-1]
                raise SearchError(
                    f"cannot connect to the chief at {config.chief} ({reason}) within "
                    f"{float(config.connect_timeout):g} s; start the chief first (tune.py "
                    "--chief HOST:PORT) or raise --connect-timeout.") from None
        time.sleep(poll_seconds)


@contextlib.contextmanager
def _heartbeat(stub, credentials):
    """While the block runs, a daemon thread renews the lease of the trial the
    worker holds: a GetTrial (which carries the lease) every quarter of the
    chief's lease. A failed beat is ignored: the worker's own calls report a
    lost chief."""
    import grpc
    from keras_tuner.src import protos

    stop = threading.Event()

    def beat():
        while not stop.wait(credentials.beat_seconds()):
            trial_id = credentials.current
            if trial_id is None:
                continue
            with contextlib.suppress(grpc.RpcError):
                stub.GetTrial(protos.get_service().GetTrialRequest(trial_id=trial_id),
                              timeout=max(credentials.beat_seconds(), 1.0))

    thread = threading.Thread(target=beat, name="kerascnn-tuner-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


@contextlib.contextmanager
def worker_session(client, config):
    """A worker's side of the search: token and leases on every call
    (:func:`authorize_client`), the chief reachable (:func:`wait_for_chief`),
    the heartbeat of the trial held, and :func:`oracle_timeout`."""
    credentials = authorize_client(client, config)
    with oracle_timeout(config):
        wait_for_chief(client.stub, config)
        with _heartbeat(client.stub, credentials):
            yield


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
        details = " ".join(((e.details() if hasattr(e, "details") else "") or "").split())
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            what = f"did not answer within {config.oracle_timeout:g} s"
        elif code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED,
                      grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
            hint = {grpc.StatusCode.UNAUTHENTICATED: "; give every worker the chief's token "
                                                     f"(--auth-token or {TOKEN_ENV})",
                    grpc.StatusCode.PERMISSION_DENIED: "; if the chief was restarted, start "
                                                       "this worker again"}.get(code, "")
            raise OracleUnavailable(f"the oracle at {config.chief} refused the call "
                                    f"({code.name}: {details}){hint}.") from None
        else:
            what = f"failed ({getattr(code, 'name', code)}: {details})".rstrip()
        raise OracleUnavailable(
            f"the oracle at {config.chief} {what}; start the chief first "
            "(tune.py --chief HOST:PORT) or raise --oracle-timeout.") from None
    finally:
        oracle_client.TIMEOUT = previous
