"""bench.sweep.cells: a cell's strategies take turns, each row stops when precise or out of budget, and
pytest-benchmark's stats of a row are exactly the rounds the cell measured for it."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from scipy import stats

from bench.record import schema
from bench.sweep.cells import relative_half_width

pytestmark = pytest.mark.slow  # real sweeps

ROOT = Path(__file__).resolve().parent.parent
STRATEGIES = ("select", "asyncio", "threads")


def test_half_width_of_identical_rounds_is_zero_and_of_one_round_unknown() -> None:
    assert relative_half_width([250.0, 250.0, 250.0]) == 0.0
    assert relative_half_width([250.0]) is None


def test_half_width_is_the_t_interval_on_log_rates() -> None:
    rates = [100.0, 110.0, 90.0, 105.0]
    logs = [math.log(r) for r in rates]
    mean = sum(logs) / 4
    sd = math.sqrt(sum((x - mean) ** 2 for x in logs) / 3)
    expected = math.exp(stats.t.ppf(0.975, 3) * sd / 2) - 1
    assert relative_half_width(rates) == pytest.approx(expected)


@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    """A real sweep of one cell: three strategies, 2 to 4 rounds, seeded; its run and pytest-benchmark's JSON."""
    out = tmp_path_factory.mktemp("sweep")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "bench/test_sweep.py", "--benchmark-only", "--workloads=latency",
         "--profiles=tuned", "--policies=keepalive", "--concurrency=4", f"--strategies={','.join(STRATEGIES)}",
         "--requests=8", "--rounds=2", "--max-rounds=4", "--schedule-seed=7", f"--results-dir={out}",
         f"--benchmark-json={out / 'pb.json'}", "-p", "no:cacheprovider", "-q"],
        cwd=ROOT, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    return json.loads((out / "latest.json").read_text()), json.loads((out / "pb.json").read_text())


def test_a_cells_strategies_take_turns(small_sweep: tuple[dict[str, Any], dict[str, Any]]) -> None:
    run, _ = small_sweep
    assert run["options"]["schedule_seed"] == 7
    assert schema.validate(run) == []
    rows = [row for row in run["rows"] if row["strategy"] in STRATEGIES]
    assert len(rows) == 3
    assert all(row["status"] in ("ok", "flagged") for row in rows)
    rounds = sorted((r["position"], r["started_at"], r["pass"], row["strategy"]) for row in rows for r in row["rounds"])
    positions = [r[0] for r in rounds]
    assert len(set(positions)) == len(positions)
    assert [r[1] for r in rounds] == sorted(r[1] for r in rounds)  # the schedule is the order in time
    first_two_passes = [r[3] for r in rounds if r[2] <= 2]
    # every pass runs each strategy once before the next pass starts
    assert sorted(first_two_passes[:3]) == sorted(STRATEGIES) == sorted(first_two_passes[3:6])


def test_rows_run_between_min_and_max_rounds_and_say_why_they_stopped(
        small_sweep: tuple[dict[str, Any], dict[str, Any]]) -> None:
    run, _ = small_sweep
    for row in (r for r in run["rows"] if r["status"] != "skipped"):
        assert 2 <= len(row["rounds"]) <= 4
        assert row["rounds_stopped"] in ("precise", "max_rounds", "budget")
        if row["rounds_stopped"] == "max_rounds":
            assert len(row["rounds"]) == 4


def test_pytest_benchmark_holds_exactly_the_cells_timings(small_sweep: tuple[dict[str, Any], dict[str, Any]]) -> None:
    run, saved = small_sweep
    by_name = {b["name"]: b for b in saved["benchmarks"]}
    for row in (r for r in run["rows"] if r["status"] != "skipped"):
        name = f"test_{row['workload']}[{row['strategy']}-{row['profile']}-{row['policy']}-c{row['concurrency']}]"
        timings = [r["timer_s"] for r in row["rounds"]]
        assert by_name[name]["stats"]["rounds"] == len(timings)
        assert by_name[name]["stats"]["min"] == pytest.approx(min(timings))
        assert by_name[name]["stats"]["max"] == pytest.approx(max(timings))
        assert by_name[name]["extra_info"]["status"] == row["status"]
