"""httpx: what its pool can get wrong, beyond the checks every strategy gets.

tests/test_strategies.py checks bodies, faults and C in flight, and tests/test_strategy_libs.py one
connection per request under ``close`` (at C=8) for every registered strategy. These check httpx's own traps:

- ``Limits`` sized to C in both of its numbers: httpx's defaults keep at most 20 idle connections, and
  httpcore 1.0 compares the *total* number of connections with that limit, so above C=20 keep-alive would
  close connections as they come back and reopen them; at C=30 the second round must open none;
- a request waiting for its turn never times out unsent: httpx's pool timeout runs while a request waits
  for a connection, so without the semaphore in front, healthy requests queued behind C stalled ones fail
  with ``PoolTimeout`` (shown here on httpx alone) without ever being sent.
"""

from __future__ import annotations

import asyncio

import pytest

from strategies import REGISTRY
from strategies.worker.runner import WorkerProcess
from strategies.workload import Workload
from tests.test_strategies import expected_peak
from tests.test_strategy_libs import run_probe, work_paths

pytestmark = [pytest.mark.slow,  # the strategy in subprocesses, stalled requests
              pytest.mark.skipif(REGISTRY["httpx"].unavailable_reason() is not None,
                                 reason=REGISTRY["httpx"].unavailable_reason() or "")]

#: Above httpx's default ``max_keepalive_connections=20``, below its default ``max_connections=100``.
C_ABOVE_DEFAULT_KEEPALIVE = 30


def test_keepalive_pool_holds_c_connections_above_httpx_defaults(server_url: str) -> None:
    c = C_ABOVE_DEFAULT_KEEPALIVE
    steps = [{"concurrency": c, "policy": "keepalive", "rounds": 2, "paths": work_paths(2 * c)}]
    (step,) = run_probe("httpx", server_url, steps)
    first, second = step["rounds"]
    assert [r["bad"] for r in step["rounds"]] == [[], []]
    peaks = [r["peak"] for r in step["rounds"]]
    assert all(peak in expected_peak("httpx", c, "keepalive", "tuned") for peak in peaks), peaks
    assert (first["sockets"], second["sockets"]) == (c, 0)
    assert step["open_after_close"] == 0


#: Two stalled requests hold both connections of a C=2 pool until they time out; four healthy ones follow.
BEHIND_STALLS = ["fault/stall", "fault/stall"] + [f"work?size=64&id={k}" for k in range(4)]
#: Each request's timeout: the stalls' read timeout, and httpx's pool timeout for whoever waits behind them.
STALL_TIMEOUT_S = 0.5


def test_requests_behind_stalled_ones_are_sent(server_url: str) -> None:
    workload = Workload.from_paths(server_url, BEHIND_STALLS, 2, policy="keepalive", timeout_s=STALL_TIMEOUT_S)
    with WorkerProcess("httpx") as worker:
        result = worker.run_round(workload)
    assert (result.ok, result.errors) == (4, 2), result.error_kinds
    assert set(result.error_kinds) == {"ReadTimeout"}, result.error_kinds


def test_without_the_semaphore_httpx_fails_them_unsent(server_url: str) -> None:
    """Why ``strategies.shared._aio`` admits C at a time: httpx's pool, sized to C, queues the rest on a timer.

    httpcore 1.0 restarts that timer each time a connection comes back (every waiting request is woken and
    retries), so it fires only when none comes back in time: here, behind the two stalls."""
    import httpx

    async def fetch_all() -> list[BaseException | httpx.Response]:
        limits = httpx.Limits(max_connections=2, max_keepalive_connections=2)
        async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(STALL_TIMEOUT_S)) as client:
            return await asyncio.gather(*(client.get(server_url + path) for path in BEHIND_STALLS),
                                        return_exceptions=True)

    kinds = [type(outcome).__name__ for outcome in asyncio.run(fetch_all())]
    assert kinds == ["ReadTimeout"] * 2 + ["PoolTimeout"] * 4
