"""The sweep's machinery behind the pytest tests: one server, the workers of one cell at a time, the rows.

Rules this module keeps:
- one server per session (``bench.sweep.target``): bundled, in its own process pinned to one core, or behind a
  shaped link (``--link``), or external (``--server-url``, not ours to start or pin); every strategy's
  worker is pinned to another core (when the machine has two cores or more); all is recorded in the results;
- a cell (workload, profile, policy, C) is measured as a whole, interleaved (``bench.sweep.cells``), when the
  first of its tests runs; each test then turns its case's share into its row and hands the rounds'
  times to pytest-benchmark (``replay``), so each row is still its own test with its own stats in
  pytest-benchmark's table and ``--benchmark-json``/``--benchmark-autosave``/``--benchmark-compare``;
- workers live for one (workload, profile, policy) group: the cell's strategies are all alive together,
  reused across the group's concurrency levels (ascending), and dropped when the group changes: a process
  keeps the memory high-water of its past (pools sized for C=1000), which must not be charged to the next
  group. A worker that dies fails its case with its stderr tail; the next cell starts a fresh one;
- every case becomes exactly one row (ok, flagged, failed or skipped), appended to the run's row log the
  moment it is finished (``bench.record.runfile``), so an interrupted sweep keeps it;
- ``--explain`` and ``--instructions``: once a cell's rounds are all done, each row's test runs its untimed
  pass (the profiled round of ``strategies.probes.explain`` in the row's worker; the callgrind pass in a worker of
  its own), one pass per test so that each stays within pytest's timeout. Each is recorded in the row
  apart from its rounds; a failure there is that section's error only (a worker that died of it is
  replaced for the next cell);
- the server is checked before each cell and read around every round (``bench.sweep.cells``). When it is
  gone (dead, or not answering), every row of the cell in progress fails with why (cause ``server``), a
  line says so (``say``), and the next cell gets a fresh bundled server (``server_restarts`` in the run,
  at most ``MAX_SERVER_RESTARTS``). Past that, or at once for a server not ours to restart (external,
  ``--link``), the sweep stops (``stop_reason``): its entry point runs no further cell, and every planned
  row it never reached is recorded ``not_run`` with the reason (``record_unreached``);
- HTTPS rows (``Case.scheme``) fetch from a second bundled server, its TLS twin, started beside the first
  when the session has any (pinned like it; restarted like it, each one alone): a measured cell holds
  both schemes' cases, interleaved round by round, each with a worker of its own (a strategy's HTTP and
  HTTPS rows never share a client); an HTTPS row records the version, cipher and resumed share its rounds'
  handshakes had at the server;
- ``close`` stops every worker and the server (and removes a link's namespace), whatever ended the session.
"""

from __future__ import annotations

import dataclasses
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple, cast

from bench.record.environment import machine_info, new_run
from bench.record.rows import finish_row
from bench.record.runfile import RunFile
from bench.record.schema import Cause, CellRecord, Pinning, Row, Run, validate
from bench.sweep.cells import Budget, CaseRun, Cell, ServerGone
from bench.sweep.noise import NoiseProbe, descendant_pids
from bench.sweep.plan import WORKLOADS, Case, Plan
from bench.sweep.target import Target, TargetError, open_target
from local_server.api import ServerError
from strategies.probes.instructions import DEFAULT_REQUESTS, InstructionCountError, count_instructions
from strategies.variants import record, worker_process
from strategies.worker.runner import WorkerError, WorkerProcess

#: Restarts of the bundled server one session allows before it stops: a server that died four times is
#: broken (or its machine is), and every further cell would only add failed rows; three survive a rare
#: crash or a kill from outside.
MAX_SERVER_RESTARTS = 3


class MeasuredCell(NamedTuple):
    """What is measured together, interleaved: one workload, profile, policy and C, its rows of both schemes
    (``bench.record.rows.CellKey`` adds the scheme: the rows compared with each other)."""

    workload: str
    profile: str
    policy: str
    concurrency: int


def cell_key(workload: str, case: Case) -> MeasuredCell:
    """The cell a case is measured in."""
    return MeasuredCell(workload, case.profile, case.policy, case.concurrency)


def used_cores(pinning: Pinning) -> list[int]:
    """The cores the sweep runs on: the pinned ones, or every allowed one when nothing is pinned."""
    pinned = (pinning["server"] or []) + (pinning["worker"] or [])
    return sorted(set(pinned)) if pinned else sorted(os.sched_getaffinity(0))


def choose_pinning(external: bool = False) -> Pinning:
    """Server on the first allowed CPU, workers on the second; nothing pinned on a single-CPU machine. An
    ``external`` server (``--server-url``) is not ours to pin: the workers keep the second CPU all the same,
    so that a run against it differs from a bundled run by the server alone."""
    if not hasattr(os, "sched_getaffinity"):
        return {"server": None, "worker": None, "note": "no os.sched_setaffinity on this platform: not pinned"}
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return {"server": None, "worker": None, "note": "one CPU available: server and worker share it"}
    if external:
        return {"server": None, "worker": [cpus[1]],
                "note": f"{len(cpus)} CPUs available: an external server (not pinned by the sweep); strategy "
                        "worker pinned; pytest itself is not pinned"}
    return {"server": [cpus[0]], "worker": [cpus[1]],
            "note": f"{len(cpus)} CPUs available: server and strategy worker pinned to different cores; "
                    "pytest itself is not pinned (it waits on the worker during a round)"}


def cell_text(key: MeasuredCell) -> str:
    """A cell as the terminal and the reasons name it: ``latency tuned close C=10`` (pytest-benchmark's group)."""
    return f"{key.workload} {key.profile} {key.policy} C={key.concurrency}"


def cell_record(key: MeasuredCell) -> CellRecord:
    return {"workload": key.workload, "profile": key.profile, "policy": key.policy, "concurrency": key.concurrency}


class Sweep:
    def __init__(self, plan: Plan, cells: dict[MeasuredCell, list[Case]], system_check: dict[str, Any] | None = None,
                 resumed: tuple[Path, Run] | None = None, say: Callable[[str], None] | None = None):
        self.plan = plan
        self.cells = cells
        #: One line for the terminal, now (a server gone, restarted): the entry point's reporter.
        self.say = say or (lambda line: None)
        #: Per scheme, why its server is gone and during which cell, until it is restarted for the next cell.
        self.server_down: dict[str, tuple[str, CellRecord | None]] = {}
        #: Why the sweep stops: no further cell is run (the entry point stops the session).
        self.stop_reason: str | None = None
        self.restarts = 0
        #: The rows whose rounds went to pytest-benchmark (``was_timed``).
        self.timed: set[str] = set()
        self.pinning = choose_pinning(external=plan.server_url is not None)
        self.probe = NoiseProbe(used_cores(self.pinning), descendant_pids)  # server, workers and theirs
        self.rng = random.Random(plan.schedule_seed)
        #: Per (strategy, scheme): a strategy's HTTP and HTTPS rows each have a worker of their own.
        self.workers: dict[tuple[str, str], WorkerProcess] = {}
        self.group: tuple[str, str, str] | None = None
        self.measured: dict[MeasuredCell, dict[Case, CaseRun]] = {}
        self.started = time.perf_counter()
        #: The server of each scheme the session's cells fetch over: HTTP always, HTTPS when a cell has it.
        self.targets: dict[str, Target] = {
            "http": open_target(plan.server_backend, plan.server_url, plan.link_bit_s, self.pinning["server"])}
        try:
            if any(case.scheme == "https" for cases in cells.values() for case in cases):
                self.targets["https"] = open_target(plan.server_backend, cpus=self.pinning["server"], tls=True)
            self._open_run(plan, system_check, resumed)
        except BaseException:
            self._stop_servers()
            raise

    @property
    def server(self) -> Target:
        """The HTTP server (the run's ``server``)."""
        return self.targets["http"]

    def _stop_servers(self) -> None:
        for target in self.targets.values():
            target.stop()

    def _open_run(self, plan: Plan, system_check: dict[str, Any] | None, resumed: tuple[Path, Run] | None) -> None:
        server = self.server.record
        if resumed is None:
            self.run = new_run(machine_info(self.pinning), plan.options(), server, system_check)
            self.run["server_restarts"] = []
            if "https" in self.targets:
                self.run["tls_server"] = self.targets["https"].record
            self.file = RunFile(plan.results_dir, self.run)
        else:
            path, self.run = resumed
            self.run.setdefault("resumed", []).append({"server": server, "machine": machine_info(self.pinning),
                                                       "system_check": system_check})
            self.run["options"]["stopped"] = None  # the stop (if any) of the part it resumes is over
            if "https" in self.targets:  # the first part's when it had one, as ``server``
                self.run.setdefault("tls_server", self.targets["https"].record)
            self.file = RunFile(plan.results_dir, self.run, path)

    # -- workers ---------------------------------------------------------------------------------------

    def _worker(self, case: Case) -> WorkerProcess:
        key = (case.strategy, case.scheme)
        if key not in self.workers:
            cpus = set(self.pinning["worker"]) if self.pinning["worker"] else None
            self.workers[key] = worker_process(case.strategy, cpus=cpus)  # today's, an era's, an interpreter's
        return self.workers[key]

    def _enter_group(self, group: tuple[str, str, str]) -> None:
        if group != self.group:
            self.close_workers()
            self.group = group

    def close_workers(self) -> None:
        for worker in self.workers.values():
            worker.close()
        self.workers.clear()

    def close(self) -> None:
        self.close_workers()
        self._stop_servers()

    # -- cells -----------------------------------------------------------------------------------------

    def budget(self) -> Budget:
        if self.plan.benchmark_disabled:  # CI smoke: one plain round per case
            return Budget(min_rounds=1, max_rounds=1, warmup_rounds=0)
        return Budget(self.plan.rounds, self.plan.max_rounds, self.plan.warmup_rounds)

    def _measure_cell(self, key: MeasuredCell, case: Case) -> None:
        workload_name = key[0]
        cases = self.cells.get(key) or [case]
        runs = {c: CaseRun(c, self.plan.workload(workload_name, self.targets[c.scheme].url, c)) for c in cases}
        self.measured[key] = runs  # first: whatever ends the cell, each of its rows is recorded
        self._enter_group(key[:3])
        ready = self._server_ready(key, {c.scheme for c in cases})
        for run in runs.values():  # the URL (and CA) of the server that measures it (restarted: a new one)
            target = self.targets[run.key.scheme]
            run.workload = dataclasses.replace(run.workload, base_url=target.url, ca_file=target.ca_file)
        if not ready:
            self._fail_cell(runs, f"the server is gone and the sweep stops: {self.stop_reason}")
            return
        for run in runs.values():
            try:
                run.worker = self._worker(run.key)
                run.cold_start_s = run.worker.setup(run.workload.client_config()).cold_start_s
            except WorkerError as exc:
                run.fail(exc)
        try:
            Cell(list(runs.values()), self.budget(), self.rng, self.probe).run()
        except ServerGone as exc:  # this cell's rows fail, not the sweep
            scheme = next((s for s, t in self.targets.items() if t.url == exc.url), "http")
            self._fail_cell(runs, self._server_gone(key, str(exc), len(runs), scheme))
        for run in runs.values():
            if run.worker_died:
                self.workers.pop((run.key.strategy, run.key.scheme)).close()

    @staticmethod
    def _fail_cell(runs: dict[Case, CaseRun], why: str) -> None:
        for run in runs.values():
            if run.failure is None:  # one that failed of its own before keeps its reason
                run.failure, run.cause = f"server: {why}", "server"

    # -- the server ------------------------------------------------------------------------------------

    def _server_ready(self, key: MeasuredCell, schemes: set[str]) -> bool:
        """Before a cell: the servers of its ``schemes`` answer, or fresh ones do (restarted, within the
        bound); False when the sweep stops instead."""
        for scheme in sorted(schemes):
            if self.stop_reason is None and scheme not in self.server_down:
                gone = self.targets[scheme].gone()
                if gone is not None:  # it went between cells: no row was running on it
                    self._server_gone(None, gone, 0, scheme)
        if self.stop_reason is not None:
            return False
        for scheme in sorted(schemes & self.server_down.keys()):
            why, died_in = self.server_down.pop(scheme)
            target = self.targets[scheme]
            self.close_workers()  # fresh workers: no pool keeps connections to the old server
            try:
                target.restart()
            except (ServerError, TargetError, OSError) as exc:
                self.stop_reason = f"{why}; its restart failed: {exc}"
                self.say(f"server: the restart failed ({exc}); the sweep stops")
                return False
            self.restarts += 1
            self.run.setdefault("server_restarts", []).append(
                {"at": time.time(), "cell": died_in, "why": why, "url": target.url, "pid": target.pid})
            self.say(f"server: restarted for {cell_text(key)} ({self.restarts} of {MAX_SERVER_RESTARTS} "
                     f"restarts): {target.url}, pid {target.pid}")
        return True

    def _server_gone(self, key: MeasuredCell | None, error: str, rows: int, scheme: str = "http") -> str:
        """The server of ``scheme`` went during cell ``key`` (None: between cells): why, in one sentence; a
        line on the terminal; a restart for the next cell, or the sweep's stop."""
        target = self.targets[scheme]
        why = target.gone(error) or error
        where = f"during {cell_text(key)}: its {rows} rows fail" if key is not None else "between cells"
        if target.restartable and self.restarts < MAX_SERVER_RESTARTS:
            self.server_down[scheme] = why, cell_record(key) if key is not None else None
            self.say(f"server: {why} ({where}); a fresh one starts for the next cell")
        else:
            self.stop_reason = (f"{why} ({where})" if not target.restartable else
                                f"{why} ({where}), after {self.restarts} restarts")
            self.say(f"server: {why} ({where}); the sweep stops")
        return why

    def was_timed(self, row_id: str) -> bool:
        """pytest-benchmark was given the row's rounds (a failed row may have none)."""
        return row_id in self.timed

    def pending(self) -> bool:
        """Rows of a measured cell are still to be recorded (their tests have not run yet)."""
        return any(self.measured.values())

    def _count_instructions(self, run: CaseRun) -> dict[str, Any]:
        """The untimed callgrind pass of one case, in its row's test (after its whole cell, so no timed round
        shares the machine with valgrind, and each test holds one pass, well within pytest's timeout):
        N = ``instructions.DEFAULT_REQUESTS`` (at least C), the row's C, policy, delay and size. A workload of
        per-request paths (web) has no N to scale: its row says so instead."""
        if run.workload.paths:
            return {"error": "instructions are counted on uniform /work workloads; this one draws each request"}
        workload = dataclasses.replace(run.workload, requests=max(DEFAULT_REQUESTS, run.workload.concurrency))
        cpus = set(self.pinning["worker"]) if self.pinning["worker"] else None
        try:
            return count_instructions(run.key.strategy, workload, cpus=cpus).to_dict()
        except (InstructionCountError, WorkerError) as exc:
            return {"error": _tail(str(exc), 500)}

    def _explain(self, run: CaseRun) -> dict[str, Any]:
        """The untimed, profiled round of one case (``strategies.probes.explain``), in its worker after every timed
        round of its cell, on the row's workload. Its failure is the row's ``explain`` error, nothing more; a
        worker that died of it is replaced for the next cell."""
        assert run.worker is not None
        try:
            return run.worker.explain_round(run.workload)
        except WorkerError as exc:
            worker = self.workers.pop((run.key.strategy, run.key.scheme), None) if not exc.alive else None
            if worker is not None:  # the next cell of its group gets a new one
                worker.close()
            return {"error": _tail(str(exc), 500)}

    # -- rows ------------------------------------------------------------------------------------------

    def _row(self, workload_name: str, case: Case) -> dict[str, Any]:
        # From the plan, not a Workload: a skipped case may be one no Workload can describe (as-written
        # keep-alive), and its row still says what it would have been.
        spec = WORKLOADS[workload_name]
        return {"id": f"{workload_name}-{case.id}", "strategy": case.strategy, "workload": workload_name,
                "profile": case.profile, "policy": case.policy, "concurrency": case.concurrency,
                "requests": self.plan.requests_per_round(workload_name, case),
                "delay_ms": spec.delay(case.concurrency),
                "size": spec.size, "method": "GET", "status": None, "flags": [], "notes": [], "reason": "",
                "cause": None, "rounds": [], "rounds_stopped": None, "summary": None, "cold_start_s": None,
                "harness_overhead_pct": None, "pytest_benchmark_stats": None, **spec.recorded(),
                **record(case.strategy), "scheme": case.scheme,
                **({"tls_version": None, "tls_cipher": None, "tls_resumed": None} if case.scheme == "https" else {})}

    def skip(self, workload_name: str, case: Case, reason: str) -> dict[str, Any]:
        row = self._row(workload_name, case)
        row.update(status="skipped", reason=reason)
        return self._record(row)

    def measure(self, workload_name: str, case: Case, benchmark: Any) -> dict[str, Any]:
        """The case's row from its cell (measured now if it is the cell's first test); its rounds' times
        go to ``benchmark`` as its stats."""
        key = cell_key(workload_name, case)
        if key not in self.measured:
            try:
                self._measure_cell(key, case)
            except KeyboardInterrupt:
                # Nothing timed, and no report of its own will say so (the entry point's hook, for a test
                # that failed): pytest-benchmark must not warn on top at the session's end.
                benchmark.skipped = True
                self.measured.pop(key, None)  # its rows did not run: ``record_unreached`` says so
                raise
            except BaseException as exc:  # pytest's timeout, an error of the sweep's own: its rows fail
                for run in self.measured.get(key, {}).values():
                    if run.failure is None:
                        run.failure, run.cause = f"the sweep's measurement of the cell failed: {exc!r}", "harness"
                if case in self.measured.get(key, {}):
                    self._record(self._row_of(workload_name, case, None))
                raise
        return self._record(self._row_of(workload_name, case, benchmark))

    def _row_of(self, workload_name: str, case: Case, benchmark: Any | None) -> dict[str, Any]:
        """The row of a case its cell measured (its untimed passes run now, in its test); its rounds' times
        to ``benchmark`` as its stats (None: its test is failing, nothing to give)."""
        run = self.measured[cell_key(workload_name, case)].pop(case)
        row = self._row(workload_name, case)
        row.update(rounds=run.rounds, cold_start_s=run.cold_start_s, rounds_stopped=run.stopped)
        if case.scheme == "https":
            row.update(negotiated(run.rounds))
        if "python" in row and run.worker is not None:  # as the worker read it, its strategy started
            row["python"]["gil_enabled"] = run.worker.gil_enabled
        server_up = case.scheme not in self.server_down and self.stop_reason is None
        if self.plan.instructions:  # in the row's own test: one callgrind pass per test, within its timeout
            row["instructions"] = self._count_instructions(run) if run.rounds and server_up else None
        if self.plan.explain:  # likewise: one profiled round per test
            row["explain"] = self._explain(run) if run.rounds and run.live else None
        if run.failure is not None:
            row.update(status="failed", reason=_tail(run.failure), cause=run.cause)
        if benchmark is not None and run.rounds:
            row["pytest_benchmark_stats"] = replay(benchmark, [r["timer_s"] for r in run.rounds])
            self.timed.add(row["id"])
        finish_row(cast(Row, row))
        if row["status"] == "failed":
            row["rounds_stopped"] = "failed"
        if benchmark is not None:
            benchmark.extra_info.update(row_extra_info(row))
        return row

    def record_unreached(self, planned: Iterable[tuple[str, Case]], failures: dict[str, str], why: str,
                         cause: Cause) -> int:
        """A row for every planned case (workload, case) that has none, so that the run accounts for each:
        failed (cause ``harness``) where its test failed without recording one (``failures``: row id ->
        pytest's message), else ``not_run`` with ``why``. Returns how many were not run."""
        done = {row["id"] for row in self.run["rows"]}
        not_run = 0
        for workload_name, case in planned:
            row = self._row(workload_name, case)
            if row["id"] in done:
                continue
            if row["id"] in failures:
                row.update(status="failed", cause="harness", reason=_tail(f"its test failed: {failures[row['id']]}"))
            else:  # one that would have been skipped says so: its figures are not missing
                skip = self.plan.skip_reason(case)
                row.update(status="not_run", cause=cause,
                           reason=f"{why}; it would have been skipped: {skip}" if skip else why)
                not_run += 1
            self._record(row)
        return not_run

    def _record(self, row: dict[str, Any]) -> dict[str, Any]:
        """Keep a finished row: checked against the schema first, so that nothing undeclared is written."""
        problems = validate(row, Row, row["id"])
        if problems:
            raise ValueError("a row departs from bench.record.schema.Row: " + "; ".join(problems[:5]))
        self.run["rows"].append(cast(Row, row))
        self.file.append(row)
        return row

    def finish(self, interrupted: str | None) -> Path:
        """Write the results JSON (and ``latest.json``, which the report is made from); return its path."""
        self.run["options"]["wall_s"] = time.perf_counter() - self.started
        self.run["options"]["interrupted"] = interrupted
        self.run["options"]["stopped"] = self.stop_reason
        return self.file.write(self.run)


def negotiated(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """An HTTPS row's ``tls_version``, ``tls_cipher`` (the one its rounds' handshakes negotiated most) and
    ``tls_resumed`` (the share of its handshakes that resumed), from the server's counts in its rounds."""
    counted = [r["tls"] for r in rounds if r.get("tls")]
    ciphers: Counter[str] = Counter()
    for tls in counted:
        ciphers.update(tls["ciphers"])
    done = sum(t["full"] + t["resumed"] for t in counted)
    return {"tls_version": counted[0]["version"] if counted else None,
            "tls_cipher": ciphers.most_common(1)[0][0] if ciphers else None,
            "tls_resumed": sum(t["resumed"] for t in counted) / done if done else None}


def replay(benchmark: Any, durations: list[float]) -> dict[str, Any] | None:
    """Give pytest-benchmark the rounds' times measured in the cell, as that row's own stats.

    pytest-benchmark times ``target`` between two reads of its timer; here the target is empty and the
    timer reads back each round's measured start (0) and end (its duration), so its stats, table and
    saved JSON hold exactly the cell's timings of this row, no more, no less. Returns those stats.
    """
    ticks = iter([t for duration in durations for t in (0.0, duration)])
    benchmark._timer = lambda: next(ticks)  # pytest-benchmark reads it per round
    benchmark.pedantic(lambda: None, rounds=len(durations), iterations=1, warmup_rounds=0)
    metadata = getattr(benchmark, "stats", None)  # None when disabled: then one plain call, nothing timed
    if metadata is None:
        return None
    stats = metadata.stats
    return {k: getattr(stats, k) for k in ("min", "max", "mean", "stddev", "median", "iqr", "rounds")}


def _tail(text: str, limit: int = 1500) -> str:
    return text if len(text) <= limit else "…" + text[-limit:]


def row_extra_info(row: dict[str, Any]) -> dict[str, Any]:
    """What pytest-benchmark's own JSON (--benchmark-json) keeps of a row: status, flags, every round."""
    keep = ("workload", "profile", "policy", "concurrency", "requests", "delay_ms", "size", "status", "flags",
            "notes", "reason", "rounds_stopped", "cold_start_s", "harness_overhead_pct", "summary")
    info = {k: row[k] for k in keep}
    info["rounds"] = [{k: v for k, v in r.items() if k != "error_samples"} for r in row["rounds"]]
    return info
