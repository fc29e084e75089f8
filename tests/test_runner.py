"""The worker protocol and its runner: rounds, reuse, failures reported, hung workers killed."""

from __future__ import annotations

import os
import signal
import sys

import pytest

from strategies.base import ClientConfig
from strategies.worker.runner import WorkerError, WorkerProcess
from strategies.workload import Workload

pytestmark = pytest.mark.timeout(120)

#: What the bench and the CLI read from every round.
ROUND_KEYS = {"strategy", "requests", "concurrency", "policy", "delay_ms", "size", "ok", "errors",
              "error_kinds", "error_samples", "wall_s", "cpu_s", "peak_rss_kb", "latency_ms", "cold_start_s",
              "import_s", "peak_in_flight", "server_cpu_s", "req_per_s", "cpu_us_per_req"}


def test_one_worker_runs_many_configurations(server_url: str) -> None:
    with WorkerProcess("select") as worker:
        setup = worker.setup(ClientConfig(2))
        assert setup.pid == worker.pid
        assert setup.cold_start_s >= 0
        assert setup.import_s > 0
        for concurrency, policy in [(2, "keepalive"), (5, "close"), (1, "keepalive")]:
            result = worker.run_round(Workload(server_url, 20, concurrency, policy=policy))
            assert (result.ok, result.errors, result.concurrency) == (20, 0, concurrency)
        data = result.to_dict()
    assert data.keys() >= ROUND_KEYS
    assert data["req_per_s"] == pytest.approx(20 / data["wall_s"])
    assert data["cpu_us_per_req"] == pytest.approx(data["cpu_s"] / 20 * 1e6)
    assert data["peak_rss_kb"] > 1000
    assert data["cpu_s"] >= 0
    assert set(data["latency_ms"]) == {"p50", "p90", "p99", "max"}
    assert worker.popen.poll() is not None  # closed and reaped


def test_strategy_exception_is_an_error_reply_and_the_worker_lives_on(server_url: str) -> None:
    with WorkerProcess("sequential") as worker:
        with pytest.raises(WorkerError, match="C=1 by definition") as caught:
            worker.setup(ClientConfig(3))
        assert caught.value.alive
        result = worker.run_round(Workload(server_url, 5, 1))
        assert result.ok == 5


def test_unknown_strategy_fails_at_start() -> None:
    with pytest.raises(WorkerError, match="unknown strategy"):
        WorkerProcess("no-such-strategy")


def test_hung_round_is_killed_at_its_deadline(server_url: str) -> None:
    worker = WorkerProcess("select")
    try:
        stalled = Workload.from_paths(server_url, ["fault/stall"], 1, timeout_s=60.0)
        with pytest.raises(WorkerError, match="did not answer 'fetch'") as caught:
            worker.run_round(stalled, deadline_s=1.0)
        assert not caught.value.alive
        assert worker.popen.poll() is not None
        with pytest.raises(WorkerError, match="has exited"):
            worker.run_round(Workload(server_url, 1, 1))
    finally:
        worker.close()


def test_worker_is_pinned_before_setup() -> None:
    cpu = min(os.sched_getaffinity(0))
    with WorkerProcess("select", cpus={cpu}) as worker:
        assert os.sched_getaffinity(worker.pid) == {cpu}


def test_round_against_a_server_without_stats_has_no_server_figures() -> None:
    from tests.stdlib_server import stdlib_server

    with stdlib_server() as server, WorkerProcess("asyncio") as worker:
        result = worker.run_round(Workload(server.url, 10, 2))
    assert result.ok == 10
    assert result.peak_in_flight is None
    assert result.server_cpu_s is None


def test_a_round_in_three_steps_times_only_the_fetch(server_url: str) -> None:
    workload = Workload(server_url, 30, 3, delay_ms=5)
    with WorkerProcess("asyncio") as worker:
        with pytest.raises(RuntimeError, match="without prepare_round"):
            worker.fetch_round()
        worker.prepare_round(workload)
        wall_s = worker.fetch_round()
        result = worker.measure_round()
        assert (result.ok, result.errors, result.wall_s) == (30, 0, wall_s)
        assert wall_s >= 10 * 0.005  # ten waves of a 5 ms delay: the fetch really is what was timed
        with pytest.raises(WorkerError, match="without a prepare") as caught:
            worker._call({"cmd": "fetch"}, 10.0)  # the worker checks the order too, and lives on
        assert caught.value.alive
        assert worker.run_round(workload).ok == 30


def test_a_worker_that_aborts_after_exit_keeps_its_rounds(server_url: str) -> None:
    """What the worker's exit status decides: nothing, once it has answered ``exit``. pyreqwest's runtime
    sometimes aborts the interpreter at finalization after a failed connection (strategies.impl.pyreqwest_client);
    the rounds it answered stand, and closing it raises nothing."""
    script = "import os; from strategies.worker import host; host.main(['worker', 'select']); os.abort()"
    worker = WorkerProcess("select", command=[sys.executable, "-c", script])
    with worker:
        result = worker.run_round(Workload(server_url, 20, 2))
    assert (result.ok, result.errors) == (20, 0)
    assert worker.popen.returncode == -signal.SIGABRT  # it did abort, after its answers
