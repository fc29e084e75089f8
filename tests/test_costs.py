"""The cost model (``bench.analysis.costs``): which lower bound explains a row, from its measured summary alone."""

from __future__ import annotations

from typing import Any

import pytest

from bench.analysis import costs
from bench.report.sections import costs as costs_section


def row(n: int = 300, c: int = 100, delay_ms: int = 50, wall: float = 0.16, cpu_us: float = 100.0,
        server_ratio: float = 0.1, peak: int | None = None) -> dict[str, Any]:
    return {"id": f"latency-x-tuned-keepalive-c{c}", "requests": n, "concurrency": c, "delay_ms": delay_ms,
            "status": "ok", "summary": {"wall_s": wall, "cpu_us_per_req": cpu_us, "server_cpu_ratio": server_ratio,
                                        "peak_in_flight_min": peak if peak is not None else c}}


def test_a_row_near_its_ideal_is_waiting_bound() -> None:
    b = costs.bounds(row())
    assert b is not None
    assert b.kind == "waiting"
    assert b.seconds["waiting"] == pytest.approx(0.15)  # ceil(300 / 100) x 50 ms
    assert b.text.startswith("waiting-bound: 0.15 s")


def test_a_row_whose_cpu_dwarfs_the_wait_is_cpu_bound_and_says_it_in_numbers() -> None:
    b = costs.bounds(row(n=2000, c=1000, wall=1.3, cpu_us=607.0))
    assert b is not None
    assert b.kind == "client"
    assert b.text == "CPU-bound: 607 µs × 2000 requests = 1.21 s ≫ 0.13 s of server CPU"


def test_a_row_below_c_in_flight_sits_on_its_cap() -> None:
    b = costs.bounds(row(n=200, c=100, wall=1.05, cpu_us=50.0, peak=10))
    assert b is not None
    assert b.kind == "cap"
    assert b.seconds["cap"] == pytest.approx(1.0)  # ceil(200 / 10) x 50 ms
    assert "at most 10 in flight" in b.text


def test_bounds_that_cannot_overlap_add_up() -> None:
    # C=1, no delay: each request's client work and server work happen one after the other.
    b = costs.bounds(row(n=500, c=1, delay_ms=0, wall=0.45, cpu_us=600.0, server_ratio=0.3))
    assert b is not None
    assert b.kind == "serial"
    assert b.text.startswith("serial: 0.30 s client CPU + 0.14 s server CPU")


def test_a_row_far_from_every_bound_is_unexplained() -> None:
    b = costs.bounds(row(n=500, c=1, delay_ms=0, wall=0.5, cpu_us=100.0, server_ratio=0.05))
    assert b is not None
    assert b.kind == "unexplained"
    assert b.ratio == pytest.approx(0.5 / 0.05)
    section = "\n".join(costs_section.section({"rows": [row(), row(n=500, c=1, delay_ms=0, wall=0.5, server_ratio=0.05)]}))
    assert "Unexplained rows:" in section
    assert "waiting 1" in section


def test_rows_without_a_summary_have_no_bounds() -> None:
    assert costs.bounds({"requests": 10, "concurrency": 1, "summary": None}) is None
    assert costs_section.section({"rows": [{"requests": 10, "concurrency": 1}]}) == []
