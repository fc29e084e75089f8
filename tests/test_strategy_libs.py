"""Connection checks for every registered strategy, beyond the generic ones.

The generic tests (tests/test_strategies.py) check bodies, faults and peak concurrency; these check what a
library (or a stack of ours on a library's loop) can get wrong: that keep-alive really reuses at most C
connections round after round (requests' pool_maxsize, Twisted's maxPersistentPerHost) and close really
opens one per request; that several setup/close cycles with different C work in one process (Twisted's one-shot reactor,
Tornado's per-loop client cache and max_clients) and leave no connection open; that the ``as-written``
profile really keeps the library's defaults (one connection per request; tornado's max_clients=10 even
after a tuned setup in the same process); and how each library treats a body that only the connection's
end delimits.

Each check runs the strategy in a fresh subprocess (gevent patches the process, the reactor runs once),
through ``PROBE``, which counts the TCP sockets the strategy creates while it fetches. The strategies come
from ``strategies.REGISTRY``, so a new one is checked without a line of change here; only the socket count
leaves out the models and stacks whose sockets the probe cannot see (``UNCOUNTED_MODELS``, ``UNCOUNTED_STACKS``).
"""

from __future__ import annotations

import http.server
import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from strategies import REGISTRY
from strategies.base import POLICIES, PROFILES
from tests.test_strategies import AS_WRITTEN_POOLS, expected_peak

pytestmark = pytest.mark.slow  # every registered strategy in a fresh subprocess, its sockets counted

ROOT = Path(__file__).resolve().parent.parent
#: Models whose sockets ``PROBE`` cannot count, and why: it counts ``socket.socket`` objects made in its
#: own process. Their connections are still checked by the server (peak, open after close).
UNCOUNTED_MODELS = {
    "processes": "its sockets are made in the pool's child processes",
    "uvloop": "libuv makes its sockets in C, never through socket.socket",
}
#: Stacks whose sockets ``PROBE`` cannot count, for the same reason.
UNCOUNTED_STACKS = {
    "pyreqwest": "hyper makes its sockets in Rust, on tokio's thread",
    "curl-cffi": "libcurl makes its sockets in C",
}
#: Every registered strategy; the ones ``PROBE`` can count sockets of.
NAMES = tuple(REGISTRY)
COUNTED = tuple(name for name in NAMES if REGISTRY[name].model not in UNCOUNTED_MODELS
                and REGISTRY[name].stack not in UNCOUNTED_STACKS)
#: Long enough that all C requests of a wave overlap even on a loaded 2-core machine (every client then
#: needs C connections at once), short enough to keep a round under a second.
DELAY_MS = 100

PROBE = r"""
import importlib, json, socket, sys, time
spec = json.loads(sys.argv[1])
strategy = importlib.import_module(spec["module"])  # first: gevent patches the socket module here
import socket
from local_server.api import fetch_stats, reset_stats
from local_server.payload import expected_response
from strategies.base import ClientConfig

created = 0
_init = socket.socket.__init__
def counting_init(self, family=-1, type=-1, proto=-1, fileno=None):
    global created
    # One TCP socket per connection attempt, whichever library makes it (asyncio, Twisted, urllib3).
    if fileno is None and family in (socket.AF_INET, socket.AF_INET6):
        created += 1
    _init(self, family, type, proto, fileno)
socket.socket.__init__ = counting_init

def open_connections(base):
    return fetch_stats(base)["open_connections"] - 1  # less the stats request's own connection

base, report = spec["base"], []
for step in spec["steps"]:
    fetcher = strategy.start(ClientConfig(step["concurrency"], step["policy"], timeout_s=10.0,
                                          profile=step.get("profile", "tuned")))
    # Read, not kept: a reference held here would keep a client alive past close (pyreqwest's pool closes
    # its connections only when the client is dropped).
    result = {"max_clients": getattr(getattr(fetcher, "_client", None), "max_clients", None), "rounds": []}
    for _ in range(step["rounds"]):
        urls = [base + path for path in step["paths"]]
        reset_stats(base)
        created = 0
        outcomes = fetcher.fetch(urls)
        sockets = created
        result["rounds"].append({
            "slots": len(outcomes), "sockets": sockets, "peak": fetch_stats(base)["peak_in_flight"],
            "bad": [[u, o.status, o.error] for u, o in zip(urls, outcomes)
                    if expected_response(u) != (o.status, o.body)][:3],
        })
    fetcher.close()
    for _ in range(100):  # the server sees the client's FINs on its next loop turn
        if open_connections(base) == 0:
            break
        time.sleep(0.05)
    result["open_after_close"] = open_connections(base)
    report.append(result)
print(json.dumps(report), flush=True)  # before finalization: see probe_output
"""


#: Libraries known to abort the interpreter at finalization, after the work is done and its output written,
#: with the line their abort prints: pyreqwest's tokio runtime (``strategies.impl.pyreqwest_client``, "Exit";
#: a few runs in twenty after a connection-level failure). The probe's output stands; any other exit fails.
FINALIZATION_ABORTS = {"pyreqwest": "Fatal Python error: PyGILState_Release"}


def probe_output(name: str, done: subprocess.CompletedProcess[str]) -> Any:
    """A probe's JSON result (its last line of output, flushed before the interpreter finalizes): the probe
    must have exited 0, or aborted at finalization as ``FINALIZATION_ABORTS`` documents for its library."""
    abort = FINALIZATION_ABORTS.get(name)
    if done.returncode != 0:
        assert abort is not None, done.stderr
        assert done.returncode == -signal.SIGABRT, done.stderr
        assert abort in done.stderr, done.stderr
        assert "finalizing" in done.stderr, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def run_probe(name: str, base: str, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    spec = {"module": REGISTRY[name].module, "base": base, "steps": steps}
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(spec)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)
    result: list[dict[str, Any]] = probe_output(name, done)
    return result


def work_paths(n: int, delay_ms: int = DELAY_MS) -> list[str]:
    return [f"work?delay_ms={delay_ms}&size=512&id={k}" for k in range(n)]


def available(names: tuple[str, ...], *levels: int) -> list[str]:
    """The strategies installed here that can run at every C of ``levels`` (in some policy)."""
    return [name for name in names if REGISTRY[name].unavailable_reason() is None
            and all(REGISTRY[name].skip_reason(c, "close") is None for c in levels)]


@pytest.mark.parametrize(("name", "policy", "profile"), [
    (name, policy, profile) for name in available(COUNTED, 8) for profile in PROFILES for policy in POLICIES
    if REGISTRY[name].skip_reason(8, policy, profile) is None])
def test_connections_follow_the_policy(server_url: str, name: str, policy: str, profile: str) -> None:
    # C=8: below tornado's as-written max_clients=10; a default cap below it (the default executor's
    # threads on a small machine) is the peak expected instead, as in the generic tests.
    c, n = 8, 32
    peak = expected_peak(name, c, policy, profile)
    steps = [{"concurrency": c, "policy": policy, "profile": profile, "rounds": 2, "paths": work_paths(n)}]
    (step,) = run_probe(name, server_url, steps)
    first, second = step["rounds"]
    for round_ in step["rounds"]:
        assert round_["slots"] == n
        assert round_["bad"] == []
        assert round_["peak"] in peak
    assert step["open_after_close"] == 0
    if profile == "as-written" and name in AS_WRITTEN_POOLS:
        # A recipe that keeps connections alive with its library's defaults: C connections reused within
        # a round; only the pool's idle ones survive into the next.
        assert (first["sockets"], second["sockets"]) == (c, c - AS_WRITTEN_POOLS[name])
    elif policy == "keepalive":
        # C connections, opened once and reused: pool_maxsize=10 / maxPersistentPerHost=2 would fail this.
        assert (first["sockets"], second["sockets"]) == (c, 0)
    else:
        # as-written's recipes (a session per call, Agent's default pool) must also open one per request.
        assert (first["sockets"], second["sockets"]) == (n, n)


LEVELS = (3, 11, 6)


@pytest.mark.parametrize("name", available(NAMES, *LEVELS))
def test_setup_close_cycles_in_one_process(server_url: str, name: str) -> None:
    # keep-alive where the library has it, so close() must really close the pooled connections.
    policy = "close" if "keepalive" in REGISTRY[name].unsupported_policies else "keepalive"
    levels = LEVELS
    steps = [{"concurrency": c, "policy": policy, "rounds": 1, "paths": work_paths(2 * c)} for c in levels]
    report = run_probe(name, server_url, steps)
    for c, step in zip(levels, report, strict=True):
        (round_,) = step["rounds"]
        assert round_["bad"] == []
        assert round_["peak"] in expected_peak(name, c, policy, "tuned")
        assert step["open_after_close"] == 0
        if name == "tornado":
            assert step["max_clients"] == c  # not the default 10, nor the previous cycle's C


def test_tornado_as_written_keeps_max_clients_10(server_url: str) -> None:
    """The tuned setup sizes its client to C; the as-written one after it, in the same process, gets 10."""
    if reason := REGISTRY["tornado"].unavailable_reason():
        pytest.skip(reason)
    c = 20
    steps = [{"concurrency": c, "policy": "close", "profile": profile, "rounds": 1, "paths": work_paths(2 * c)}
             for profile in ("tuned", "as-written", "tuned")]
    report = run_probe("tornado", server_url, steps)
    assert [step["max_clients"] for step in report] == [c, 10, c]
    assert [step["rounds"][0]["peak"] for step in report] == [c, 10, c]
    for step in report:
        assert step["rounds"][0]["bad"] == []
        assert step["open_after_close"] == 0


class _CloseDelimited(http.server.BaseHTTPRequestHandler):
    """HTTP/1.0 answer with no Content-Length: the body ends where the connection does (RFC 9112 6.3)."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"close-delimited body")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def stdlib_server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CloseDelimited)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


PROBE_CLOSE_DELIMITED = r"""
import importlib, json, sys
strategy = importlib.import_module(sys.argv[1])
from strategies.base import ClientConfig
fetcher = strategy.start(ClientConfig(int(sys.argv[3]), "close", timeout_s=5.0))
outcomes = fetcher.fetch([sys.argv[2]] * 3)
fetcher.close()
print(json.dumps([[o.status, o.body and o.body.decode(), o.error] for o in outcomes]), flush=True)
"""


@pytest.mark.parametrize("name", available(NAMES))
def test_close_delimited_body(stdlib_server: str, name: str) -> None:
    c = min(2, REGISTRY[name].max_concurrency or 2)  # two at once where the strategy has concurrency
    done = subprocess.run([sys.executable, "-c", PROBE_CLOSE_DELIMITED, REGISTRY[name].module, stdlib_server,
                           str(c)], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    outcomes = probe_output(name, done)
    if name == "twisted":
        # readBody cannot tell this body from a truncated one (PotentialDataLoss) and fails it.
        assert all(o[0] is None and o[2].startswith("PartialDownloadError") for o in outcomes), outcomes
    else:
        assert outcomes == [[200, "close-delimited body", None]] * 3
