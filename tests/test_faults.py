"""Faults survived and reported: each test runs a real small sweep and breaks it at a deterministic point
(``tests.faults``: a hook in the harness's next timed fetch once a row has passed), then checks what the
sweep kept, failed and did not run, what it restarted, what it says (the summary line, pytest's counts and
exit status, REPORT.md's warning), and that no server or worker outlived it.

Every sweep here: the latency workload, tuned, 4 requests a round, 2 rounds (``--quick``: no warm-up, so
the first fetch of a cell is a measured round), cells of two strategies at C = 1, 2, (3).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from bench.record import schema
from bench.record.runfile import load_run
from bench.sweep import netns
from bench.sweep.cells import CaseRun
from bench.sweep.harness import MAX_SERVER_RESTARTS, Sweep, cell_key
from bench.sweep.plan import Case, Plan
from local_server.api import ServerProcess
from strategies.worker.runner import WorkerError
from strategies.workload import Workload
from tests.faults import DEADLINE_ENV, FAULT_ENV, PIDS_ENV, sweep_command

ROOT = Path(__file__).resolve().parent.parent
SWEEP = ["--benchmark-only", "--quick", "--profiles=tuned", "--strategies=select,asyncio", "--requests=4",
         "--rounds=2", "--max-rounds=2", "--schedule-seed=1", "-p", "no:cacheprovider", "-q"]
#: A sweep of a few cells takes 10-30 s on a loaded 2-core machine (pytest's start and the report's charts
#: are most of it); this only bounds a hung one.
TIMEOUT_S = 240

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]  # slow: real sweeps, their server killed or stopped


class Swept:
    """A finished sweep: its output, exit status, run (raw JSON and as read) and report."""

    def __init__(self, done: subprocess.CompletedProcess[str], results: Path, pids: Path):
        self.output, self.returncode = done.stdout + done.stderr, done.returncode
        self.last_lines = done.stdout.strip().splitlines()[-2:]  # pytest's own counts last, on stdout
        (self.path,) = (results / "runs").glob("*.json")
        self.raw = json.loads(self.path.read_text())
        self.run = load_run(self.path)
        self.rows = {row["id"]: row for row in self.run["rows"]}
        self.report = (results / "REPORT.md").read_text()
        self.pids = {int(line) for line in pids.read_text().split()} if pids.exists() else set()

    def cell(self, policy: str, concurrency: int) -> list[dict[str, Any]]:
        return [row for row in self.run["rows"] if (row["policy"], row["concurrency"]) == (policy, concurrency)]


def _sweep(tmp_path: Path, fault: str, *options: str, deadline_s: float | None = None) -> Swept:
    results, pids = tmp_path / "results", tmp_path / "pids"
    env = {**os.environ, FAULT_ENV: fault, PIDS_ENV: str(pids)}
    if deadline_s is not None:
        env[DEADLINE_ENV] = str(deadline_s)
    done = subprocess.run(sweep_command(*SWEEP, f"--results-dir={results}", *options), cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    assert "Traceback" not in done.stdout + done.stderr, (done.stdout + done.stderr)[-4000:]
    return Swept(done, results, pids)


def _counts(swept: Swept) -> dict[str, int]:
    """The summary line's counts, checked against pytest's: ok and flagged passed, failed failed, skipped
    skipped, and every planned row counted once (not run: never run by pytest)."""
    (line,) = re.findall(r"^(\d+) ok, (\d+) flagged, (\d+) failed, (\d+) skipped, (\d+) not run of (\d+) planned "
                         r"rows$", swept.output, re.MULTILINE)
    ok, flagged, failed, skipped, not_run, planned = map(int, line)
    final = swept.last_lines[-1]
    pytest_counts = {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|skipped|errors?)", final)}
    assert pytest_counts.get("passed", 0) == ok + flagged, final
    assert pytest_counts.get("failed", 0) == failed, final
    assert "error" not in final, final
    assert pytest_counts.get("skipped", 0) == skipped, final
    assert ok + flagged + failed + skipped + not_run == planned == len(swept.run["rows"])
    assert swept.returncode == (1 if failed else 0)
    return {"ok": ok + flagged, "failed": failed, "skipped": skipped, "not_run": not_run}


def _valid_and_nothing_left(swept: Swept, not_ours: int | None = None) -> None:
    """The run validates as written (every way its rows ended is in the schema), and no server or worker
    the sweep started is left (``not_ours``: the external server, the test's own)."""
    assert schema.validate(swept.raw) == []
    assert swept.pids, "the plugin saw no server or worker"
    left = [pid for pid in swept.pids - {not_ours} if psutil.pid_exists(pid)
            and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    assert not left, f"a server or worker outlived the sweep: {left}"


def _warning(swept: Swept) -> str:
    """REPORT.md's opening warning (after its title), or ''."""
    head = swept.report.split("\n\n", 2)[1]
    return head if head.startswith("> **Warning:") else ""


def test_a_killed_bundled_server_fails_its_cell_only_and_is_restarted(tmp_path: Path) -> None:
    swept = _sweep(tmp_path, "kill-server:1", "--concurrency=1,2")
    assert _counts(swept) == {"ok": 6, "failed": 2, "skipped": 0, "not_run": 0}
    kept, died = swept.cell("close", 1), swept.cell("close", 2)
    assert all(row["status"] in ("ok", "flagged") for row in kept + swept.cell("keepalive", 1))
    for row in died:
        assert row["status"] == "failed"
        assert row["cause"] == "server"
        assert row["rounds_stopped"] == "failed"
        assert "the bundled server" in row["reason"]
        assert "was killed by SIGKILL" in row["reason"]
        assert "its last stderr lines: local_server: serving" in row["reason"]  # the server's own log
    (restart,) = swept.run["server_restarts"]
    assert restart["cell"] == {"workload": "latency", "profile": "tuned", "policy": "close", "concurrency": 2}
    assert "SIGKILL" in restart["why"]
    assert restart["pid"] != swept.run["server"]["pid"]
    assert restart["url"] in swept.output
    assert "server: restarted for latency tuned keepalive C=1" in swept.output
    assert not swept.run["partial"]
    assert swept.run["options"]["stopped"] is None
    warning = _warning(swept)
    assert "2 rows failed and 0 were not run" in warning
    assert "latency/tuned/close C=2 (" in warning
    assert "restarted 1 times" in warning
    _valid_and_nothing_left(swept)


def test_a_server_that_keeps_dying_stops_the_sweep_and_resume_finishes_it(tmp_path: Path) -> None:
    deaths = MAX_SERVER_RESTARTS + 1
    swept = _sweep(tmp_path, f"kill-server:{deaths}", "--concurrency=1,2,3")
    # six cells: the first measured, the next four each killed, the sixth never reached
    assert _counts(swept) == {"ok": 2, "failed": 2 * deaths, "skipped": 0, "not_run": 2}
    assert len(swept.run["server_restarts"]) == MAX_SERVER_RESTARTS
    stopped = swept.run["options"]["stopped"]
    assert "was killed by SIGKILL" in stopped
    assert f"after {MAX_SERVER_RESTARTS} restarts" in stopped
    for row in swept.cell("keepalive", 3):
        assert row["status"] == "not_run"
        assert row["cause"] == "server"
        assert row["rounds"] == []
        assert row["reason"] == f"the sweep stopped: {stopped}"
        assert row["rounds_stopped"] is None
    assert f"--resume {swept.path}" in swept.last_lines[0]  # the last line before pytest's counts: how to go on
    assert swept.run["partial"]
    assert "listed as not run" in swept.report
    assert f"{2 * deaths} rows failed and 2 were not run" in _warning(swept)
    _valid_and_nothing_left(swept)

    resumed = subprocess.run(sweep_command("--benchmark-only", f"--resume={swept.path}", "-p", "no:cacheprovider",
                                           "-q"), cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S,
                             check=False)
    assert resumed.returncode == 0, (resumed.stdout + resumed.stderr)[-3000:]
    assert "2 deselected" in resumed.stdout  # only the first cell was kept; the server's failures ran again
    run = load_run(swept.path)
    assert len(run["rows"]) == 12
    assert all(row["status"] in ("ok", "flagged") for row in run["rows"])
    assert not run["partial"]
    assert run["options"]["stopped"] is None
    assert len(run["server_restarts"]) == MAX_SERVER_RESTARTS  # the first part's, kept


def test_a_server_stopped_past_the_request_deadline_flags_its_rounds_and_the_sweep_goes_on(tmp_path: Path) -> None:
    swept = _sweep(tmp_path, "stop-server", "--concurrency=1,2", "--policies=close", deadline_s=1.0)
    assert _counts(swept) == {"ok": 4, "failed": 0, "skipped": 0, "not_run": 0}
    stalled = [(row, r) for row in swept.cell("close", 2) for r in row["rounds"] if r["server_stalled"]]
    assert stalled, "the stopped server's round is not marked"
    row, round_ = stalled[0]
    assert row["status"] == "flagged"
    assert {"errors", "server_stalled"} <= {f["code"] for f in row["flags"]}
    assert round_["errors"]
    assert round_["server_loop_lag_s"] > 0
    assert "the server's loop stalled" in round_["server_stalled"]
    assert all(r["server_loop_lag_s"] is not None for row in swept.run["rows"] for r in row["rounds"])
    assert swept.run["server_restarts"] == []
    assert not _warning(swept)
    assert re.search(r"\*\*[1-9]\d* rounds ran on a stalled server\*\*", swept.report)
    assert "`server_stalled`:" in swept.report  # the flag is defined where it can be raised
    _valid_and_nothing_left(swept)


@pytest.fixture
def external_server() -> Iterator[ServerProcess]:
    """The bundled server on 127.0.0.2, as another machine's would be: started by the test, not the sweep."""
    server = ServerProcess(host="127.0.0.2")
    server.start()
    try:
        yield server
    finally:
        if server.popen is not None and server.popen.poll() is None:
            os.kill(server.pid, signal.SIGKILL)  # a stopped process does not act on SIGTERM
        server.stop()


@pytest.mark.parametrize("fault", ["kill-server", "halt-server"])
def test_an_external_server_that_goes_away_stops_the_sweep_without_a_restart(
        tmp_path: Path, external_server: ServerProcess, fault: str) -> None:
    swept = _sweep(tmp_path, fault, "--concurrency=1,2,3", "--policies=close", f"--server-url={external_server.url}",
                   deadline_s=1.0)
    assert _counts(swept) == {"ok": 2, "failed": 2, "skipped": 0, "not_run": 2}
    for row in swept.cell("close", 2):
        assert row["status"] == "failed"
        assert row["cause"] == "server"
        assert f"the external server at {external_server.url} stopped answering" in row["reason"]
    assert all(row["status"] == "not_run" for row in swept.cell("close", 3))
    assert swept.run["server_restarts"] == []
    assert "restarts" not in swept.run["options"]["stopped"]
    assert f"--resume {swept.path}" in swept.last_lines[0]
    assert "2 rows failed and 2 were not run" in _warning(swept)
    _valid_and_nothing_left(swept, not_ours=external_server.pid)


@pytest.mark.skipif(netns.unavailable_reason() is not None, reason=f"{netns.unavailable_reason()}")
def test_a_killed_server_behind_a_link_stops_the_sweep_without_a_restart(tmp_path: Path) -> None:
    swept = _sweep(tmp_path, "kill-server", "--concurrency=1,2,3", "--policies=close", "--link=1gbit")
    assert _counts(swept) == {"ok": 2, "failed": 2, "skipped": 0, "not_run": 2}
    assert all("the link server" in row["reason"] and "SIGKILL" in row["reason"] for row in swept.cell("close", 2))
    assert swept.run["server_restarts"] == []
    _valid_and_nothing_left(swept)


def test_a_killed_worker_fails_its_row_only(tmp_path: Path) -> None:
    swept = _sweep(tmp_path, "kill-worker", "--concurrency=1,2", "--policies=close")
    assert _counts(swept) == {"ok": 3, "failed": 1, "skipped": 0, "not_run": 0}
    (row,) = [row for row in swept.run["rows"] if row["status"] == "failed"]
    assert row["cause"] == "worker"
    assert row["concurrency"] == 2
    assert "-9" in row["reason"]
    assert "1 rows failed and 0 were not run" in _warning(swept)
    assert "its worker died" in _warning(swept)
    _valid_and_nothing_left(swept)


def test_every_other_way_a_row_ends_is_in_the_schema(tmp_path: Path) -> None:
    """The row endings the sweeps above do not reach, made by the harness's own code: the strategy raised
    (its worker alive), a test that failed without a row (the harness), a row never reached (interrupted),
    a skipped one; each validates, and only the strategy's own failure is left out of the warning."""
    from bench.report.sections.run import faults_warning

    plan = Plan(strategies=("select",), workloads=("latency",), results_dir=tmp_path)
    cases = [Case("select", "tuned", "close", c) for c in (1, 2, 3)]
    sweep = Sweep(plan, {})
    try:
        run = CaseRun(cases[0], Workload(sweep.server.url, 4, 1))
        run.fail(WorkerError("select: fetch failed:\nRuntimeError: boom", alive=True))
        sweep.measured[cell_key("latency", cases[0])] = {cases[0]: run}
        rows = [sweep._record(sweep._row_of("latency", cases[0], None)),
                sweep.skip("latency", Case("select", "tuned", "close", 4), "not for this test")]
        assert sweep.record_unreached([("latency", c) for c in cases], {"latency-select-tuned-close-c2": "boom"},
                                      "the sweep was interrupted (SIGINT) before this row", "interrupted") == 1
    finally:
        sweep.close()
        sweep.finish(None)  # the run's JSON, its row log closed
    rows = sweep.run["rows"]
    assert [(r["status"], r["cause"]) for r in rows] == [("failed", "strategy"), ("skipped", None),
                                                         ("failed", "harness"), ("not_run", "interrupted")]
    assert all(schema.validate(r, schema.Row, r["id"]) == [] for r in rows)
    warning = "\n".join(faults_warning(sweep.run))
    assert "1 rows failed and 1 were not run" in warning
    assert "C=1 (" not in warning
    assert "C=2 (select)" in warning
    assert "C=3 (select)" in warning
