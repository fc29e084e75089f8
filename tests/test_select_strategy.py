"""The select client's two strategies (``select`` and ``epoll``: ``strategies.impl.select_strategy.SelectFetcher`` on
two multiplexers) through their workers: ``epoll`` past FD_SETSIZE, and the memory both hold for large bodies.

What every strategy must do (bodies, faults, C=50 in flight, both policies and profiles) is in
``tests/test_strategies.py``, which covers these two through the registry. Assertions are on what the server
counts and what the worker measures (peak RSS), never on wall time.
"""

from __future__ import annotations

import contextlib
import resource
from collections.abc import Iterator

import pytest

from local_server.api import running_server
from strategies.select_client import FD_SETSIZE
from strategies.worker.runner import WorkerProcess
from strategies.workload import Workload

#: Past FD_SETSIZE (1024) with room, so ``select`` could not hold it; small enough for a CI box.
PAST_FD_SETSIZE = 1100
#: Every request waits this long at the server, so all C are in flight at once even if connecting them
#: all takes a loaded 2-core machine a second.
HOLD_MS = 2000

#: The memory case: C bodies of 256 KiB in flight and held (the payload workload's size), 3 rounds in one
#: worker since what a round leaves behind is the next round's floor.
BODY = 256 * 1024
BODIES = 200
ROUNDS = 3
#: The worker's own footprint (interpreter, httptools, the harness) and allocator slack.
BASE_MIB = 64


@contextlib.contextmanager
def soft_nofile(limit: int) -> Iterator[None]:
    """This process's soft RLIMIT_NOFILE set to ``limit`` (children started meanwhile inherit it), then restored."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < limit:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {limit}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.slow  # thousands of connections
@pytest.mark.timeout(120)
def test_epoll_holds_more_requests_in_flight_than_select_can_watch() -> None:
    """C=1100 from a worker and a server started with a soft limit of 1024: each raises its own
    (``local_server.fdlimit``)."""
    with soft_nofile(FD_SETSIZE), running_server() as url, WorkerProcess("epoll") as worker:
        result = worker.run_round(Workload(url, PAST_FD_SETSIZE, PAST_FD_SETSIZE, delay_ms=HOLD_MS))
    assert (result.ok, result.errors) == (PAST_FD_SETSIZE, 0), (result.error_kinds, result.error_samples)
    assert result.peak_in_flight == PAST_FD_SETSIZE


@pytest.mark.timeout(120)
@pytest.mark.parametrize("policy", ["keepalive", "close"])
@pytest.mark.parametrize("name", ["select", "epoll"])
def test_peak_memory_stays_near_the_bodies_held(name: str, policy: str, server_url: str) -> None:
    """Peak RSS <= 1.5 x the bodies held + 64 MiB, in every round. Each response's body chunks used to stay
    alive in a reference cycle (``http1.ResponseParser`` and its httptools parser) until a gen-2 collection,
    with its first 64 KiB recv in the lazily parsed header: 134, 219 then 326 MiB over three rounds here."""
    workload = Workload(server_url, BODIES, BODIES, policy=policy, size=BODY)
    bound_kb = (1.5 * BODIES * BODY + BASE_MIB * 2**20) / 1024
    with WorkerProcess(name) as worker:
        results = [worker.run_round(workload, server_stats=False) for _ in range(ROUNDS)]
    for result in results:
        assert (result.ok, result.errors) == (BODIES, 0), result.error_samples
    peaks_mib = [result.peak_rss_kb / 1024 for result in results]
    assert max(peaks_mib) <= bound_kb / 1024, f"peak RSS per round {peaks_mib} MiB, bound {bound_kb / 1024} MiB"
