"""Interrupting a sweep mid-row, deterministically: the inner pytest command, and the plugin that holds it.

The interrupt tests (tests/test_runfile.py, tests/test_netns.py) start a real sweep in a subprocess and send
it SIGINT while a row is being measured. Waiting for "the first row is logged" and then signalling is a
race: a short sweep can finish its last rows before the signal lands (seen: exit 0 instead of 2). So the
sweep runs with this module as a plugin (``-p tests.interrupting``): once a row has passed, the next timed
fetch of a round (``WorkerProcess.fetch_round``, inside the harness's measurement of the next cell) creates
``HOLD_FILE_ENV``'s file and waits there; the test signals when the file exists, so the signal always lands
while that row is being measured, whatever the machine's speed.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

#: The file the held sweep creates once it is holding inside a row's fetch (unset: the plugin does nothing).
HOLD_FILE_ENV = "CONCBENCH_HOLD_FILE"
#: How long the sweep holds at most: only a bound, should the test never signal (it signals within ms).
HOLD_S = 120.0

#: pytest with Ctrl-C as a terminal gives it: a test run started in the background of a non-interactive
#: shell inherits SIGINT ignored, and Python then leaves it ignored (while the server, which sets its own
#: handler, would still stop on it).
INTERRUPTIBLE_PYTEST = ("import signal, sys, pytest; signal.signal(signal.SIGINT, signal.default_int_handler); "
                        "sys.exit(pytest.console_main())")


def sweep_command(*args: str) -> list[str]:
    """``pytest bench/test_sweep.py ARGS``, interruptible by SIGINT, with the hold plugin loaded."""
    return [sys.executable, "-c", INTERRUPTIBLE_PYTEST, "bench/test_sweep.py", "-p", "tests.interrupting", *args]


def wait_for_hold(hold_file: Path, process: Any, timeout_s: float = 120.0) -> None:
    """Until the sweep holds inside a row (``hold_file`` exists); fails if it ended or never got there."""
    deadline = time.monotonic() + timeout_s
    while not hold_file.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert hold_file.exists(), f"the sweep never held inside a row (exit code {process.poll()})"


class _Hold:
    def __init__(self, hold_file: Path):
        self.hold_file = hold_file
        self.armed = False
        self.held = False

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" and report.passed:
            self.armed = True

    def hold(self) -> None:
        if self.armed and not self.held:
            self.held = True
            self.hold_file.touch()
            deadline = time.monotonic() + HOLD_S
            while time.monotonic() < deadline:
                time.sleep(0.05)


def pytest_configure(config: pytest.Config) -> None:
    path = os.environ.get(HOLD_FILE_ENV)
    if not path:
        return
    from strategies.worker.runner import WorkerProcess

    hold = _Hold(Path(path))
    config.pluginmanager.register(hold, "concbench-hold")
    fetch_round = WorkerProcess.fetch_round

    def held_fetch_round(self: WorkerProcess, deadline_s: float | None = None) -> float:
        hold.hold()
        return fetch_round(self, deadline_s)

    WorkerProcess.fetch_round = held_fetch_round  # type: ignore[method-assign]
