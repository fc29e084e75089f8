"""The sweep's machinery behind the pytest tests: one server, one long-lived worker per strategy, the rows.

Rules this module keeps:
- one bundled server per session, in its own process, pinned to one core; every strategy's worker is
  pinned to another (when the machine has two cores or more); the choice is recorded in the results;
- a worker is started once per strategy and (workload, profile, policy) group, and set up again for each
  case (``setup`` is untimed and reported as the case's cold start). If it dies, that case's row fails
  with its stderr tail, the worker is dropped, and the strategy's next case starts a fresh one: a crash
  loses rows, never the session;
- the timed region of a round is exactly one ``fetch_round`` round trip to the worker (the fetch; URL
  building, verification and bookkeeping happen in the worker's untimed ``prepare``/``measure`` steps).
  The server's counters are reset in pytest-benchmark's ``setup`` and read in its ``teardown``, both
  untimed, so no control request sits inside the timed region; the server CPU time of a round is the
  difference of its ``cpu_s`` between the two;
- every case becomes exactly one row (ok, flagged, failed or skipped), recorded even when the test fails.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from bench import report
from bench.plan import WORKLOADS, Case, Plan
from bench.results import add_timing, finish_row, machine_info, new_run, write_run
from local_server.api import ServerProcess, fetch_stats, reset_stats
from strategies.runner import WorkerError, WorkerProcess
from strategies.workload import Workload


def choose_pinning() -> dict[str, Any]:
    """Server on the first allowed CPU, workers on the second; nothing pinned on a single-CPU machine."""
    if not hasattr(os, "sched_getaffinity"):
        return {"server": None, "worker": None, "note": "no os.sched_setaffinity on this platform: not pinned"}
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return {"server": None, "worker": None, "note": "one CPU available: server and worker share it"}
    return {"server": [cpus[0]], "worker": [cpus[1]],
            "note": f"{len(cpus)} CPUs available: server and strategy worker pinned to different cores; "
                    "pytest itself is not pinned (it waits on the worker during a round)"}


class CellRun:
    """The three callables handed to ``benchmark.pedantic`` for one case, and what they collected.

    ``setup`` (untimed) resets the server's counters and has the worker build the round's URLs and take
    its CPU snapshot; ``target`` (timed) is the fetch alone; ``teardown`` (untimed) collects the worker's
    figures (verification included) and the server's.
    """

    def __init__(self, worker: WorkerProcess, workload: Workload, url: str):
        self.worker, self.workload, self.url = worker, workload, url
        self.rounds: list[dict[str, Any]] = []  # includes warm-up rounds, in order
        self._before: dict[str, Any] | None = None
        self._timer_s = 0.0

    def setup(self) -> None:
        self.worker.prepare_round(self.workload)
        self._before = reset_stats(self.url)  # snapshot just before zeroing: its cpu_s starts the round

    def target(self) -> None:
        started = time.perf_counter()
        self.worker.fetch_round()
        self._timer_s = time.perf_counter() - started

    def teardown(self) -> None:
        after = fetch_stats(self.url)
        data = self.worker.measure_round().to_dict()
        data["own_timer_s"] = self._timer_s
        data["peak_in_flight"] = after.get("peak_in_flight")
        if self._before is not None:
            data["server_cpu_s"] = after["cpu_s"] - self._before["cpu_s"]
        self.rounds.append(data)
        self._before = None

    def finish(self) -> None:
        """pytest-benchmark skips ``setup``/``teardown`` when disabled (one plain call): do them here."""
        if not self.rounds and self._timer_s:
            self.teardown()


class Sweep:
    def __init__(self, plan: Plan):
        self.plan = plan
        self.pinning = choose_pinning()
        self.server = ServerProcess(plan.server_backend, cpus=self.pinning["server"])
        self.workers: dict[str, WorkerProcess] = {}
        self.worker_groups: dict[str, tuple[str, ...]] = {}
        self.started = time.perf_counter()
        self.server.start()
        self.run = new_run(machine_info(self.pinning), plan.options(),
                           {"backend": plan.server_backend, "pid": self.server.pid, "url": self.server.url})

    # -- workers ---------------------------------------------------------------------------------------

    def worker(self, name: str, group: tuple[str, ...]) -> WorkerProcess:
        """The strategy's worker for one (workload, profile, policy) group, fresh when the group changes.

        Reused across the group's concurrency levels (which run in ascending order), but never across
        groups: a process keeps the memory high-water of its past (allocator arenas, pools sized for
        C=1000), so a worker that had served the C=1000 close cases would charge that to keep-alive C=1.
        """
        if name in self.workers and self.worker_groups.get(name) != group:
            self.drop_worker(name)
        if name not in self.workers:
            cpus = set(self.pinning["worker"]) if self.pinning["worker"] else None
            self.workers[name] = WorkerProcess(name, cpus=cpus)
            self.worker_groups[name] = group
        return self.workers[name]

    def drop_worker(self, name: str) -> None:
        worker = self.workers.pop(name, None)
        if worker is not None:
            worker.close()

    def close(self) -> None:
        for name in list(self.workers):
            self.drop_worker(name)
        self.server.stop()

    # -- rows ------------------------------------------------------------------------------------------

    def _row(self, workload_name: str, case: Case) -> dict[str, Any]:
        # From the plan, not a Workload: a skipped case may be one no Workload can describe (as-written
        # keep-alive), and its row still says what it would have been.
        spec = WORKLOADS[workload_name]
        return {"id": f"{workload_name}-{case.id}", "strategy": case.strategy, "workload": workload_name,
                "profile": case.profile, "policy": case.policy, "concurrency": case.concurrency,
                "requests": self.plan.requests_per_round(workload_name, case), "delay_ms": spec.delay_ms,
                "size": spec.size, "method": "GET", "status": None, "flags": [], "notes": [], "reason": "",
                "rounds": [], "summary": None, "cold_start_s": None, "harness_overhead_pct": None,
                "pytest_benchmark_stats": None}

    def skip(self, workload_name: str, case: Case, reason: str) -> dict[str, Any]:
        row = self._row(workload_name, case)
        row.update(status="skipped", reason=reason)
        self.run["rows"].append(row)
        return row

    def measure(self, workload_name: str, case: Case, benchmark: Any) -> dict[str, Any]:
        """Run one case under ``benchmark.pedantic``; record and return its row (raises on failure)."""
        row = self._row(workload_name, case)
        self.run["rows"].append(row)
        workload = self.plan.workload(workload_name, self.server.url, case)
        run: CellRun | None = None
        try:
            worker = self.worker(case.strategy, (workload_name, case.profile, case.policy))
            row["cold_start_s"] = worker.setup(workload.client_config()).cold_start_s
            run = CellRun(worker, workload, self.server.url)
            benchmark.pedantic(run.target, setup=run.setup, teardown=run.teardown, rounds=self.plan.rounds,
                               warmup_rounds=self.plan.warmup_rounds, iterations=1)
            run.finish()
        except WorkerError as exc:
            if not exc.alive:
                self.drop_worker(case.strategy)
            row.update(status="failed", reason=_tail(str(exc)))
        _fill_rounds(row, run, benchmark, self.plan.warmup_rounds)
        finish_row(row)
        benchmark.extra_info.update(row_extra_info(row))
        return row

    def finish(self) -> tuple[Path, Path]:
        """Write the results JSON, the charts and REPORT.md; return (json path, report path)."""
        self.run["options"]["wall_s"] = time.perf_counter() - self.started
        path = write_run(self.run, self.plan.results_dir)
        return path, report.make_report(self.plan.results_dir / "latest.json")


def _tail(text: str, limit: int = 1500) -> str:
    return text if len(text) <= limit else "…" + text[-limit:]


def _fill_rounds(row: dict[str, Any], run: CellRun | None, benchmark: Any, warmup: int) -> None:
    """Measured rounds (warm-ups dropped), each with pytest-benchmark's own time for it when it kept one."""
    if run is None:
        return
    metadata = getattr(benchmark, "stats", None)  # None when disabled: then one plain call, no warm-up
    stats = metadata.stats if metadata is not None else None
    timings = list(stats.data) if stats is not None else []
    measured = run.rounds if getattr(benchmark, "disabled", False) else run.rounds[warmup:]
    if timings:
        row["pytest_benchmark_stats"] = {k: getattr(stats, k)
                                         for k in ("min", "max", "mean", "stddev", "median", "iqr", "rounds")}
    row["rounds"] = [add_timing(r, timings[i] if i < len(timings) else r["own_timer_s"])
                     for i, r in enumerate(measured)]


def row_extra_info(row: dict[str, Any]) -> dict[str, Any]:
    """What pytest-benchmark's own JSON (--benchmark-json) keeps of a row: status, flags, every round."""
    keep = ("workload", "profile", "policy", "concurrency", "requests", "delay_ms", "size", "status", "flags", "notes",
            "reason",
            "cold_start_s", "harness_overhead_pct", "summary")
    info = {k: row[k] for k in keep}
    info["rounds"] = [{k: v for k, v in r.items() if k != "error_samples"} for r in row["rounds"]]
    return info
