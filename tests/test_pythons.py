"""Interpreters (``strategies.pythons``, ``--python``, ``bench.analysis.pythons``): today's worker on pyenv's 3.13
through the real server, its version and GIL recorded; the one line for a missing interpreter, a value that
names none, and an extra that does not install; the plan, and the report's interpreters section.

The 3.13 virtualenv is built the first time into the default cache (``$CONCBENCH_CACHE``, a minute or two)
and reused by every later test and run; where pyenv has no 3.13 the test that needs it skips, saying so.
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

from bench.analysis import pythons as python_analysis
from bench.record.rows import CellKey, finish_row
from bench.record.runfile import load_run
from bench.report.charts import pythons as python_chart
from bench.report.sections import pythons as python_section
from bench.sweep.options import plan_from_options
from bench.sweep.plan import Case, Plan
from local_server.api import ServerProcess
from strategies import eras, pythons, variants
from strategies.venvs import SKIPPED, Interpreter
from strategies.worker.runner import WorkerError
from strategies.workload import Workload

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).parent / "data" / "report_fixture.json"
TODAY = ".".join(map(str, sys.version_info[:3]))


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No interpreter prepared yet in this process, an empty cache and no pyenv: ``prepare`` looks afresh."""
    monkeypatch.setattr(pythons, "_PREPARED", {})
    monkeypatch.setattr(pythons, "_GIVEN", {})
    monkeypatch.setenv("CONCBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    monkeypatch.setenv("HOME", str(tmp_path))  # ~/.pyenv too
    return tmp_path


@pytest.mark.slow
@pytest.mark.timeout(300)  # the first build of the 3.13 virtualenv: a minute or two on a loaded machine
def test_asyncio_on_python_3_13_verifies_every_body_and_records_its_version(server_url: str) -> None:
    prepared = pythons.prepare("py3.13")
    if isinstance(prepared, str):
        pytest.skip(prepared)
    assert prepared.interpreter.version.startswith("3.13.")
    assert not prepared.failed
    workload = Workload(server_url, 60, 20, policy="keepalive", delay_ms=20)
    with variants.worker_process("asyncio@py3.13") as worker:
        assert isinstance(worker, pythons.PythonWorkerProcess)
        assert worker.hello["python"] == prepared.interpreter.version
        assert worker.hello["free_threaded"] is False
        result = worker.run_round(workload)
        assert worker.gil_enabled is True  # a default (GIL) build says so at run time
    assert result.strategy == "asyncio@py3.13"
    assert result.ok == 60
    assert result.errors == 0
    assert result.peak_in_flight == 20
    record = variants.record("asyncio@py3.13")["python"]
    assert record["version"] == prepared.interpreter.version
    assert record["free_threaded"] is False
    assert record["digest"] == prepared.digest
    assert record["libraries"] == {"httptools": prepared.libraries["httptools"]}
    assert pythons.skip_reason("gevent@py3.13", 10, "keepalive", "tuned") is None
    assert prepared.python.parent.parent.is_relative_to(pythons.cache_root())  # outside the checkout



@pytest.mark.slow
@pytest.mark.timeout(300)  # the 3.13 virtualenv: built by the test above, or here the first time
def test_a_row_on_python_3_13_speaks_https_as_todays_worker_does() -> None:
    """The interpreter's worker is today's: the workload's scheme and CA file reach it, and it verifies the
    bundled server's certificate against that CA."""
    pytest.importorskip("trustme", reason="the bundled server's test CA needs trustme: pip install 'concbench[tls]'")
    prepared = pythons.prepare("py3.13")
    if isinstance(prepared, str):
        pytest.skip(prepared)
    with ServerProcess(backend="epoll", tls=True) as server:
        workload = Workload(server.url, 40, 4, policy="keepalive", ca_file=server.ca_file)
        assert workload.scheme == "https"
        with variants.worker_process("httpx@py3.13") as worker:
            result = worker.run_round(workload)
    assert result.ok == 40, result.error_kinds
    assert result.errors == 0, result.error_kinds  # every body verified, over https
    assert result.scheme == "https"
    assert result.tls is not None
    assert result.tls["full"] >= 1


def test_a_missing_interpreter_is_one_line_saying_how_to_get_it(fresh: Path) -> None:
    said: list[str] = []
    reason = pythons.prepare("py3.99", said.append)
    assert isinstance(reason, str)
    assert "\n" not in reason
    assert reason.endswith("pyenv install 3.99")
    assert said == [f"py3.99: {SKIPPED}: {reason}"]
    assert pythons.skip_reason("gevent@py3.99", 10, "close", "tuned") == reason
    assert "no keep-alive" in (pythons.skip_reason("tornado@py3.99", 10, "keepalive", "tuned") or "")  # its limits
    with pytest.raises(WorkerError, match=re.escape("pyenv install 3.99")):
        variants.worker_process("gevent@py3.99")
    free = pythons.prepare("py3.13t")
    assert isinstance(free, str)
    assert "free-threaded" in free
    assert free.endswith("pyenv install 3.13t")
    record = variants.record("asyncio@py3.99")["python"]
    assert record == {"tag": "py3.99", "version": None, "free_threaded": False, "gil_enabled": None,
                      "digest": None, "libraries": {}}


def test_the_cli_refuses_a_missing_interpreter_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "PYENV_ROOT": str(tmp_path / "no-pyenv"), "HOME": str(tmp_path),
           "CONCBENCH_CACHE": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-m", "strategies", "run", "asyncio@py3.99", "-n", "2", "-c", "1"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0
    assert done.stderr.strip().endswith("pyenv install 3.99")


def test_a_bad_python_value_is_a_one_line_usage_error(tmp_path: Path) -> None:
    def option(values: dict[str, Any]) -> Any:
        return lambda name, default=None: values.get(name, default)

    for value, message in (("banana", "neither a version"), (str(tmp_path / "python3"), "not an interpreter"),
                           ("3.12,", None)):
        if message is None:  # an empty item is dropped; the rest stands
            plan, _ = plan_from_options(option({"python": value}), ROOT)
            assert plan.pythons == ("3.12",)
            continue
        with pytest.raises(ValueError, match=message) as raised:
            plan_from_options(option({"python": value}), ROOT)
        assert "\n" not in str(raised.value)
    with pytest.raises(ValueError, match="--era"):
        plan_from_options(option({"python": "3.13", "era": "2017"}), ROOT)
    with pytest.raises(ValueError, match="--instructions"):
        plan_from_options(option({"python": "3.13", "instructions": True}), ROOT)


@pytest.mark.slow
@pytest.mark.timeout(300)  # a virtualenv of this interpreter, the project installed in it: ~30 s
def test_an_extra_that_does_not_install_skips_its_strategies_with_pips_line(
        fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A constraints set pip cannot satisfy (no gevent 9999 exists): pip's real failure, on this interpreter.
    dependencies, extras = pythons.constraints()
    monkeypatch.setattr(pythons, "constraints", lambda: (dependencies, {**extras, "gevent": ["gevent>=9999"]}))
    tag = pythons.tag_of(sys.executable)
    assert tag == f"py{sys.version_info[0]}.{sys.version_info[1]}"
    said: list[str] = []
    prepared = pythons.prepare(tag, said.append)
    assert not isinstance(prepared, str), prepared
    reason = pythons.skip_reason(f"gevent@{tag}", 10, "keepalive", "tuned")
    assert reason is not None
    assert "\n" not in reason
    assert reason.startswith(f"concbench[gevent] does not install on Python {TODAY}: pip install gevent>=9999 failed:")
    assert "ERROR: " in reason
    assert "gevent>=9999" in reason.split("failed: ", 1)[1]
    assert pythons.skip_reason(f"grequests@{tag}", 10, "keepalive", "tuned") is None  # its own extra installed
    assert pythons.skip_reason(f"asyncio@{tag}", 10, "keepalive", "tuned") is None
    assert said[0].startswith(f"{tag}: building its virtualenv")
    assert "not installed: gevent" in said[-1]
    marker = json.loads((pythons.venv_dir(tag, prepared.interpreter) / pythons.MARKER).read_text())
    assert marker["failed"] == prepared.failed
    assert marker["digest"] == prepared.digest
    monkeypatch.setattr(pythons, "_PREPARED", {})
    again = pythons.prepare(tag, said.append)  # the marker holds: reused, not rebuilt
    assert not isinstance(again, str)
    assert again.failed == prepared.failed
    assert not any("building" in line for line in said[1:-1])
    assert "building" not in said[-1]


def test_the_digest_follows_the_constraints_and_the_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    interpreter = Interpreter("3.13.0", False)
    base = pythons.digest(interpreter)
    assert pythons.digest(Interpreter("3.13.1", False)) != base != pythons.digest(Interpreter("3.13.0", True))
    dependencies, extras = pythons.constraints()
    assert "gevent" in extras
    assert all(not r.startswith("concbench") for rs in extras.values() for r in rs)
    monkeypatch.setattr(pythons, "constraints", lambda: (dependencies, {**extras, "tornado": ["tornado>=6.5"]}))
    assert pythons.digest(interpreter) != base


def test_tags_name_interpreters_and_no_era_is_named_like_one() -> None:
    assert pythons.tag_of("3.13") == pythons.tag_of("3.13.0") == "py3.13"
    assert pythons.tag_of("3.14t") == "py3.14t"
    assert variants.kind("gevent") == "today"
    assert variants.kind("gevent@2017") == "era"
    assert variants.kind("gevent@py3.13") == variants.kind("gevent@py3.13t") == "python"
    assert not any(pythons.is_tag(name) for name in eras.names())


def test_the_plan_puts_each_strategy_beside_its_rows_on_each_interpreter() -> None:
    plan = Plan(strategies=("sequential", "asyncio", "gevent"), pythons=("3.12", "3.13"), quick=True)
    assert plan.strategy_names("tuned") == ("sequential", "asyncio", "gevent", "sequential@py3.12", "asyncio@py3.12",
                                            "gevent@py3.12", "sequential@py3.13", "asyncio@py3.13", "gevent@py3.13")
    cases = plan.cases("latency")
    assert [c.strategy for c in cases if (c.profile, c.policy, c.concurrency) == ("tuned", "close", 1)] == [
        "sequential", "sequential@py3.12", "sequential@py3.13"]
    cell = [c.strategy for c in cases if (c.profile, c.policy, c.concurrency) == ("tuned", "close", 10)]
    assert cell == ["asyncio", "gevent", "asyncio@py3.12", "gevent@py3.12", "asyncio@py3.13", "gevent@py3.13"]
    assert plan.levels("latency", "tuned") == Plan(quick=True).levels("latency", "tuned")  # the sweep's own
    assert plan.options()["pythons"] == ["3.12", "3.13"]
    assert Plan().strategy_names("tuned") == tuple(n for n in Plan().strategy_names("tuned") if "@" not in n)
    assert "no keep-alive" in (plan.skip_reason(Case("tornado@py3.13", "tuned", "keepalive", 10)) or "")


def _with_interpreters(run: dict[str, Any]) -> dict[str, Any]:
    """The fixture's latency/close/C=10 cell plus each row on py3.12 (every rate x 1.25, CPU x 0.8) and on
    py3.13 (the same figures as today), and a gevent row that did not install on py3.13."""
    run = copy.deepcopy(run)
    cell = [r for r in run["rows"] if (r["workload"], r["policy"], r["concurrency"]) == ("latency", "close", 10)]
    for tag, version, speed in (("py3.12", "3.12.1", 1.25), ("py3.13", "3.13.0", 1.0)):
        for row in cell:
            other = copy.deepcopy(row)
            other.update(id=f"{row['id']}@{tag}", strategy=f"{row['strategy']}@{tag}",
                         python={"tag": tag, "version": version, "free_threaded": False, "gil_enabled": True,
                                 "digest": "0", "libraries": {}})
            if tag == "py3.13" and row["strategy"] == "gevent":
                other.update(status="skipped", reason="concbench[gevent] does not install on Python 3.13.0: x",
                             rounds=[], summary=None)
                run["rows"].append(other)
                continue
            for r in other["rounds"]:
                r.update(req_per_s=r["req_per_s"] * speed, cpu_us_per_req=r["cpu_us_per_req"] / speed)
            run["rows"].append(finish_row(other))
    return run


def test_the_report_sets_each_interpreter_beside_todays(tmp_path: Path) -> None:
    run = _with_interpreters(load_run(FIXTURE))
    found = python_analysis.pairs(run)
    assert found
    assert {p.tag for p in found} == {"py3.12", "py3.13"}
    assert all(p.key == CellKey("latency", "tuned", "close", 10) for p in found)
    for pair in found:
        expected = 1.25 if pair.tag == "py3.12" else 1.0
        assert pair.rate.ratio == pytest.approx(expected)
        assert pair.cpu.ratio == pytest.approx(1 / expected)
    assert "gevent" not in {p.strategy for p in found if p.tag == "py3.13"}
    text = "\n".join(python_section.section(run))
    assert "## The same recipe on three interpreters" in text
    assert "![pythons](pythons.png)" in text
    assert "| py3.12 | 3.12.1 | no | yes |" in text
    assert "1.25× [" in text
    assert "0.80× [" in text
    assert "- `gevent@py3.13`: concbench[gevent] does not install on Python 3.13.0" in text
    path = python_chart.draw(run, tmp_path / "pythons.png")
    assert path is not None
    assert path.read_bytes().startswith(b"\x89PNG")
    plain = load_run(FIXTURE)
    assert python_section.section(plain) == []
    assert python_chart.draw(plain, tmp_path / "x.png") is None
