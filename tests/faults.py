"""Faults injected into a real sweep at deterministic points: the inner pytest command, and the plugin.

The fault tests (tests/test_faults.py) run a small sweep in a subprocess with this module as a plugin
(``-p tests.faults``), told by ``FAULT_ENV`` what to break. Like ``tests.interrupting``, it arms once a
row has passed, then acts inside the harness's next timed fetch (``WorkerProcess.fetch_round``), so the
fault always lands while a cell is being measured, never at a moment picked by a sleep:

- ``kill-server:N``: SIGKILL the server right before the fetch, once per server process (a restarted
  server is a new one), N times in all;
- ``stop-server``: SIGSTOP the server right before the fetch and SIGCONT it right after: the fetch's
  requests outlive their deadline on a server that is stopped, then the sweep reads a server that resumed;
- ``halt-server``: SIGSTOP the server right before the fetch, for good (the test ends it afterwards);
- ``kill-worker``: SIGKILL the strategy's worker right before the fetch, once.

The server is whichever answers the round's URL (its ``/stats`` names its pid): bundled, restarted,
external or in a ``--link`` namespace alike. ``DEADLINE_ENV`` shortens the requests' timeout and the wait
for ``/stats`` to that many seconds, so that a stopped server costs the test a second, not 15.
``PIDS_ENV`` names a file where every worker and server pid the plugin saw is written, one a line, so that
the test can check that none outlived the sweep.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any

import psutil
import pytest

#: What to break (``kind[:count]``, above); unset: the plugin does nothing.
FAULT_ENV = "CONCBENCH_FAULT"
#: Seconds for every request's timeout and for /stats around a round (unset: the sweep's own).
DEADLINE_ENV = "CONCBENCH_DEADLINE_S"
#: The file the pids seen are appended to (unset: none kept).
PIDS_ENV = "CONCBENCH_PIDS_FILE"
#: A bound on the wait for a signalled process to be dead or stopped: the kernel takes microseconds.
WAIT_S = 10.0


def sweep_command(*args: str) -> list[str]:
    """``pytest bench/test_sweep.py::test_latency ARGS`` with this plugin (one workload: pytest's counts are
    then the sweep's, no empty parameter sets of the other workloads' tests among its skips)."""
    return [sys.executable, "-m", "pytest", "bench/test_sweep.py::test_latency", "-p", "tests.faults", *args]


class _Fault:
    def __init__(self, kind: str, count: int):
        self.kind, self.left = kind, count
        self.armed = False
        self.broken: set[int] = set()  # the pids already broken
        self.stopped: int | None = None

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" and report.passed:
            self.armed = True

    def before(self, worker: Any) -> None:
        from local_server.api import fetch_stats

        pid = fetch_stats(worker._round.base_url)["pid"]
        _note(worker.pid, pid)
        if not self.armed or not self.left:
            return
        if self.kind == "kill-worker":
            self._signal(worker.pid, signal.SIGKILL)
            worker.popen.wait()  # the harness finds it exited, whatever the timing
            return
        if pid in self.broken:
            return
        if self.kind == "kill-server":
            self._signal(pid, signal.SIGKILL, psutil.STATUS_ZOMBIE)
        else:
            self._signal(pid, signal.SIGSTOP, psutil.STATUS_STOPPED)
            self.stopped = pid if self.kind == "stop-server" else None

    def after(self) -> None:
        if self.stopped is not None:
            os.kill(self.stopped, signal.SIGCONT)
            self.stopped = None

    def _signal(self, pid: int, signum: signal.Signals, until: str | None = None) -> None:
        """Send it, then wait (bounded) until the process is in state ``until`` (a server is not ours to
        wait for: the harness reaps it), so that the fetch always meets the fault in place."""
        self.broken.add(pid)
        self.left -= 1
        os.kill(pid, signum)
        deadline = time.monotonic() + WAIT_S
        while until is not None and time.monotonic() < deadline:
            try:
                if psutil.Process(pid).status() == until:
                    return
            except psutil.NoSuchProcess:
                return
            time.sleep(0.001)


def _note(*pids: int) -> None:
    path = os.environ.get(PIDS_ENV)
    if path:
        with open(path, "a") as log:
            log.writelines(f"{pid}\n" for pid in pids)


def pytest_configure(config: pytest.Config) -> None:
    deadline = os.environ.get(DEADLINE_ENV)
    if deadline:
        from bench.sweep import cells, plan

        plan.request_timeout_s = lambda concurrency: float(deadline)  # type: ignore[assignment]
        cells.STATS_TIMEOUT_S = float(deadline)
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    from strategies.worker.runner import WorkerProcess

    kind, _, count = spec.partition(":")
    fault = _Fault(kind, int(count or 1))
    config.pluginmanager.register(fault, "concbench-fault")
    fetch_round = WorkerProcess.fetch_round

    def faulty_fetch_round(self: WorkerProcess, deadline_s: float | None = None) -> float:
        fault.before(self)
        try:
            return fetch_round(self, deadline_s)
        finally:
            fault.after()

    WorkerProcess.fetch_round = faulty_fetch_round  # type: ignore[method-assign]
