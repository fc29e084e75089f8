"""bench.sweep.noise: /proc parsing with known answers, a real probe around a foreign and an own busy process,
the disturbance thresholds, the summary, and the system check (real, and without /proc)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from bench.sweep import noise
from bench.sweep.noise import (
    OTHERS_PCT_MAX,
    STEAL_PCT_MAX,
    CoreTicks,
    NoiseProbe,
    busy_processes,
    disturbance,
    noise_summary,
    parse_cpuinfo_mhz,
    parse_pid_ticks,
    parse_proc_stat,
    round_noise,
    system_check,
    system_check_text,
)

LINUX = Path("/proc/stat").exists() and hasattr(os, "sched_setaffinity")

PROC_STAT = """\
cpu  340520 0 109275 1085097 1586 0 16582 1445 0 0
cpu0 58011 7 32414 678415 184 0 5127 993 0 0
cpu1 282508 0 76860 406681 1401 3 11454 451 12 0
cpu2 100 20 30 400
intr 7281364 0 0 0
ctxt 18568359
btime 1763958000
procs_running 2
"""

# A bounded busy loop (at most 10 s, killed long before) pinned to one core; it says "ready" once pinned.
SPIN = """
import os, sys, time
os.sched_setaffinity(0, {int(sys.argv[1])})
print(os.getpid(), flush=True)
end = time.monotonic() + 10
while time.monotonic() < end:
    pass
"""
# Starts SPIN as a grandchild and exits, so the spinner is not a descendant of the test process.
ORPHAN = """
import subprocess, sys
spinner = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]], stdout=subprocess.PIPE, text=True)
print(spinner.stdout.readline().strip(), flush=True)
"""


def test_proc_stat_parser_reads_per_core_busy_and_steal() -> None:
    cores = parse_proc_stat(PROC_STAT)
    assert cores == {
        0: CoreTicks(busy=58011 + 7 + 32414, steal=993),
        1: CoreTicks(busy=282508 + 76860, steal=451),  # guest (12) is inside user already
        2: CoreTicks(busy=150, steal=0),  # a kernel without the steal column
    }
    assert parse_proc_stat("intr 1 2 3\ncpu0 x y\n") == {}


def test_pid_stat_parser_survives_a_command_name_with_spaces_and_parentheses() -> None:
    fields = " ".join(["S", *["0"] * 10, "120", "30", "7", "3", *["0"] * 30])
    assert parse_pid_ticks(f"4242 (a (b) c) {fields}") == 120 + 30 + 7 + 3


def test_cpuinfo_parser_maps_processors_to_mhz() -> None:
    text = "processor\t: 0\ncpu MHz\t\t: 2596.144\n\nprocessor\t: 1\ncpu MHz\t\t: 1200.000\n"
    assert parse_cpuinfo_mhz(text) == {0: 2596.144, 1: 1200.0}
    assert parse_cpuinfo_mhz("processor : 0\nBogoMIPS : 50.00\n") == {}


def test_round_noise_arithmetic_on_known_counters() -> None:
    before = {0: CoreTicks(busy=1000, steal=10), 1: CoreTicks(busy=2000, steal=0)}
    after = {0: CoreTicks(busy=1080, steal=14), 1: CoreTicks(busy=2070, steal=6)}
    # 1 s on 2 cores at 100 ticks/s = 200 ticks; busy 150, ours 110, steal 10.
    figures = round_noise(before, after, [0, 1], ours_ticks=110, interval_s=1.0, ticks_per_s=100)
    assert figures == {"steal_pct": 5.0, "others_cpu_pct": 20.0, "resolution_pct": 1.0}
    # Ours above the cores' busy time (ours ran elsewhere): clamped at zero, never negative.
    assert round_noise(before, after, [0], 500, 1.0, 100)["others_cpu_pct"] == 0.0
    # A core missing from the counters (offline, or no /proc): nulls, not a crash.
    assert round_noise({}, {}, [0], 0, 1.0, 100) == {"steal_pct": None, "others_cpu_pct": None, "resolution_pct": None}


def _spinner(core: int, orphan: bool = False) -> tuple[int, subprocess.Popen[str]]:
    args = [sys.executable, "-c", ORPHAN, SPIN, str(core)] if orphan else [sys.executable, "-c", SPIN, str(core)]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    pid = int(process.stdout.readline())
    return pid, process


def _stop(pid: int, process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, 9)
    process.kill()
    process.wait(timeout=10)
    if process.stdout is not None:
        process.stdout.close()


@pytest.fixture
def spinning_core() -> Iterator[tuple[int, int]]:
    """(core, pid) of a busy loop pinned to the last allowed core; reaped only after the test's probes."""
    core = max(os.sched_getaffinity(0))
    pid, process = _spinner(core)
    try:
        yield core, pid
    finally:
        _stop(pid, process)


def _cpu_s(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


@pytest.mark.skipif(not LINUX, reason="needs /proc/stat and sched_setaffinity")
def test_probe_counts_a_foreign_busy_process_and_not_our_own(spinning_core: tuple[int, int]) -> None:
    core, pid = spinning_core
    foreign, own = NoiseProbe([core], list), NoiseProbe([core], lambda: [pid])
    # Both probes watch the same window, so whatever else runs on this shared machine is common to them and
    # only the spinner's share separates them; psutil witnesses that share from just outside the window.
    spinner_s = _cpu_s(pid)
    foreign.start()
    own.start()
    time.sleep(0.5)  # not asserted: only a window long against a tick (50 ticks, 2 % each)
    own_noise = own.stop()
    foreign_noise = foreign.stop()
    spinner_pct = 100 * (_cpu_s(pid) - spinner_s) / foreign_noise["interval_s"]
    # The spinner never sleeps, so its core is never idle: busy with it or with the machine's other tenants.
    assert foreign_noise["others_cpu_pct"] > 50
    assert spinner_pct > 5  # it ran, even if the machine's other tenants share its core
    # Named as ours, its share (and only its share) leaves "others": within 3 ticks of the 4 reads.
    assert foreign_noise["others_cpu_pct"] - own_noise["others_cpu_pct"] == pytest.approx(spinner_pct, abs=6)
    assert json.loads(json.dumps(foreign_noise)) == foreign_noise
    assert set(foreign_noise) == {"interval_s", "steal_pct", "others_cpu_pct", "resolution_pct", "frequency_mhz"}
    assert "other processes" in str(disturbance(foreign_noise))


def test_probe_without_proc_returns_nulls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(noise, "PROC", tmp_path / "no-proc")
    monkeypatch.setattr(noise, "SYS_CPU", tmp_path / "no-sys")
    probe = NoiseProbe([0, 1], lambda: [1])
    probe.start()
    figures = probe.stop()
    assert figures["interval_s"] >= 0
    assert {k: v for k, v in figures.items() if k != "interval_s"} == dict.fromkeys(
        ("steal_pct", "others_cpu_pct", "resolution_pct", "frequency_mhz")
    )
    with pytest.raises(RuntimeError):
        probe.stop()


def test_disturbance_thresholds_allow_for_resolution() -> None:
    quiet = {"interval_s": 1.0, "steal_pct": STEAL_PCT_MAX, "others_cpu_pct": OTHERS_PCT_MAX, "resolution_pct": 1.0}
    assert disturbance(quiet) is None
    stolen = {**quiet, "steal_pct": STEAL_PCT_MAX + 2}
    assert "steal" in str(disturbance(stolen))
    assert "other processes" not in str(disturbance(stolen))
    busy = {**quiet, "others_cpu_pct": OTHERS_PCT_MAX + 2}
    assert "other processes" in str(disturbance(busy))
    assert "steal" not in str(disturbance(busy))
    assert "; " in str(disturbance({**stolen, "others_cpu_pct": 90.0}))
    # A 20 ms round: one tick per core is 50 %, so one tick of a foreign process is not a disturbance.
    assert disturbance({**busy, "others_cpu_pct": 50.0, "resolution_pct": 50.0}) is None
    assert disturbance({**busy, "others_cpu_pct": 100.0, "resolution_pct": 50.0}) is not None
    assert disturbance({"interval_s": 0.1, "steal_pct": None, "others_cpu_pct": None, "resolution_pct": None}) is None


def test_noise_summary_weighs_rounds_by_length_and_counts_the_disturbed() -> None:
    rounds = [
        {"interval_s": 1.0, "steal_pct": 0.0, "others_cpu_pct": 2.0, "resolution_pct": 1.0},
        {"interval_s": 1.0, "steal_pct": 1.0, "others_cpu_pct": 4.0, "resolution_pct": 1.0},
        {"interval_s": 2.0, "steal_pct": 9.0, "others_cpu_pct": 30.0, "resolution_pct": 0.5},
        {"interval_s": 0.1, "steal_pct": None, "others_cpu_pct": None, "resolution_pct": None},
    ]
    summary = noise_summary(rounds)
    assert summary == {
        "rounds": 4,
        "disturbed": 1,
        "steal_pct_mean": 4.75,
        "steal_pct_median": 1.0,
        "steal_pct_max": 9.0,
        "others_cpu_pct_mean": 16.5,
        "others_cpu_pct_median": 4.0,
        "others_cpu_pct_max": 30.0,
    }
    assert noise_summary([])["others_cpu_pct_median"] is None


def test_busy_processes_ranks_others_above_the_threshold() -> None:
    before = {1: ("init", 10.0), 2: ("spin", 1.0), 3: ("ours", 0.0), 4: ("idle", 5.0)}
    after = {1: ("init", 10.01), 2: ("spin", 1.45), 3: ("ours", 0.5), 4: ("idle", 5.0), 5: ("new", 0.1)}
    assert busy_processes(before, after, 0.5, ours={3}) == [
        {"pid": 2, "name": "spin", "cpu_pct": 90.0},
        {"pid": 5, "name": "new", "cpu_pct": 20.0},
    ]


@pytest.mark.skipif(not LINUX, reason="needs /proc/stat and sched_setaffinity")
def test_system_check_names_a_foreign_busy_process_unless_it_is_ours(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(noise, "MAX_BUSY_PROCESSES", 1000)  # the shared machine's tenants may outrank it
    core = max(os.sched_getaffinity(0))
    pid, process = _spinner(core, orphan=True)  # an orphan: not our descendant, so foreign unless named
    try:
        check = system_check([core])
        mine = system_check([core], own_pids={pid})
    finally:
        _stop(pid, process)
    assert pid in [busy["pid"] for busy in check["busy_processes"]]
    assert pid not in [busy["pid"] for busy in mine["busy_processes"]]
    assert any(f"core {core} busy" in warning for warning in check["warnings"])
    assert check["busy_pct"][str(core)] > 50


def test_system_check_keys_and_text() -> None:
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0]
    check = system_check(cpus)
    assert set(check) >= {
        "loadavg", "cpu_count", "cores_used", "governor", "frequency_mhz", "steal_pct", "busy_pct",
        "busy_processes", "warnings",
    }
    assert json.loads(json.dumps(check)) == check
    assert set(check["busy_pct"]) == {str(core) for core in cpus}
    text = system_check_text(check)
    assert all(f"core {core}:" in text for core in cpus)


def test_system_check_without_proc_or_sys_returns_nulls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(noise, "PROC", tmp_path / "no-proc")
    monkeypatch.setattr(noise, "SYS_CPU", tmp_path / "no-sys")
    monkeypatch.setattr(noise, "CHECK_SAMPLE_S", 0.01)
    check = system_check([0, 1])
    for key in ("governor", "frequency_mhz", "steal_pct", "busy_pct"):
        assert check[key] == {"0": None, "1": None}
    assert "core 1: busy n/a" in system_check_text(check)
