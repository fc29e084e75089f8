"""bench.record.runfile: an interrupted sweep keeps its finished rows, leaves nothing running, is reported as
partial, and ``--resume`` runs only what it lacks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import psutil
import pytest

from bench.record.runfile import load_run
from bench.report.document import make_report
from tests.interrupting import HOLD_FILE_ENV, sweep_command, wait_for_hold

pytestmark = pytest.mark.slow  # real sweeps, interrupted and resumed

ROOT = Path(__file__).resolve().parent.parent
#: Four cells (C=1 and C=2, two policies), every row a few hundred ms: long enough to interrupt mid-way.
SWEEP = ["--benchmark-only", "--workloads=latency", "--profiles=tuned", "--concurrency=2",
         "--strategies=sequential,select,asyncio,threads", "--requests=6", "--rounds=2", "--max-rounds=2",
         "-p", "no:cacheprovider", "-q"]


def test_interrupted_sweep_keeps_rows_leaves_nothing_running_and_resumes(tmp_path: Path) -> None:
    """SIGINT while the second cell is being measured (``tests.interrupting`` holds it there)."""
    hold = tmp_path / "holding"
    sweep = subprocess.Popen(sweep_command(*SWEEP, f"--results-dir={tmp_path / 'results'}"), cwd=ROOT, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                             env={**os.environ, HOLD_FILE_ENV: str(hold)})
    try:
        wait_for_hold(hold, sweep)
        children = {p.pid for p in psutil.Process(sweep.pid).children(recursive=True)}
        os.killpg(sweep.pid, signal.SIGINT)
    except BaseException:
        os.killpg(sweep.pid, signal.SIGKILL)
        sweep.communicate()  # reaps it and closes its pipe, which the collector would warn about
        raise
    output, _ = sweep.communicate(timeout=60)

    assert sweep.returncode == 2, output[-3000:]
    assert "Traceback" not in output
    assert "--resume" in output
    assert not [pid for pid in children if psutil.pid_exists(pid)
                and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE], "a server or worker outlived the sweep"
    (path,) = (tmp_path / "results" / "runs").glob("*.json")
    assert not list((tmp_path / "results" / "runs").glob("*.jsonl"))  # the JSON replaced the row log
    partial = load_run(path)
    kept = {row["id"] for row in partial["rows"] if row["status"] != "not_run"}
    not_run = [row for row in partial["rows"] if row["status"] == "not_run"]
    assert partial["partial"]
    assert partial["options"]["interrupted"] == "SIGINT"
    assert kept
    assert not_run
    assert len(partial["rows"]) == 8  # every planned row is accounted for: finished, or not run and why
    assert all(row["cause"] == "interrupted" and "interrupted (SIGINT)" in row["reason"] for row in not_run)
    assert f"{len(not_run)} not run" in output
    assert "Partial run" in make_report(path).read_text()

    resumed = subprocess.run(sweep_command("--benchmark-only", f"--resume={path}", "-p", "no:cacheprovider", "-q"),
                             cwd=ROOT, capture_output=True, text=True, timeout=180, check=False)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-2000:]
    assert f"{len(kept)} deselected" in resumed.stdout
    run = load_run(path)
    ids = [row["id"] for row in run["rows"]]
    assert len(ids) == len(set(ids)) == 8
    assert kept <= set(ids)
    assert not run["partial"]
    assert run["resumed"]


def test_a_killed_sweeps_row_log_is_read_as_partial(tmp_path: Path) -> None:
    header = {"schema_version": 2, "created": None, "machine": {}, "libraries": {}, "server": {},
              "options": {"rounds": 1}}
    row = {"id": "x", "strategy": "select", "status": "ok", "reason": "", "rounds": []}
    log = tmp_path / "run.jsonl"
    log.write_text(json.dumps(header) + "\n" + json.dumps(row) + "\n" + '{"id": "cut mid-wr')
    run = load_run(log)
    assert [r["id"] for r in run["rows"]] == ["x"]
    assert run["partial"]


def test_resume_refuses_other_plan_options(tmp_path: Path) -> None:
    done = subprocess.run(sweep_command("--resume=nowhere.json", "--quick"), cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode != 0
    assert "drop --quick" in done.stderr
    assert "Traceback" not in done.stderr
