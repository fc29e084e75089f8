"""Eras (``strategies.eras``, ``eras/2017``, ``bench.analysis.eras``): an era's recipe run through the real server and
today's verification; the skip line when its interpreter is missing or its build fails; the plan, the CLI
and the report's era section.

The 2017 era's virtualenv is built the first time (about a minute, on a machine with pyenv's 3.6.15 and
PyPI); where it cannot be built, the tests that need it skip with the reason, which is the behaviour under
test elsewhere in this file.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.analysis import eras as era_analysis
from bench.record.rows import finish_row
from bench.record.runfile import load_run
from bench.report.charts import eras as era_chart
from bench.report.sections import eras as era_section
from bench.sweep.plan import ERA_CONCURRENCY, ERA_WORKLOADS, Case, Plan
from strategies import eras
from strategies.worker.runner import WorkerError
from strategies.workload import Workload

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]  # slow: the 2017 era's interpreter and virtualenv

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).parent / "data" / "report_fixture.json"


@pytest.fixture(scope="module")
def era_2017() -> eras.EraEnv:
    prepared = eras.prepare("2017")
    if isinstance(prepared, str):
        pytest.skip(prepared)
    return prepared


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No era prepared yet in this process, and an empty cache: the next ``prepare`` looks afresh."""
    monkeypatch.setattr(eras, "_PREPARED", {})
    monkeypatch.setenv("CONCBENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path


def test_the_2017_executor_recipe_verifies_every_body_and_has_3_6s_default_cap(
        server_url: str, era_2017: eras.EraEnv) -> None:
    cap = 5 * (os.cpu_count() or 1)  # Python 3.6's ThreadPoolExecutor(): cpu_count() x 5, whatever the affinity
    concurrency = cap + 5
    as_written = Workload(server_url, 2 * concurrency, concurrency, policy="close", delay_ms=100,
                          profile="as-written")
    with eras.worker_process("asyncio-executor@2017") as worker:
        assert isinstance(worker, eras.EraWorkerProcess)
        assert worker.hello["python"] == "3.6.15"
        written = worker.run_round(as_written)
        tuned = worker.run_round(Workload(server_url, 2 * concurrency, concurrency, policy="keepalive",
                                          delay_ms=100))
        mixed = worker.run_round(Workload.from_paths(server_url, ["work?size=10&id=1", "status/500",
                                                                  "bytes/7"], 3, policy="close"))
    assert (written.ok, written.errors, written.strategy) == (2 * concurrency, 0, "asyncio-executor@2017")
    assert written.peak_in_flight == cap  # the era's default executor, not the row's C
    assert (tuned.ok, tuned.errors, tuned.peak_in_flight) == (2 * concurrency, 0, concurrency)
    # Today's verification judged the era's bodies: the URL that promises nothing is an error, the rest ok.
    assert (mixed.ok, mixed.errors, mixed.error_kinds) == (2, 1, {"unexpected": 1})
    for result in (written, tuned):
        assert result.wall_s > 0
        assert result.cpu_s > 0
        assert result.peak_rss_kb > 1000
        assert result.latency_ms["p50"] is not None
        assert result.latency_ms["p50"] >= 100


def test_an_era_worker_has_no_profiler(server_url: str, era_2017: eras.EraEnv) -> None:
    with eras.worker_process("asyncio@2017") as worker, pytest.raises(WorkerError, match="no profiler"):
        worker.explain_round(Workload(server_url, 2, 1))


def test_a_missing_interpreter_is_one_line_saying_how_to_get_it(
        fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONCBENCH_ERA_PYTHON", str(fresh / "no-such-python3.6"))
    said: list[str] = []
    reason = eras.prepare("2017", said.append)
    assert isinstance(reason, str)
    assert reason.endswith("pyenv install 3.6.15")
    assert said == [f"era 2017: its rows are skipped: {reason}"]
    assert eras.skip_reason("gevent@2017", 10, "close", "as-written") == reason
    # A limit of the model comes first, and needs no era: tornado has no keep-alive in any era.
    assert "no keep-alive" in (eras.skip_reason("tornado@2017", 10, "keepalive", "tuned") or "")
    with pytest.raises(WorkerError, match=re.escape("pyenv install 3.6.15")):
        eras.worker_process("gevent@2017")


def test_a_failed_build_is_a_reason_and_leaves_no_usable_venv(
        fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    version = ".".join(map(str, sys.version_info[:3]))
    era = eras.Era("test", version, (eras.Step(("concbench-no-such-package==1.0",), ("--no-index",), "nothing"),),
                   {}, eras.ERAS_DIR / "2017")
    monkeypatch.setattr(eras, "load", lambda name: era)
    monkeypatch.setenv("CONCBENCH_ERA_PYTHON", sys.executable)
    said: list[str] = []
    reason = eras.prepare("test", said.append)
    assert isinstance(reason, str)
    assert "pip step 1 of 1 (concbench-no-such-package==1.0" in reason
    assert "concbench-no-such-package" in reason.split("failed: ", 1)[1]  # pip's own error line
    assert said[0].startswith("era test: building its virtualenv")
    assert said[-1].endswith(reason)
    assert not (eras.venv_dir(era) / eras.MARKER).exists()


def test_a_sweep_without_the_interpreter_runs_todays_rows_and_skips_the_eras(tmp_path: Path) -> None:
    env = {**os.environ, "CONCBENCH_ERA_PYTHON": str(tmp_path / "no-such-python3.6"),
           "CONCBENCH_CACHE": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "bench/test_sweep.py", "--era", "2017", "--strategies", "asyncio",
         "--workloads", "throughput", "--policies", "keepalive", "--concurrency", "2", "--requests", "10",
         "--benchmark-disable", f"--results-dir={tmp_path / 'results'}", "-p", "no:cacheprovider", "-q"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    said = [line for line in done.stdout.splitlines() if line.startswith("era 2017:")]
    assert len(said) == 1, done.stdout[-3000:]
    assert said[0].endswith("pyenv install 3.6.15"), done.stdout[-3000:]
    rows = {row["strategy"]: row for row in json.loads((tmp_path / "results" / "latest.json").read_text())["rows"]}
    assert rows["asyncio"]["status"] in ("ok", "flagged")
    assert rows["asyncio"]["summary"]["errors"] == 0
    assert rows["asyncio@2017"]["status"] == "skipped"
    assert rows["asyncio@2017"]["reason"].endswith("pyenv install 3.6.15")
    assert rows["asyncio@2017"]["era"]["name"] == "2017"


def test_the_cli_refuses_an_era_it_cannot_run_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "CONCBENCH_ERA_PYTHON": str(tmp_path / "no-such-python3.6"),
           "CONCBENCH_CACHE": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-m", "strategies", "run", "gevent@2017", "-n", "2", "-c", "1"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1].endswith("pyenv install 3.6.15")
    assert "Traceback" not in done.stderr
    unknown = subprocess.run([sys.executable, "-m", "strategies", "run", "gevent@1999", "-n", "2", "-c", "1"],
                             cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert unknown.returncode == 2
    assert "unknown era '1999'" in unknown.stderr


def test_the_plan_puts_each_recipe_beside_its_era_twin() -> None:
    plan = Plan(era="2017")
    names = plan.strategy_names("as-written")
    assert "gevent" in names
    assert "gevent@2017" in names
    assert "asyncio-executor@2017" in names
    assert plan.workload_names == ERA_WORKLOADS
    assert plan.levels("latency", "tuned") == ERA_CONCURRENCY
    chosen = Plan(era="2017", strategies=("select", "tornado"))
    assert chosen.strategy_names("tuned") == ("select", "tornado", "tornado@2017")  # select has no 2017 recipe
    assert chosen.options()["era"] == "2017"
    assert "no keep-alive" in (chosen.skip_reason(Case("tornado@2017", "tuned", "keepalive", 10)) or "")
    assert Plan().strategy_names("tuned") == tuple(n for n in Plan().strategy_names("tuned") if "@" not in n)


def test_era_recipes_exist_for_the_claim_and_their_modules() -> None:
    era = eras.load("2017")
    assert set(era.recipes) == {"gevent", "grequests", "twisted", "tornado", "asyncio-executor", "asyncio",
                                "aiohttp"}
    for recipe in era.recipes.values():
        assert (era.directory / f"{recipe.module}.py").is_file()
        assert set(recipe.profiles) == {"as-written", "tuned"}
    assert all("==" in package for step in era.steps for package in step.packages)  # exact pins only
    with pytest.raises(ValueError, match="unknown era"):
        eras.load("1999")


def _with_era(run: dict[str, Any]) -> dict[str, Any]:
    """The fixture's latency/close/C=10 cell, plus a 2017 twin of each row: half the req/s, twice the CPU."""
    run = copy.deepcopy(run)
    for row in [r for r in run["rows"] if (r["workload"], r["policy"], r["concurrency"]) == ("latency", "close", 10)]:
        old = copy.deepcopy(row)
        old.update(id=row["id"] + "@2017", strategy=row["strategy"] + "@2017",
                   era={"name": "2017", "python": "3.6.15", "digest": "0", "libraries": {"gevent": "1.2.2"}})
        for r in old["rounds"]:
            r.update(req_per_s=r["req_per_s"] / 2, cpu_us_per_req=r["cpu_us_per_req"] * 2)
        run["rows"].append(finish_row(old))
    return run


def test_the_report_sets_the_same_recipe_side_by_side(tmp_path: Path) -> None:
    run = _with_era(load_run(FIXTURE))
    run["created"] = "2026-11-24T10:00:00+00:00"
    found = era_analysis.pairs(run, "2017")
    assert found
    assert all(p.key == ("latency", "tuned", "close", 10, "http") for p in found)
    for pair in found:
        assert pair.rate.ratio == pytest.approx(2.0)
        assert pair.cpu.ratio == pytest.approx(0.5)
    counts = era_analysis.verdict_counts(era_analysis.judged(run, "2017"), "2017")
    assert counts[("tuned", "today")] == counts[("tuned", "2017")]  # halving every rate keeps the order
    text = "\n".join(era_section.section(run))
    assert "## The claim on its own era's software: 2017 beside 2026" in text
    assert "| gevent > twisted > tornado > asyncio | 1 / 0 / 0 of 1 | 1 / 0 / 0 of 1 |" in text
    assert "2.00× [" in text
    assert "0.50× [" in text
    path = era_chart.draw(run, tmp_path / "eras.png")
    assert path is not None
    assert path.read_bytes().startswith(b"\x89PNG")
    assert era_section.section(load_run(FIXTURE)) == []
    assert era_chart.draw(load_run(FIXTURE), tmp_path / "x.png") is None
