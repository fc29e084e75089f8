"""CPU time and memory of a process and all its descendants (Linux /proc first, psutil for the rest).

Rules this module keeps:
- CPU is user+sys summed over the tree, reaped children included. The measuring process itself is read
  with ``getrusage`` (microsecond accounting); descendants through psutil, whose resolution is the kernel
  clock tick (10 ms), so descendants' CPU is exact only over rounds long compared with a tick. A process
  that appears during the measurement counts from zero, one that vanishes counts until last seen;
- peak RSS is the kernel's high-water mark (``VmHWM``), reset to the current RSS before a round through
  ``/proc/PID/clear_refs`` (Linux >= 4.0), summed over the tree. Pages shared between processes (forked
  children) count once per process, so the sum overstates a forked pool; ``pss_kb`` (proportional set size
  at the end of the round, shared pages split between their users) is the honest total footprint;
- where /proc is missing or not ours: current RSS for descendants and ``ru_maxrss`` (lifetime peak) for
  this process, overstatements, never understatements.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Iterable

import psutil


class ProcessTree:
    """The calling process and its descendants, as they were at the last ``refresh`` (or creation).

    Finding the descendants scans every process of the machine (``/proc/*/stat``, about 2 ms here, measured on 2026-11-24), so a
    round takes the snapshot twice, at its start and at its end, instead of once per figure.
    """

    def __init__(self) -> None:
        self.root = psutil.Process(os.getpid())
        self.descendants: list[psutil.Process] = []
        self.refresh()

    def refresh(self) -> None:
        try:
            self.descendants = self.root.children(recursive=True)
        except psutil.Error:
            self.descendants = []

    def cpu_times(self) -> dict[int, float]:
        """pid -> user+sys seconds. The root is read last: the cost of reading the descendants is not
        charged to the measurement that starts here."""
        times = _cpu_times(self.descendants)
        times[self.root.pid] = _own_cpu_s()
        return times

    def cpu_seconds_since(self, before: dict[int, float]) -> float:
        own = _own_cpu_s()  # first: the cost of reading the descendants lands after it
        after = _cpu_times(self.descendants)
        after[self.root.pid] = own
        return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())

    def reset_peak_rss(self) -> None:
        for pid in self._pids():
            try:
                with open(f"/proc/{pid}/clear_refs", "w") as handle:
                    handle.write("5")
            except OSError:
                pass  # not Linux, or not ours: peak_rss_kb falls back to an overstatement

    def peak_rss_kb(self) -> int:
        total = _proc_kb(self.root.pid, "status", "VmHWM:")
        if total is None:
            total = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for process in self.descendants:
            peak = _proc_kb(process.pid, "status", "VmHWM:")
            total += peak if peak is not None else _rss_kb(process)
        return total

    def pss_kb(self) -> int | None:
        total = 0
        for pid in self._pids():
            pss = _proc_kb(pid, "smaps_rollup", "Pss:")
            if pss is None:
                return None
            total += pss
        return total

    def _pids(self) -> list[int]:
        return [self.root.pid, *(process.pid for process in self.descendants)]


def _own_cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime


def _cpu_times(processes: Iterable[psutil.Process]) -> dict[int, float]:
    times: dict[int, float] = {}
    for process in processes:
        try:
            cpu = process.cpu_times()
        except psutil.Error:
            continue
        times[process.pid] = cpu.user + cpu.system + cpu.children_user + cpu.children_system
    return times


def _rss_kb(process: psutil.Process) -> int:
    try:
        return int(process.memory_info().rss // 1024)
    except psutil.Error:
        return 0


def _proc_kb(pid: int, name: str, key: str) -> int | None:
    try:
        with open(f"/proc/{pid}/{name}") as handle:
            for line in handle:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None
