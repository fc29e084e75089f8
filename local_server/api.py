"""Start the bundled server in a subprocess, for tests and harnesses: ``running_server`` / ``ServerProcess``.

Rules this module keeps:
- the server always runs in its own process (``python -m local_server``), never in the caller's: what is
  measured on the client side never shares an interpreter with the server;
- ``start`` returns only once the server has printed its URL and answered a request; ``stop`` always
  reaps the process (SIGTERM, then SIGKILL after a grace period) and closes the pipe, even after a failure;
  on Linux the server also gets SIGTERM when the process that started it dies, even by SIGKILL, so a
  killed harness leaves no orphan server behind;
- ``fetch_stats`` / ``reset_stats`` read the control routes, which the server does not count.
"""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from typing import IO, Any, Self
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


class ServerError(RuntimeError):
    """The server did not start (its exit status and stderr, when known, are in the message)."""


class ServerProcess:
    """``python -m local_server`` in a subprocess. ``.url``, ``.pid`` and ``.popen`` once started."""

    def __init__(self, backend: str = "epoll", host: str = "127.0.0.1", port: int = 0,
                 extra_args: Sequence[str] = (), stderr: int | IO[Any] | None = None,
                 cpus: Sequence[int] | None = None, prefix: Sequence[str] = ()) -> None:
        # ``prefix``: a command that execs the server in place, e.g. ``ip netns exec NS`` (``bench.netns``).
        self.args = [*prefix, sys.executable, "-m", "local_server", "--backend", backend, "--host", host,
                     "--port", str(port), *extra_args]
        self.stderr = stderr
        self.cpus = cpus  # pin the server to these CPUs (os.sched_setaffinity), e.g. away from clients
        self.popen: subprocess.Popen[bytes] | None = None
        self.url = ""

    @property
    def pid(self) -> int:
        if self.popen is None:
            raise ServerError("server not started")
        return self.popen.pid

    def start(self, timeout: float = STARTUP_TIMEOUT_S) -> str:
        self.popen = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=self.stderr,
                                      stdin=subprocess.DEVNULL,
                                      preexec_fn=_die_with_parent)  # noqa: PLW1509 - one prctl call, no lock taken
        try:
            if self.cpus is not None:
                os.sched_setaffinity(self.popen.pid, self.cpus)
            self.url = self._read_url(timeout)
            wait_until_answers(self.url, timeout)
        except BaseException:
            self.stop()
            raise
        return self.url

    def _read_url(self, timeout: float) -> str:
        assert self.popen is not None and self.popen.stdout is not None
        ready, _, _ = select.select([self.popen.stdout], [], [], timeout)
        line = self.popen.stdout.readline().decode().strip() if ready else ""
        if not line.startswith("http://"):
            code = self.popen.poll()
            raise ServerError(f"server did not print its URL within {timeout}s "
                              f"(exit status {code}, stdout {line!r}, command {' '.join(self.args)})")
        return line

    def stop(self) -> int | None:
        """Stop the server; return its exit status (None if it was never started)."""
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


def _request(url: str, method: str, path: str, timeout: float) -> tuple[int, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_until_answers(url: str, timeout: float = STARTUP_TIMEOUT_S) -> None:
    """Poll ``GET /stats`` until the server answers 200 (raise ``ServerError`` after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            status = _request(url, "GET", "/stats", timeout=1.0)[0]
            if status == 200:
                return
            why = f"status {status}"
        except OSError as exc:
            why = str(exc)
        if time.monotonic() > deadline:
            raise ServerError(f"{url} did not answer within {timeout}s: {why}")
        time.sleep(0.01)


def fetch_stats(url: str, timeout: float = 5.0) -> dict[str, Any]:
    """``GET /stats`` as a dict (not counted by the server). ServerError when it is not answered 200."""
    return _control_json(url, "GET", "/stats", timeout)


def reset_stats(url: str, timeout: float = 5.0) -> dict[str, Any]:
    """``POST /stats/reset``: zero the counters; return the snapshot taken just before."""
    return _control_json(url, "POST", "/stats/reset", timeout)


def _control_json(url: str, method: str, path: str, timeout: float) -> dict[str, Any]:
    status, body = _request(url, method, path, timeout)
    if status != 200:
        raise ServerError(f"{method} {path} at {url}: status {status}")
    data: dict[str, Any] = json.loads(body)
    return data
