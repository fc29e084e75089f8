"""grequests and asyncio-executor: what the generic tests (tests/test_strategies.py) do not check.

- the cap each profile really has, as the server counts it: asyncio-executor as-written sends no more than
  the loop's default executor has threads, however many it is handed; grequests as-written sends its waves
  of C; tuned, both send C;
- latency is each request's own: grequests' although ``map`` returns per batch, asyncio-executor's with
  the wait in the executor's queue in it;
- a failed request's error kind names the exception requests raised (grequests' ``map`` would give None);
- asyncio-executor's ``close`` leaves no thread running, the default executor's included.
"""

from __future__ import annotations

import math
import os
import threading

import pytest
import requests

from strategies.base import PROFILES, ClientConfig
from strategies.worker.runner import RoundResult, WorkerProcess
from strategies.workload import Workload
from tests.test_strategies import FAULT_PATHS, FAULT_TIMEOUT_S

pytestmark = pytest.mark.slow  # the strategies through their workers, 200 ms requests

#: ``ThreadPoolExecutor()``'s size on Python 3.8 to 3.12: the loop's default executor, the as-written cap.
DEFAULT_EXECUTOR_THREADS = min(32, (os.cpu_count() or 1) + 4)


def _round(name: str, workload: Workload) -> RoundResult:
    with WorkerProcess(name) as worker:
        return worker.run_round(workload)


@pytest.mark.parametrize(("profile", "peak"), [("as-written", DEFAULT_EXECUTOR_THREADS), ("tuned", 50)])
def test_executor_in_flight_and_latency(profile: str, peak: int, server_url: str) -> None:
    delay_ms = 200  # long enough that all requests the executor runs at once overlap on a loaded machine
    workload = Workload(server_url, 60, 50, policy="close", delay_ms=delay_ms, profile=profile)
    result = _round("asyncio-executor", workload)
    assert (result.ok, result.errors) == (60, 0), result.error_samples
    assert result.peak_in_flight == peak
    # The last of the 50 admitted at once waits for ceil(50 / peak) server delays: all of them are its latency.
    assert result.latency_ms["max"] is not None
    assert result.latency_ms["max"] >= 0.9 * math.ceil(50 / peak) * delay_ms


def test_a_starved_default_executor_times_out_in_its_queue(server_url: str) -> None:
    # 20 requests of 300 ms handed at once to DEFAULT_EXECUTOR_THREADS threads with a 0.5 s timeout: the
    # first wave is served, and whoever is still queued past 0.5 s fails unsent instead of waiting on.
    workload = Workload(server_url, 20, 20, policy="close", delay_ms=300, timeout_s=0.5, profile="as-written")
    result = _round("asyncio-executor", workload)
    assert result.ok >= DEFAULT_EXECUTOR_THREADS
    assert result.errors == 20 - result.ok > 0
    assert set(result.error_kinds) == {"TimeoutError"}
    assert "executor's queue, never sent" in result.error_samples[0]


@pytest.mark.parametrize("profile", PROFILES)
def test_grequests_in_flight_and_latency(profile: str, server_url: str) -> None:
    workload = Workload(server_url, 60, 20, policy="close", delay_ms=100, profile=profile)
    result = _round("grequests", workload)
    assert (result.ok, result.errors) == (60, 0), result.error_samples
    assert result.peak_in_flight == 20
    # Three waves of one server delay each: a latency read when map returns would be the whole round's.
    assert result.latency_ms["p50"] is not None
    assert result.latency_ms["p50"] < result.wall_s * 1000 / 2


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("name", ["grequests", "asyncio-executor"])
def test_failures_name_their_exception(name: str, profile: str, server_url: str) -> None:
    work = [f"work?size=64&id={k}" for k in range(len(FAULT_PATHS))]
    paths = [path for pair in zip(work, FAULT_PATHS, strict=True) for path in pair]
    workload = Workload.from_paths(server_url, paths, 4, policy="close", timeout_s=FAULT_TIMEOUT_S,
                                   profile=profile)
    result = _round(name, workload)
    assert (result.ok, result.errors) == (len(work), len(FAULT_PATHS)), result.error_kinds
    kinds = dict(result.error_kinds)
    assert kinds.pop("unexpected") == 1  # status/500: a response, judged by the verification
    for kind in kinds:
        exception = getattr(requests.exceptions, kind, None)
        assert isinstance(exception, type), kind
        assert issubclass(exception, requests.RequestException), kind


@pytest.mark.parametrize("profile", PROFILES)
def test_executor_close_leaves_no_thread(profile: str, server_url: str) -> None:
    from strategies.impl import asyncio_executor  # requests and asyncio only: safe to import in this process

    before = set(threading.enumerate())
    fetcher = asyncio_executor.start(ClientConfig(4, policy="close", profile=profile))
    outcomes = fetcher.fetch([f"{server_url}work?size=64&id={k}" for k in range(12)])
    fetcher.close()
    assert [outcome.error for outcome in outcomes] == [None] * 12
    assert set(threading.enumerate()) - before == set()
