"""Runner side of the worker protocol: start a strategy's worker, run rounds in it, always reap it.

Stable API (the bench and the CLI use exactly this)::

    with WorkerProcess("threads", cpus={1}) as worker:
        worker.setup(workload.client_config())      # optional: run_round sets up when the config changes
        result = worker.run_round(workload)          # RoundResult; .to_dict() for JSON
        # or in three steps, so that a harness timing the round trip times only the fetch:
        worker.prepare_round(workload); worker.fetch_round(); result = worker.measure_round()
        explained = worker.explain_round(workload)   # untimed, profiled: CPU by category (strategies.probes.explain)
    # WorkerError: the worker crashed, hung past its deadline, or its strategy raised (see .stderr)

Rules this module keeps:
- every wait on the worker has a deadline: ``start_timeout_s`` for start and setup, ``Workload.deadline_s``
  for a round. Past it, or if the worker dies, it is killed and ``WorkerError`` carries its stderr tail;
- a worker's exit status is never looked at: once it has answered ``exit`` its rounds stand whatever it exits
  with (pyreqwest's runtime sometimes aborts the interpreter at finalization, ``strategies.impl.pyreqwest_client``);
  a worker that dies *before* answering is a ``WorkerError`` of the call it did not answer;
- the worker's stderr goes to a temporary file, never a pipe: a chatty library cannot fill a pipe and
  deadlock the worker, and the tail is there when something goes wrong;
- CPU pinning (``cpus``) is applied right after the spawn, before setup, so every thread and process the
  strategy starts inherits it;
- ``command_prefix`` (e.g. ``valgrind --tool=callgrind``, see ``strategies.probes.instructions``) goes before the
  worker's command line and must exec it in the same process: the pid, the pipes and the kill stay its;
- ``command`` replaces the worker's command line by another worker speaking the same protocol (an era's,
  ``strategies.eras.EraWorkerProcess``, which also overrides what ``prepare`` sends and what ``measure``
  makes of the reply: the two hooks ``prepare_message`` and ``measurements``), or today's worker under another
  interpreter (``strategies.pythons.PythonWorkerProcess``);
- server-side figures come from our server's ``/stats`` (reset before the round, read after; over https
  verified against the workload's ``ca_file``). Against any other server they are None: we never guess;
- over https, what the round negotiated (``RoundResult.tls``) is the server's count, the same for every
  library: its one protocol version, the round's handshakes by cipher, full and resumed apart. Two
  ``/stats`` requests land between the reset and the reading after the round (the one that follows the
  reset, and that reading itself), each with a full handshake of its own; one more ``/stats`` right after
  counts exactly one such handshake, so the round's are the reading less twice the difference
  (``round_tls``).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Self

from local_server.api import STATS_KEYS, ServerError, Stats, fetch_stats, reset_stats
from strategies.base import ClientConfig
from strategies.workload import Workload, config_to_dict

#: Start-up and setup bound: importing Twisted or starting 100 forked children on a loaded 2-core machine
#: takes seconds; a minute means something is broken.
START_TIMEOUT_S = 60.0

#: How much of the worker's stderr a WorkerError carries: enough for a traceback.
STDERR_TAIL_BYTES = 4000

#: Bound on one /stats request: the server answers it from memory, on loopback.
STATS_TIMEOUT_S = 5.0


class WorkerError(RuntimeError):
    """The worker failed. ``alive`` is True when only the strategy raised and the worker can go on."""

    def __init__(self, message: str, stderr: str = "", alive: bool = False):
        super().__init__(message if not stderr else f"{message}\n--- worker stderr (tail) ---\n{stderr}")
        self.stderr = stderr
        self.alive = alive


@dataclass
class SetupInfo:
    strategy: str
    pid: int
    import_s: float
    cold_start_s: float


@dataclass
class RoundResult:
    strategy: str
    requests: int
    concurrency: int
    policy: str
    profile: str
    delay_ms: int
    size: int
    method: str
    ok: int
    errors: int
    error_kinds: dict[str, int]
    error_samples: list[str]
    #: Seconds around ``fetcher.fetch`` only, measured in the worker.
    wall_s: float
    #: user+sys seconds of the worker and all its descendants during the round.
    cpu_s: float
    #: Per-round high-water RSS summed over the worker's process tree (see strategies.worker.host).
    peak_rss_kb: int
    #: Proportional set size of the tree at the end of the round (shared pages split): the footprint.
    pss_kb: int | None
    latency_ms: dict[str, float | None]
    cold_start_s: float
    import_s: float
    #: From our server's /stats; None against another server.
    peak_in_flight: int | None = None
    server_cpu_s: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: ``http`` or ``https``.
    scheme: str = "http"
    #: Over https against our server: ``{"version": "TLSv1.3", "ciphers": {name: handshakes}, "full": n,
    #: "resumed": n}``, the round's handshakes only (see the module's rules); None otherwise.
    tls: dict[str, Any] | None = None

    @property
    def req_per_s(self) -> float | None:
        return self.requests / self.wall_s if self.wall_s > 0 else None

    @property
    def cpu_us_per_req(self) -> float | None:
        return self.cpu_s / self.requests * 1e6 if self.requests else None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(req_per_s=self.req_per_s, cpu_us_per_req=self.cpu_us_per_req)
        return data


class WorkerProcess:
    def __init__(self, name: str, cpus: set[int] | None = None, start_timeout_s: float = START_TIMEOUT_S,
                 command_prefix: Sequence[str] = (), command: Sequence[str] | None = None):
        self.name = name
        self.start_timeout_s = start_timeout_s
        self.config: ClientConfig | None = None
        self.setup_info: SetupInfo | None = None
        #: ``sys._is_gil_enabled()`` in the worker after its last setup (None: before 3.13, or not set up).
        self.gil_enabled: bool | None = None
        self._round: Workload | None = None  # between prepare_round and measure_round
        self._buffer = b""
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the worker
        self.popen = subprocess.Popen(
            [*command_prefix, *(command or (sys.executable, "-m", "strategies.worker", name))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
        )
        try:
            if cpus:
                os.sched_setaffinity(self.popen.pid, cpus)
            hello = self._receive(start_timeout_s, "start")
        except BaseException:
            self.close()
            raise
        self.import_s: float = hello["import_s"]
        self.hello = hello

    @property
    def pid(self) -> int:
        return self.popen.pid

    def setup(self, config: ClientConfig) -> SetupInfo:
        reply = self._call({"cmd": "setup", "config": config_to_dict(config)}, self.start_timeout_s)
        self.config = config
        self.gil_enabled = reply.get("gil_enabled")  # an era's worker does not say
        self.setup_info = SetupInfo(self.name, self.pid, self.import_s, reply["cold_start_s"])
        return self.setup_info

    def run_round(
        self, workload: Workload, server_stats: bool = True, deadline_s: float | None = None
    ) -> RoundResult:
        """One round in the worker; sets the strategy up first if ``workload`` needs another config."""
        self.prepare_round(workload)
        ca_file = workload.ca_file
        before = _server_stats(workload.base_url, reset=True, ca_file=ca_file) if server_stats else None
        self.fetch_round(deadline_s)
        after = _server_stats(workload.base_url, ca_file=ca_file) if before is not None else None
        again = _server_stats(workload.base_url, ca_file=ca_file) if after and "tls" in after else None
        result = self.measure_round()
        if after and before:
            result.peak_in_flight = after["peak_in_flight"]
            result.server_cpu_s = after["cpu_s"] - before["cpu_s"]
            result.tls = round_tls(after, again)
        return result

    # A round in three steps, for a harness that times the round trip itself (pytest-benchmark): only
    # ``fetch_round`` needs to be inside its timer; URL building, verification and bookkeeping are not.

    def prepare_round(self, workload: Workload) -> None:
        config = workload.client_config()
        if self.config != config or self.setup_info is None:
            self.setup(config)
        self._call(self.prepare_message(workload), self.start_timeout_s)
        self._round = workload

    def prepare_message(self, workload: Workload) -> dict[str, Any]:
        """Hook: the ``prepare`` command that readies a round of ``workload``. Today's worker builds the URLs
        itself from the workload; a worker speaking the protocol another way overrides this (an era's is sent
        the URLs: ``strategies.eras``), and ``measurements`` with it."""
        return {"cmd": "prepare", "workload": workload.to_dict()}

    def fetch_round(self, deadline_s: float | None = None) -> float:
        """The timed step: the worker runs the fetch and answers with its own timing of it (wall_s)."""
        if self._round is None:
            raise RuntimeError("fetch_round without prepare_round")
        timeout = deadline_s if deadline_s is not None else self._round.deadline_s()
        wall_s: float = self._call({"cmd": "fetch"}, timeout)["wall_s"]
        return wall_s

    def measure_round(self) -> RoundResult:
        workload, self._round = self._round, None
        if workload is None or self.setup_info is None:
            raise RuntimeError("measure_round without prepare_round")
        measured = self.measurements(self._call({"cmd": "measure"}, self.start_timeout_s), workload)
        return RoundResult(
            strategy=self.name, concurrency=workload.concurrency, policy=workload.policy,
            profile=workload.profile, scheme=workload.scheme,
            delay_ms=workload.delay_ms, size=workload.size, method=workload.method,
            cold_start_s=self.setup_info.cold_start_s, import_s=self.import_s, **measured,
        )

    def measurements(self, reply: dict[str, Any], workload: Workload) -> dict[str, Any]:
        """Hook: the round's measurements (``RoundResult``'s fields from ``requests`` to ``latency_ms``) from
        the worker's reply to ``measure``. Today's worker has judged the round and answers with them; a worker
        that answers with raw outcomes overrides this to verify and summarise them (``strategies.eras``), so
        every row is judged by the one ``strategies.workload.judge``."""
        measured: dict[str, Any] = reply["result"]
        return measured

    def explain_round(self, workload: Workload, deadline_s: float | None = None) -> dict[str, Any]:
        """Where a round's CPU goes (``strategies.probes.explain.explanation``), from an unprofiled and a profiled
        fetch of ``workload``, never timed ones. The deadline covers both fetches: twice a round's."""
        config = workload.client_config()
        if self.config != config or self.setup_info is None:
            self.setup(config)
        timeout = deadline_s if deadline_s is not None else 2 * workload.deadline_s()
        explained: dict[str, Any] = self._call({"cmd": "explain", "workload": workload.to_dict()}, timeout)["explain"]
        return explained

    def teardown(self) -> None:
        self._call({"cmd": "teardown"}, self.start_timeout_s)
        self.config = self.setup_info = None

    def close(self) -> None:
        """Ask the worker to exit, kill it if it does not, and release everything. Idempotent."""
        if self.popen.poll() is None:
            try:
                self._call({"cmd": "exit"}, self.start_timeout_s)
                self.popen.wait(self.start_timeout_s)
            except (WorkerError, subprocess.TimeoutExpired):
                pass
        self._kill()
        for stream in (self.popen.stdin, self.popen.stdout):
            if stream is not None and not stream.closed:
                stream.close()
        if not self._stderr.closed:
            self._stderr.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def stderr_tail(self) -> str:
        if self._stderr.closed:
            return ""
        self._stderr.flush()
        size = self._stderr.seek(0, os.SEEK_END)
        self._stderr.seek(max(0, size - STDERR_TAIL_BYTES))
        return self._stderr.read().decode("utf-8", "replace")

    # -- protocol ------------------------------------------------------------------------------------

    def _call(self, message: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        if self.popen.poll() is not None:
            raise self._dead(f"worker {self.name} has exited (code {self.popen.returncode})")
        assert self.popen.stdin is not None
        try:
            self.popen.stdin.write(json.dumps(message).encode() + b"\n")
            self.popen.stdin.flush()
        except OSError:
            raise self._dead(f"worker {self.name} is gone (writing {message['cmd']!r})") from None
        try:
            return self._receive(timeout_s, message["cmd"])
        except (WorkerError, KeyboardInterrupt):  # Ctrl-C: the sweep's teardown closes every worker
            raise
        except BaseException:
            # Cut off mid-call (pytest-timeout) with the sweep going on: its answer would be read as the
            # next call's, so it is killed and the next call fails its row cleanly.
            self._kill()
            raise

    def _receive(self, timeout_s: float, what: str) -> dict[str, Any]:
        assert self.popen.stdout is not None
        fd = self.popen.stdout.fileno()
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                self._kill()
                raise self._dead(f"worker {self.name} did not answer {what!r} within {timeout_s:.1f} s; killed")
            chunk = os.read(fd, 65536)
            if not chunk:
                self._kill()
                raise self._dead(f"worker {self.name} died during {what!r} (code {self.popen.returncode})")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        reply: dict[str, Any] = json.loads(line)
        if not reply.get("ok"):
            alive = self.popen.poll() is None
            if not alive:
                self._kill()
            raise WorkerError(f"{self.name}: {what} failed:\n{reply.get('error', '')}".rstrip(),
                              "" if alive else self.stderr_tail(), alive=alive)
        return reply

    def _kill(self) -> None:
        if self.popen.poll() is None:
            # Its descendants (pool processes, fork servers) would outlive it: end them too, by pid.
            import psutil

            try:
                descendants = psutil.Process(self.popen.pid).children(recursive=True)
            except psutil.Error:
                descendants = []
            self.popen.kill()
            for process in descendants:
                with contextlib.suppress(psutil.Error):
                    process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(self.start_timeout_s)

    def _dead(self, message: str) -> WorkerError:
        return WorkerError(message, self.stderr_tail())


def _server_stats(base_url: str, reset: bool = False, ca_file: str | None = None) -> Stats | None:
    """Our server's /stats (after POST /stats/reset when ``reset``), or None when the server is not ours."""
    try:
        if reset:
            reset_stats(base_url, STATS_TIMEOUT_S, ca_file)
        data = fetch_stats(base_url, STATS_TIMEOUT_S, ca_file)
    except (OSError, ValueError, http.client.HTTPException, ServerError):
        return None
    if not isinstance(data, dict) or not data.keys() >= set(STATS_KEYS):
        return None
    return data


#: The ``/stats`` requests this runner's reading after a round counts: the one after the reset (its
#: ``_server_stats(reset=True)`` reads the zeroed counters), and the reading itself.
CONTROL_REQUESTS = 2


def round_tls(after: Stats, again: Stats | None, control_requests: int = CONTROL_REQUESTS) -> dict[str, Any] | None:
    """The round's handshakes: ``after``'s counts less those of the ``control_requests`` ``/stats`` requests
    it counted (the caller's own: this runner's ``CONTROL_REQUESTS``, the sweep's one), each costing what
    ``again`` less ``after`` shows (exactly one request's handshake). None for a plain server."""
    if "tls" not in after or again is None:
        return None
    n = control_requests
    full, resumed = after["tls_handshakes"]["full"], after["tls_handshakes"]["resumed"]
    own_full = n * (again["tls_handshakes"]["full"] - full)
    own_resumed = n * (again["tls_handshakes"]["resumed"] - resumed)
    first, second = after.get("tls_ciphers", {}), again.get("tls_ciphers", {})
    ciphers = {name: count - n * (second.get(name, 0) - count) for name, count in first.items()}
    return {"version": after["tls"]["version"], "ciphers": {name: k for name, k in ciphers.items() if k > 0},
            "full": full - own_full, "resumed": resumed - own_resumed}
