"""Total deadlines: ``strategies.shared._deadlines``' queue on its own, and every codec strategy's deadline against
the real server.

The queue (in memory, with a fake timer): each request's entry is live until its owner ends it; only live
entries past their deadline are expired; one timer, armed for the oldest live entry; the queue stays about
as long as the requests in flight. The strategies (one per model, ``bench.sweep.ladder.LADDER``, through
their workers): a request the server answers only after its timeout fails with ``TimeoutError`` in its slot,
never early, and the round ends without waiting for the server, in both policies; its neighbour is served.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bench.sweep.ladder import LADDER
from strategies import REGISTRY
from strategies.base import POLICIES
from strategies.shared._deadlines import Deadlines
from strategies.worker.runner import WorkerProcess
from strategies.workload import Workload
from tests.tiers import each_model

#: The request's timeout, and how long the server waits before it answers: ten times that, so that a
#: response could never arrive within the deadline, nor the round end in time, unless the client cut it.
TIMEOUT_S = 0.5
SERVER_DELAY_MS = 5000


class _Timers:
    """``call_later`` that only records: the test fires the timers itself."""

    def __init__(self) -> None:
        self.armed: list[tuple[float, Callable[[], None]]] = []
        self.cancelled = 0

    def call_later(self, delay: float, callback: Callable[[], None]) -> Any:
        self.armed.append((delay, callback))
        timers = self

        class _Handle:
            def cancel(self) -> None:
                timers.cancelled += 1

        return _Handle()


class _Owner:
    def __init__(self) -> None:
        self.deadline: tuple[float, Any] | None = None
        self.expired = 0

    def expire(self) -> None:
        self.expired += 1


def test_only_live_requests_past_their_deadline_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr("strategies.shared._deadlines.time.perf_counter", lambda: now[0])
    timers = _Timers()
    deadlines = Deadlines(10.0, timers.call_later)
    done, late, young = _Owner(), _Owner(), _Owner()
    deadlines.start(done, 100.0)
    deadlines.start(late, 101.0)
    deadlines.start(young, 105.0)
    assert [delay for delay, _ in timers.armed] == [10.0]  # one timer, for the oldest
    done.deadline = None  # its request ended in time
    now[0] = 112.0
    timers.armed.pop()[1]()  # the timer fires at 110, late by 2 s: late's deadline (111) has passed too
    assert (done.expired, late.expired, young.expired) == (0, 1, 0)
    assert late.deadline is None
    assert young.deadline is not None
    assert [delay for delay, _ in timers.armed] == [3.0]  # armed again, for young's deadline at 115
    deadlines.close()
    assert timers.cancelled == 1


def test_the_queue_holds_about_the_requests_in_flight() -> None:
    timers = _Timers()
    deadlines = Deadlines(10.0, timers.call_later)
    owners = [_Owner() for _ in range(3)]
    for k in range(1000):  # three owners taking turns, each request over before the owner's next starts
        owner = owners[k % 3]
        owner.deadline = None
        deadlines.start(owner, float(k))
    assert len(deadlines._queue) <= 3
    assert len(timers.armed) == 1


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", each_model(LADDER))
def test_a_request_past_its_timeout_fails_with_timeout_error_in_every_model(name: str, server_url: str) -> None:
    if reason := REGISTRY[name].unavailable_reason():
        pytest.skip(reason)
    paths = [f"work?delay_ms={SERVER_DELAY_MS}&size=64&id=1", "work?size=64&id=2"]
    with WorkerProcess(name) as worker:
        for policy in POLICIES:
            workload = Workload.from_paths(server_url, paths, 2, policy=policy, timeout_s=TIMEOUT_S)
            # The hang guard: a round that waited for the server's answer would take SERVER_DELAY_MS.
            result = worker.run_round(workload, deadline_s=SERVER_DELAY_MS / 1000 - 1)
            assert (result.ok, result.errors, result.error_kinds) == (1, 1, {"TimeoutError": 1}), \
                (policy, result.error_samples)
            assert result.latency_ms["max"] is not None, policy
            assert result.latency_ms["max"] >= 1000 * TIMEOUT_S, policy
