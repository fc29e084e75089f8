"""bench.record.shapes: the web workload's draws (deterministic, portable, distributed as stated) and the ideal
round time every workload's efficiency is measured against."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from bench.record.rows import summarise
from bench.record.shapes import (
    WEB_DELAY_MS,
    WEB_SIZE,
    ideal_seconds,
    row_ideal_s,
    service_seconds,
    web_paths,
    web_request,
    web_requests,
)
from bench.sweep.plan import WORKLOADS, Case, Plan
from local_server.payload import expected_response
from strategies.workload import percentile

ROOT = Path(__file__).resolve().parent.parent


# The draws ---------------------------------------------------------------------------------------------

def test_the_first_draws_of_seed_1_are_pinned() -> None:
    """Pinned values: a change of hash, stream names, rounding or the stdlib's inverse CDF shows here, so
    a run can be compared with an older one only when they fetched the same sequence."""
    assert [web_request(1, k) for k in range(5)] == [(274, 1024), (51, 18505), (83, 53279), (58, 13829),
                                                     (262, 35717)]


def test_same_seed_same_sequence_in_another_process_and_different_seed_different() -> None:
    code = "import json; from bench.record.shapes import web_requests; print(json.dumps(web_requests(1, 500)))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          check=True)
    assert [tuple(pair) for pair in json.loads(done.stdout)] == list(web_requests(1, 500))
    other = web_requests(2, 500)
    assert sum(a != b for a, b in zip(other, web_requests(1, 500), strict=True)) > 490  # independent, not shifted
    assert web_requests(1, 10) == web_requests(1, 500)[:10]  # a request's draw does not depend on N


def test_same_seed_same_urls_and_bodies_for_every_strategy_of_a_cell() -> None:
    plan = Plan(workloads=("web",), requests=50)
    a, b = (plan.workload("web", "http://127.0.0.1:1/", Case(name, "tuned", "keepalive", 10))
            for name in ("asyncio", "threads"))
    assert a == b
    assert a.urls() == b.urls()
    assert a.urls() == ["http://127.0.0.1:1/" + path for path in web_paths(1, 50)]
    for k, url in enumerate(a.urls()):
        delay, size = web_request(1, k)
        assert f"delay_ms={delay}&size={size}&id={k}" in url
        expected = expected_response(url)
        assert expected is not None
        assert len(expected[1]) == size
    assert expected_response(a.urls()[0]) == expected_response(b.urls()[0])


def test_the_distributions_are_as_stated() -> None:
    """Over 10,000 draws (deterministic, so these are exact): delay median ~100 ms and p99 ~1 s; size median
    ~16 KiB and p99 ~256 KiB; everything within the clip bounds."""
    draws = web_requests(1, 10_000)
    delays = sorted(d for d, _ in draws)
    sizes = sorted(s for _, s in draws)
    assert 90 <= percentile(delays, 50) <= 110
    assert 850 <= percentile(delays, 99) <= 1150
    assert 14 * 1024 <= percentile(sizes, 50) <= 18 * 1024
    assert 220 * 1024 <= percentile(sizes, 99) <= 300 * 1024
    assert WEB_DELAY_MS.low <= delays[0]
    assert delays[-1] <= WEB_DELAY_MS.high
    assert WEB_SIZE.low <= sizes[0]
    assert sizes[-1] <= WEB_SIZE.high
    assert WEB_DELAY_MS.value(1e-12) == WEB_DELAY_MS.low
    assert WEB_DELAY_MS.value(1 - 1e-12) == WEB_DELAY_MS.high


# The ideal ---------------------------------------------------------------------------------------------

def test_ideal_is_in_order_list_scheduling_by_hand() -> None:
    # C=2: request 0 (3 s) holds slot A until 3; 1 (1 s) B 0-1; 2 B 1-2; 3 B 2-3; 4 (2 s) starts at 3: 5 s.
    assert ideal_seconds([3, 1, 1, 1, 2], 2) == 5
    assert max(3, sum([3, 1, 1, 1, 2]) / 2) == 4  # the order-free bound is lower: a long request came late
    assert ideal_seconds([1, 2, 3], 10) == 3  # C above N: one wave, the longest request
    assert ideal_seconds([], 5) == 0
    with pytest.raises(ValueError, match="concurrency"):
        ideal_seconds([1.0], 0)


@pytest.mark.parametrize(("n", "c"), [(300, 100), (250, 100), (7, 1), (10, 1000)])
def test_constant_delays_give_waves_times_the_delay(n: int, c: int) -> None:
    assert ideal_seconds([0.05] * n, c) == pytest.approx(math.ceil(n / c) * 0.05)


@pytest.mark.parametrize("c", [1, 10, 100, 1000])
def test_the_web_ideal_is_never_below_the_order_free_bound(c: int) -> None:
    service = service_seconds(2000, 0, 0, seed=1)
    assert ideal_seconds(service, c) >= max(max(service), sum(service) / c) - 1e-9


def test_a_paced_rows_ideal_includes_the_transfer_and_a_row_that_never_waits_has_none() -> None:
    slow = {"requests": 2000, "concurrency": 1000, "delay_ms": 0, "size": 65536, "rate_kbps": 256}
    assert row_ideal_s(slow) == pytest.approx(2 * 65536 * 8 / 256_000)  # ⌈N/C⌉ × (delay + size × 8 / rate)
    assert row_ideal_s(slow, slots=500) == pytest.approx(4 * 65536 * 8 / 256_000)
    assert row_ideal_s({"requests": 500, "concurrency": 10, "delay_ms": 0, "size": 64}) is None


def test_a_web_rows_efficiency_is_against_its_drawn_delays() -> None:
    spec = WORKLOADS["web"]
    row = {"requests": 100, "concurrency": 10, "delay_ms": spec.delay_ms, "size": spec.size, **spec.recorded(),
           "rounds": [{"req_per_s": 40.0, "wall_s": 2.5, "latency_ms": {}, "peak_in_flight": 10}]}
    ideal = ideal_seconds([d / 1000 for d, _ in web_requests(1, 100)], 10)
    summary = summarise(row)
    assert summary is not None
    assert row["seed"] == 1
    assert summary["ideal_s"] == pytest.approx(ideal)
    assert summary["efficiency"] == pytest.approx(ideal / 2.5)
    assert ideal != pytest.approx(math.ceil(100 / 10) * spec.delay_ms / 1000)  # not the median's waves
