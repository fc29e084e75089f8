"""The sweep: one test per workload, parametrized by (strategy, policy, C) from ``bench.plan``.

Each test measures one cell under ``benchmark.pedantic`` (one round = one round trip to the strategy's
long-lived worker) and records its row; a cell that cannot run honestly is a pytest skip and a skipped row,
a worker that dies fails its cell only. Flagged rows pass: they are measurements, reported as not clean.
"""

from __future__ import annotations

from typing import Any

import pytest

from bench.harness import Sweep
from bench.plan import Cell


def _measure(workload: str, cell: Cell, sweep: Sweep, benchmark: Any) -> None:
    benchmark.group = f"{workload} {cell.policy} C={cell.concurrency}"
    reason = sweep.plan.skip_reason(cell)
    if reason:
        sweep.skip(workload, cell, reason)
        pytest.skip(reason)
    row = sweep.measure(workload, cell, benchmark)
    if row["status"] == "failed":
        pytest.fail(f"{row['id']}: {row['reason']}", pytrace=False)


def test_latency(cell: Cell, sweep: Sweep, benchmark: Any) -> None:
    _measure("latency", cell, sweep, benchmark)


def test_throughput(cell: Cell, sweep: Sweep, benchmark: Any) -> None:
    _measure("throughput", cell, sweep, benchmark)


def test_payload(cell: Cell, sweep: Sweep, benchmark: Any) -> None:
    _measure("payload", cell, sweep, benchmark)
