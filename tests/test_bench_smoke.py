"""A smoke run of the sweep (bench/test_sweep.py) at tiny size: a broken sweep cannot land.

Runs pytest in a subprocess exactly as CI would: every strategy, every workload, profile and policy, C in
{1, 5}, 20 requests, ``--benchmark-disable`` (one round per case), results into a temporary directory.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.report.page.document import missing

pytestmark = pytest.mark.slow  # a real sweep

ROOT = Path(__file__).resolve().parent.parent


def test_quick_sweep_writes_results(tmp_path: Path) -> None:
    results = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "bench/test_sweep.py", "--quick", "--requests=20", "--concurrency=1,5",
         "--workloads=latency,claim,throughput,payload", "--benchmark-disable", f"--results-dir={results}",
         "-p", "no:cacheprovider", "-q"],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    latest = json.loads((results / "latest.json").read_text())
    assert len(list((results / "runs").glob("*.json"))) == 1
    assert latest["options"]["benchmark_disabled"]
    assert latest["options"]["concurrency"] == [1, 5]
    measured = [row for row in latest["rows"] if row["status"] != "skipped"]
    assert measured
    assert all(len(row["rounds"]) == 1 for row in measured)
    for row in measured:
        codes = {flag["code"] for flag in row["flags"]}
        # server saturation depends on the machine's load; errors or a missed C would be a real bug
        assert row["status"] in ("ok", "flagged"), row["id"]
        assert not codes & {"errors", "below_concurrency"}, row["id"]
    skipped = [row for row in latest["rows"] if row["status"] == "skipped"]
    assert all(row["reason"] for row in skipped)
    assert {row["profile"] for row in measured} == {"tuned", "as-written"}
    assert {row["workload"] for row in measured} == {"latency", "claim", "throughput", "payload"}
    for name in ("REPORT.md", "throughput.png", "cpu_per_request.png", "peak_rss.png", "p99_latency.png",
                 "claim.png"):
        assert (results / name).stat().st_size > 0
    assert "concbench results" in done.stdout
    if missing() is None:  # the results page, written after REPORT.md, lists the run by its file
        (run_file,) = (results / "runs").glob("*.json")
        assert f'"json":"runs/{run_file.name}"' in (results / "index.html").read_text()
