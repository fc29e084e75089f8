"""The opt-in workloads (web, slow-link): not in the default sweep, and a tiny sweep of both through the real
machinery (server, workers, verification, results, report with its ranking and web_p99.png)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.record import schema
from bench.record.shapes import ideal_seconds, web_requests
from bench.sweep.plan import OPT_IN_WORKLOADS, WORKLOAD_NAMES, WORKLOADS, Case, Plan

pytestmark = pytest.mark.slow  # a real sweep

ROOT = Path(__file__).resolve().parent.parent
STRATEGIES = ("asyncio", "threads")


def test_the_default_sweep_runs_neither() -> None:
    plan = Plan()
    assert plan.workload_names == WORKLOAD_NAMES == ("latency", "claim", "throughput", "payload")
    assert all(plan.cases(name) == [] for name in OPT_IN_WORKLOADS)
    assert all(name not in WORKLOAD_NAMES for name in OPT_IN_WORKLOADS)
    assert Plan(quick=True).cases("web") == []


def test_the_default_workloads_keep_uniform_urls() -> None:
    plan = Plan()
    for name in WORKLOAD_NAMES:
        case = plan.cases(name)[0]
        workload = plan.workload(name, "http://127.0.0.1:1/", case)
        assert workload.paths == ()
        assert workload.rate_kbps == 0
        assert WORKLOADS[name].recorded() == {}


def test_slow_link_is_one_wave_of_paced_bodies() -> None:
    plan = Plan(workloads=("slow-link",))
    assert {case.concurrency for case in plan.cases("slow-link") if case.strategy != "sequential"} == {10, 100, 1000}
    workload = plan.workload("slow-link", "http://127.0.0.1:1/", Case("asyncio", "tuned", "keepalive", 100))
    assert workload.requests == 100
    assert workload.urls()[7] == "http://127.0.0.1:1/work?delay_ms=0&size=65536&rate_kbps=256&id=7"


@pytest.mark.parametrize(("c", "n"), [(1, 10), (10, 100), (100, 1000), (1000, 2000), (5000, 5000)])
def test_web_requests_per_round(c: int, n: int) -> None:
    assert WORKLOADS["web"].requests(c, quick=False) == n


@pytest.fixture(scope="module")
def opt_in_sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """Both workloads at C=3, N=6 (two waves), two strategies, one round each (--benchmark-disable)."""
    out = tmp_path_factory.mktemp("opt-in")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "bench/test_sweep.py", "--benchmark-disable", "--workloads=web,slow-link",
         "--policies=keepalive", "--concurrency=3", f"--strategies={','.join(STRATEGIES)}", "--requests=6",
         f"--results-dir={out}", "-p", "no:cacheprovider", "-q"],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    return json.loads((out / "latest.json").read_text()), out


def test_every_request_of_both_workloads_was_verified(opt_in_sweep: tuple[dict[str, Any], Path]) -> None:
    run, _ = opt_in_sweep
    assert schema.validate(run) == []
    rows = {row["id"]: row for row in run["rows"]}
    assert set(rows) == {f"{w}-{s}-tuned-keepalive-c3" for w in ("web", "slow-link") for s in STRATEGIES}
    for row in rows.values():
        assert row["status"] in ("ok", "flagged"), row["reason"]
        assert row["summary"]["errors"] == 0, row["reason"]
        assert all(r["ok"] == 6 and r["errors"] == 0 for r in row["rounds"])
        assert row["summary"]["peak_in_flight_max"] == 3


def test_rows_record_what_their_ideal_is_computed_from(opt_in_sweep: tuple[dict[str, Any], Path]) -> None:
    run, _ = opt_in_sweep
    for row in run["rows"]:
        if row["workload"] == "web":
            assert row["seed"] == 1
            assert "rate_kbps" not in row
            expected = ideal_seconds([d / 1000 for d, _ in web_requests(1, 6)], 3)
        else:
            assert row["rate_kbps"] == 256
            assert "seed" not in row
            expected = 2 * 65536 * 8 / 256_000  # two waves of one 64 KiB body at 256 kbit/s
        assert row["summary"]["ideal_s"] == pytest.approx(expected)
        assert row["summary"]["efficiency"] == pytest.approx(expected / row["summary"]["wall_s"])


def test_the_report_ranks_both_and_charts_the_web_p99(opt_in_sweep: tuple[dict[str, Any], Path]) -> None:
    _, out = opt_in_sweep
    report = (out / "REPORT.md").read_text()
    assert "### Ranking: web" in report
    assert "### Ranking: slow-link" in report
    assert "paced at 256 kbit/s" in report
    assert "drawn per request (seed 1" in report
    assert (out / "web_p99.png").stat().st_size > 0
    assert "![web_p99](web_p99.png)" in report
