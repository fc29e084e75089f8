"""The Twisted strategies (``twisted``, ``twisted-raw``, ``treq``) on the one reactor of ``strategies.shared._twisted``,
and what the codec strategies on Twisted's and Tornado's I/O (``twisted-raw``, ``tornado-raw``) do with
their connections.

The registry-wide tests (tests/test_strategies.py, tests/test_strategy_libs.py) check bodies, faults, peak
concurrency and connection counts per policy; these check what only these strategies can get wrong:
- the three Twisted strategies share one reactor thread in one process, through start/close cycles with
  different C, each cycle reaching its C and leaving no connection open;
- treq's pools: tuned is ours, sized to C and persistent only under keep-alive; as-written is treq's global
  pool, persistent with Twisted's ``maxPersistentPerHost=2`` (the cap the module docstring names);
- a request that times out takes its connection down with it (``abortConnection``, ``stream.close``), so
  the server holds none afterwards;
- a kept-alive connection the server closed while idle is never reused for a request;
- tornado-raw connects to an IP literal without tornado's default resolver, which would make every
  connection a round trip through the loop's thread pool.

The Twisted checks run in a fresh subprocess or worker: the reactor runs once per process.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import pytest

from local_server.api import fetch_stats, running_server
from strategies import REGISTRY
from strategies.worker.runner import WorkerProcess
from strategies.workload import Workload

pytestmark = pytest.mark.slow  # the strategies through their workers and subprocesses

ROOT = Path(__file__).resolve().parent.parent
TWISTED = ("twisted", "twisted-raw", "treq")

ONE_REACTOR = r"""
import importlib, json, sys, threading, time
from local_server.api import fetch_stats, reset_stats
from local_server.payload import expected_response
from strategies import REGISTRY
from strategies.base import ClientConfig

base, names = sys.argv[1], json.loads(sys.argv[2])
steps = []
for c in (3, 7, 2):
    for name in names:
        fetcher = importlib.import_module(REGISTRY[name].module).start(ClientConfig(c, "keepalive"))
        urls = [f"{base}work?delay_ms=100&size=512&id={k}" for k in range(2 * c)]
        reset_stats(base)
        outcomes = fetcher.fetch(urls)
        peak = fetch_stats(base)["peak_in_flight"]
        fetcher.close()
        for _ in range(100):  # the server sees the client's FINs on its next loop turn
            open_after = fetch_stats(base)["open_connections"] - 1  # less the stats request's own
            if open_after == 0:
                break
            time.sleep(0.05)
        bad = sum(expected_response(u) != (o.status, o.body) for u, o in zip(urls, outcomes))
        steps.append([name, c, peak, bad, open_after])
reactors = sum(thread.name == "twisted-reactor" for thread in threading.enumerate())
print(json.dumps({"steps": steps, "reactors": reactors}))
"""

TREQ_POOLS = r"""
import json, sys
from treq.api import get_global_pool
from strategies.impl import treq_client
from strategies.base import ClientConfig

base, pools = sys.argv[1], {}
for policy, profile in (("keepalive", "tuned"), ("close", "tuned"), ("close", "as-written")):
    fetcher = treq_client.start(ClientConfig(5, policy, profile=profile))
    (outcome,) = fetcher.fetch([base + "work?size=64"])
    pool = fetcher._pool or get_global_pool()
    pools[f"{profile}/{policy}"] = [outcome.status, pool.persistent, pool.maxPersistentPerHost]
    fetcher.close()
print(json.dumps(pools))
"""


def _run(script: str, *args: str) -> object:
    done = subprocess.run([sys.executable, "-c", script, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def _installed(names: tuple[str, ...]) -> list[str]:
    return [name for name in names if REGISTRY[name].unavailable_reason() is None]


def _open_connections(base: str) -> int:
    """The server's open connections, less the stats request's own, once the client's last FIN is in."""
    for _ in range(100):
        count = int(fetch_stats(base)["open_connections"]) - 1
        if count == 0:
            break
        time.sleep(0.05)
    return count


def test_one_reactor_serves_every_twisted_strategy(server_url: str) -> None:
    names = _installed(TWISTED)
    if not names:
        pytest.skip(REGISTRY["twisted"].unavailable_reason() or "")
    report = _run(ONE_REACTOR, server_url, json.dumps(names))
    assert isinstance(report, dict)
    assert report["reactors"] == 1
    for name, c, peak, bad, open_after in report["steps"]:
        assert (peak, bad, open_after) == (c, 0, 0), (name, c)


def test_treq_pools(server_url: str) -> None:
    if "treq" not in _installed(("treq",)):
        pytest.skip(REGISTRY["treq"].unavailable_reason() or "")
    assert _run(TREQ_POOLS, server_url) == {
        "tuned/keepalive": [200, True, 5],  # ours: sized to C
        "tuned/close": [200, False, 5],
        "as-written/close": [200, True, 2],  # treq's global pool: persistent, Twisted's default of 2
    }


@pytest.mark.parametrize("name", _installed((*TWISTED, "tornado", "tornado-raw")))
def test_a_timed_out_request_leaves_no_connection(name: str, server_url: str) -> None:
    # The stall never answers: only the client's timeout can end it, and it must drop the connection.
    paths = ["fault/stall", "work?size=64&id=1"]
    workload = Workload.from_paths(server_url, paths, 2, policy="close", timeout_s=0.5)
    with WorkerProcess(name) as worker:
        result = worker.run_round(workload)
        open_after = _open_connections(server_url)  # the fetcher is still set up: nothing of it is idle
    # One error, of a timeout type: ours (TimeoutError) or the library's own (tornado's HTTPTimeoutError).
    assert (result.ok, result.errors) == (1, 1), result.error_samples
    assert next(iter(result.error_kinds)).endswith("TimeoutError"), result.error_samples
    assert open_after == 0


@pytest.mark.parametrize("name", _installed(("asyncio", "twisted-raw", "tornado-raw")))
def test_idle_connections_the_server_closed_are_not_reused(name: str) -> None:
    # A server of our own with a short idle timeout, so that it closes the pool's connections between rounds.
    with running_server(extra_args=["--idle-timeout", "0.3"]) as url, WorkerProcess(name) as worker:
        workload = Workload(url, 8, 4, policy="keepalive")
        first = worker.run_round(workload)
        time.sleep(1.0)  # > the idle timeout plus the server's sweep period (timeout / 4)
        second = worker.run_round(workload)
    for result in (first, second):
        assert (result.ok, result.errors) == (8, 0), result.error_samples


def test_tornado_raw_resolves_only_host_names() -> None:
    if "tornado-raw" not in _installed(("tornado-raw",)):
        pytest.skip(REGISTRY["tornado-raw"].unavailable_reason() or "")
    from strategies.impl.tornado_raw import _LiteralResolver

    async def resolve(host: str) -> tuple[list[tuple[int, object]], int]:
        """The addresses, and how many times the loop's getaddrinfo (its thread pool) was asked."""
        loop = asyncio.get_running_loop()
        with mock.patch.object(loop, "getaddrinfo", wraps=loop.getaddrinfo) as getaddrinfo:
            addresses = await _LiteralResolver().resolve(host, 8080)
        return addresses, getaddrinfo.call_count

    assert asyncio.run(resolve("127.0.0.1")) == ([(socket.AF_INET, ("127.0.0.1", 8080))], 0)
    assert asyncio.run(resolve("::1")) == ([(socket.AF_INET6, ("::1", 8080))], 0)
    addresses, calls = asyncio.run(resolve("localhost"))
    assert addresses
    assert calls == 1
