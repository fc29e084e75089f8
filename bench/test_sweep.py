"""The sweep: one test per workload, parametrized by (strategy, profile, policy, C) from ``bench.sweep.plan``.

Each test records one case's row. The first test of a cell (workload, profile, policy, C) measures the whole
cell, its strategies' rounds interleaved (``bench.sweep.cells``); every test then hands its case's round times to
``benchmark.pedantic`` as its stats (``bench.sweep.harness.replay``). A case that cannot run honestly is a pytest
skip and a skipped row, a worker that dies fails its case only. Flagged rows pass: they are measurements,
reported as not clean.
"""

from __future__ import annotations

from typing import Any

import pytest

from bench.sweep.harness import Sweep
from bench.sweep.plan import Case


def _measure(workload: str, case: Case, sweep: Sweep, benchmark: Any) -> None:
    benchmark.group = f"{workload} {case.profile} {case.policy} C={case.concurrency}"
    reason = sweep.plan.skip_reason(case)
    if reason:
        sweep.skip(workload, case, reason)
        pytest.skip(reason)
    row = sweep.measure(workload, case, benchmark)
    if row["status"] == "failed":
        pytest.fail(f"{row['id']}: {row['reason']}", pytrace=False)


def test_latency(case: Case, sweep: Sweep, benchmark: Any) -> None:
    _measure("latency", case, sweep, benchmark)


def test_claim(case: Case, sweep: Sweep, benchmark: Any) -> None:
    _measure("claim", case, sweep, benchmark)


def test_throughput(case: Case, sweep: Sweep, benchmark: Any) -> None:
    _measure("throughput", case, sweep, benchmark)


def test_payload(case: Case, sweep: Sweep, benchmark: Any) -> None:
    _measure("payload", case, sweep, benchmark)


def test_c10k(case: Case, sweep: Sweep, benchmark: Any) -> None:
    _measure("c10k", case, sweep, benchmark)


def test_web(case: Case, sweep: Sweep, benchmark: Any) -> None:
    _measure("web", case, sweep, benchmark)


def test_slow_link(case: Case, sweep: Sweep, benchmark: Any) -> None:
    _measure("slow-link", case, sweep, benchmark)
