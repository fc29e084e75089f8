"""Start the bundled server in a subprocess, for tests and harnesses: ``running_server`` / ``ServerProcess``.

Rules this module keeps:
- the server always runs in its own process (``python -m local_server``), never in the caller's: what is
  measured on the client side never shares an interpreter with the server;
- ``start`` returns only once the server has printed its URL and answered a request; ``stop`` always
  reaps the process (SIGTERM, then SIGKILL after a grace period) and closes the pipe, even after a failure;
  on Linux the server also gets SIGTERM when the process that started it dies, even by SIGKILL, so a
  killed harness leaves no orphan server behind;
- ``fetch_stats`` / ``reset_stats`` read the control routes, which the server does not count; ``Stats`` is
  the one definition of what ``GET /stats`` answers (the server builds it, every reader reads it);
- an ``https://`` URL is verified against ``ca_file`` (host name included), never trusted blindly;
  ``ServerProcess(tls=True)`` writes the server's test CA into a temporary directory of its own
  (``.ca_file``), removed by ``stop``.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import http.client
import json
import os
import select
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from typing import IO, Any, NotRequired, Self, TypedDict, cast, get_origin, get_type_hints
from urllib.parse import urlsplit

#: How long a server may take to print its URL and answer: an interpreter start on a loaded 2-core box.
STARTUP_TIMEOUT_S = 20.0
#: Grace period between SIGTERM and SIGKILL.
STOP_TIMEOUT_S = 5.0


#: prctl(2) option: the signal a process receives when its parent dies.
PR_SET_PDEATHSIG = 1


#: Looked up once here, not in the forked child: between fork and exec only the call itself runs.
_prctl = ctypes.CDLL(None).prctl if sys.platform == "linux" else None


def _die_with_parent() -> None:
    if _prctl is not None:
        _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class TlsSettings(TypedDict):
    """How a ``--tls`` server serves: the one protocol version it speaks, tickets on or off."""

    version: str  # "TLSv1.3" or "TLSv1.2": minimum and maximum both
    tickets: bool  # session tickets issued (resumption possible); False with --no-tickets
    alpn: list[str]  # the protocols it selects by ALPN: ["http/1.1"]
    handshake_timeout_s: float


class TlsHandshakes(TypedDict):
    """Completed handshakes, full and resumed apart, and the server's CPU seconds in ``do_handshake``
    (``time.thread_time`` around each call) for each kind and for the handshakes that failed."""

    full: int
    resumed: int
    full_cpu_s: float
    resumed_cpu_s: float
    failed_cpu_s: float


class Stats(TypedDict):
    """``GET /stats``: the server's counters since its start or the last ``POST /stats/reset``."""

    backend: str
    requests: int  # requests answered or being answered (control routes and protocol errors excluded)
    open_connections: int
    in_flight: int
    peak_in_flight: int
    bad_requests: int  # protocol errors answered with a status (a plain request on the TLS port too)
    status_counts: dict[str, int]  # status -> answers, control routes excluded
    pid: int
    cpu_s: float  # the server process's user + system CPU seconds since it started (never reset)
    uptime_s: float
    #: The longest time the loop could not react since the start or the last reset: its longest turn, or
    #: its longest wait past the wait's timeout (stopped, or not given a core), whichever is longer
    #: (``local_server.server``); a stalled server shows here.
    loop_lag_max_s: float
    # A --tls server's only (a plain server's /stats has none of these):
    tls: NotRequired[TlsSettings]
    tls_handshakes: NotRequired[TlsHandshakes]
    #: Connections that ended before their handshake completed, by kind: "plain_http" (answered 400 in
    #: plain text), "not_tls" (bytes that are no TLS record), "bad_hello", "version" (a protocol version
    #: the server does not speak), "eof" (closed mid-handshake), "reset", "timeout" (the handshake
    #: timeout), "fd_setsize" (select's limit), or OpenSSL's reason in lower case for anything else.
    tls_handshake_failures: NotRequired[dict[str, int]]
    #: Completed handshakes by the cipher suite negotiated (OpenSSL's name, e.g. "TLS_AES_256_GCM_SHA384").
    tls_ciphers: NotRequired[dict[str, int]]


#: The keys every ``/stats`` answer has, in ``Stats``'s order (a ``--tls`` server's add the ``NotRequired``
#: ones): what a reader checks to know the server is ours. Read off ``Stats``'s hints, not ``Stats.__required_keys__``: with postponed
#: annotations (PEP 563) Python 3.11 cannot see ``NotRequired`` there and calls every key required.
STATS_KEYS = tuple(key for key, hint in get_type_hints(Stats, include_extras=True).items()
                   if get_origin(hint) is not NotRequired)


class ServerError(RuntimeError):
    """The server did not start (its exit status and stderr, when known, are in the message)."""


class ServerProcess:
    """``python -m local_server`` in a subprocess. ``.url``, ``.pid`` and ``.popen`` once started.

    ``tls=True`` serves https: with the server's own test CA, written to ``.ca_file`` (a temporary
    directory removed by ``stop``), or, when ``ca_file`` is given, with the certificate that
    ``extra_args`` name (``--cert FILE --key FILE``) and that ``ca_file`` verifies."""

    def __init__(self, backend: str = "epoll", host: str = "127.0.0.1", port: int = 0,
                 extra_args: Sequence[str] = (), stderr: int | IO[Any] | None = None,
                 cpus: Sequence[int] | None = None, prefix: Sequence[str] = (), tls: bool = False,
                 ca_file: str | None = None) -> None:
        # ``prefix``: a command that execs the server in place, e.g. ``ip netns exec NS`` (``bench.netns``).
        self.args = [*prefix, sys.executable, "-m", "local_server", "--backend", backend, "--host", host,
                     "--port", str(port), *extra_args]
        self.stderr = stderr
        self.cpus = cpus  # pin the server to these CPUs (os.sched_setaffinity), e.g. away from clients
        self.popen: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.tls = tls
        self.ca_file = ca_file
        self._ca_dir: str | None = None

    @property
    def pid(self) -> int:
        if self.popen is None:
            raise ServerError("server not started")
        return self.popen.pid

    def start(self, timeout: float = STARTUP_TIMEOUT_S) -> str:
        args = self.args
        if self.tls:
            args = [*args, "--tls"]
            if self.ca_file is None:
                self._ca_dir = tempfile.mkdtemp(prefix="concbench-ca-")
                self.ca_file = os.path.join(self._ca_dir, "ca.pem")
                args += ["--ca-file", self.ca_file]
        try:
            self.popen = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.stderr,
                                          stdin=subprocess.DEVNULL,
                                          preexec_fn=_die_with_parent)  # noqa: PLW1509 - one prctl call, no lock taken
            if self.cpus is not None:
                os.sched_setaffinity(self.popen.pid, self.cpus)
            self.url = self._read_url(timeout)
            wait_until_answers(self.url, timeout, self.ca_file)
        except BaseException:
            self.stop()
            raise
        return self.url

    def _read_url(self, timeout: float) -> str:
        assert self.popen is not None
        assert self.popen.stdout is not None
        ready, _, _ = select.select([self.popen.stdout], [], [], timeout)
        line = self.popen.stdout.readline().decode().strip() if ready else ""
        if not line.startswith("https://" if self.tls else "http://"):
            code = self.popen.poll()
            raise ServerError(f"server did not print its URL within {timeout}s "
                              f"(exit status {code}, stdout {line!r}, command {' '.join(self.args)})")
        return line

    def stop(self) -> int | None:
        """Stop the server; return its exit status (None if it was never started)."""
        if self._ca_dir is not None:
            shutil.rmtree(self._ca_dir, ignore_errors=True)
            self._ca_dir = None
        if self.popen is None:
            return None
        popen = self.popen
        if popen.poll() is None:
            popen.terminate()
            try:
                popen.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait()
        if popen.stdout is not None:
            popen.stdout.close()
        return popen.returncode

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def running_server(backend: str = "epoll", host: str = "127.0.0.1", port: int = 0,
                   extra_args: Sequence[str] = ()) -> Iterator[str]:
    """Run the server for the duration of the block; yield its base URL (``http://127.0.0.1:PORT/``)."""
    with ServerProcess(backend, host, port, extra_args) as server:
        yield server.url


@functools.lru_cache(maxsize=16)
def _client_context(ca_file: str | None, _version: tuple[int, int]) -> ssl.SSLContext:
    """A verifying client context (made once per CA file and version of it: one costs milliseconds)."""
    return ssl.create_default_context(cafile=ca_file)


def _request(url: str, method: str, path: str, timeout: float,
             ca_file: str | None = None) -> tuple[int, bytes]:
    parts = urlsplit(url)
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        stat = os.stat(ca_file) if ca_file is not None else None  # a new CA at the same path: a new context
        context = _client_context(ca_file, (stat.st_mtime_ns, stat.st_ino) if stat else (0, 0))
        conn = http.client.HTTPSConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout,
                                           context=context)
    else:
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_until_answers(url: str, timeout: float = STARTUP_TIMEOUT_S, ca_file: str | None = None) -> None:
    """Poll ``GET /stats`` until the server answers 200 (raise ``ServerError`` after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            status = _request(url, "GET", "/stats", timeout=1.0, ca_file=ca_file)[0]
            if status == 200:
                return
            why = f"status {status}"
        except OSError as exc:
            why = str(exc)
        if time.monotonic() > deadline:
            raise ServerError(f"{url} did not answer within {timeout}s: {why}")
        time.sleep(0.01)


def fetch_stats(url: str, timeout: float = 5.0, ca_file: str | None = None) -> Stats:
    """``GET /stats`` (not counted by the server). ServerError when it is not answered 200."""
    return _control_json(url, "GET", "/stats", timeout, ca_file)


def reset_stats(url: str, timeout: float = 5.0, ca_file: str | None = None) -> Stats:
    """``POST /stats/reset``: zero the counters; return the snapshot taken just before."""
    return _control_json(url, "POST", "/stats/reset", timeout, ca_file)


def _control_json(url: str, method: str, path: str, timeout: float, ca_file: str | None) -> Stats:
    status, body = _request(url, method, path, timeout, ca_file)
    if status != 200:
        raise ServerError(f"{method} {path} at {url}: status {status}")
    return cast(Stats, json.loads(body))
