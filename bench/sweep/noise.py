"""Machine noise: a look at the system before the sweep, and what else ran on our cores in each round.

The sweep pins the bundled server to one core and the strategy worker to another and times rounds there.
Other tenants of the machine (processes that are not ours, the hypervisor) take time from those cores; this
module measures it from the kernel's own accounting and says when a round had too much of it to trust.

Rules this module keeps:
- the per-core counters are ``/proc/stat``'s ``cpuN`` lines, in USER_HZ ticks (10 ms on every Linux we know,
  whatever CONFIG_HZ is). *Busy* is task time, user + nice + system (guest time is already inside user and
  nice). irq and softirq are left out: where the kernel accounts them apart (CONFIG_IRQ_TIME_ACCOUNTING)
  they are mostly our own round's loopback traffic, which no process is charged for;
- *others* is the cores' busy time minus the CPU time of our own processes over the same window: the
  caller's pids and this process (pytest waits during a round), user + sys with reaped children, from
  ``/proc/PID/stat``. It is the sum at ``stop`` minus the sum at ``start``, so a process born during the
  round counts from zero and one that ends counts through its parent's reaped-children time. Ours is
  charged whichever core it ran on, so when ours run outside the probed cores (pytest is not pinned)
  others is understated, never overstated; likewise ours is read just outside the cores' window;
- percentages are of the round's core-time (wall-clock interval x number of cores), clamped to 0..100;
- one round's figures are unbiased but coarse: one tick per core is ``resolution_pct`` of the round (50 %
  at 20 ms, 5 % at 0.2 s). They are reported anyway, because the length-weighted mean over rounds
  (``noise_summary``) resolves what one round cannot, and ``disturbance`` flags a round only when a figure
  exceeds its threshold by more than its resolution: a lone tick never flags a short round;
- the probe is cheap: per start/stop it reads /proc/stat once, each of our few pids' stat once and, at stop
  (after the round, outside any timed region), the cores' frequency. Only ``system_check`` walks every
  process, once, before the sweep;
- nothing raises for want of /proc or /sys (non-Linux, containers): that figure is ``None`` instead;
- everything returned is JSON-serialisable; per-core maps are keyed by the core number as a string.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

PROC = Path("/proc")
SYS_CPU = Path("/sys/devices/system/cpu")

#: A round is disturbed above these (per cent of the probed cores' time). Steal is time the hypervisor gave
#: our vCPUs' turn to another guest; it accrues only while a vCPU wants to run, so in a round it stalls our
#: processes for sure. 5 % of two cores' time is up to 10 % of one core: the gap the verdict resolves at
#: 5 rounds (``bench.sweep.plan``), so more steal than that can fake or hide a verdict.
STEAL_PCT_MAX = 5.0
#: Other processes' CPU may only fill time our processes left idle (a latency round mostly waits), so it
#: is allowed twice steal's share: 10 % of two cores' time costs a CPU-bound round at most 20 % of one core.
OTHERS_PCT_MAX = 10.0

#: A round ran on a stalled server when the server's loop could not react (``loop_lag_max_s``, which the
#: server measures itself, ``local_server.server``) for longer than a tenth of the round's wall time and at
#: least STALL_MIN_S. A tenth: a pause that long can move the round's req/s by 10 %, the gap the verdict
#: resolves (the argument of STEAL_PCT_MAX).
STALL_SHARE = 0.1
#: Shorter gaps are the server's own work and the scheduler's, not a stall. Measured here, on a loaded 2-core
#: machine: the longest gap of any round was 4 ms at C <= 100 (a --quick sweep, 213 rounds), 61 ms at
#: C = 1,000 and 256 ms at C = 10,000, one turn serving thousands of connections (4 % of its 6.2 s round;
#: 89 ms, 8 %, in a 1.1 s one). 100 ms is 25 times the first; the share bounds the others.
STALL_MIN_S = 0.1

#: system_check's look: 0.5 s is 50 ticks per core (2 % resolution), long enough for a busy process to
#: show, short against the sweep's minutes.
CHECK_SAMPLE_S = 0.5
#: A process above 5 % of a core in the look is listed: below is the background every machine has (daemons
#: waking up), above is a tenant that will share our cores.
BUSY_PROCESS_PCT = 5.0
#: Five name the culprit and keep the start-of-sweep text short.
MAX_BUSY_PROCESSES = 5
#: A core busier than this while the sweep's processes idle is warned about: 10 % of the worker's core is
#: the gap the verdict resolves.
CORE_BUSY_WARN_PCT = 10.0
#: A 1-minute load above half a task per core: over the last minute half of every core was wanted by
#: something. It lags (a test run just before shows in it), so the busy look says whether it still is.
LOAD_WARN_PER_CORE = 0.5
#: The governors that hold the clock still; any other moves it with the load, so early rounds run slower.
STEADY_GOVERNORS = ("performance",)


def _ticks_per_s() -> int:
    try:
        return os.sysconf("SC_CLK_TCK")
    except (AttributeError, ValueError, OSError):
        return 100  # USER_HZ on every Linux; without sysconf there is no /proc to read in these units anyway


#: The unit of /proc/stat and /proc/PID/stat.
TICKS_PER_S = _ticks_per_s()


@dataclass(frozen=True)
class CoreTicks:
    """One core's cumulative /proc/stat counters, in ticks."""

    busy: int  # user + nice + system: task time
    steal: int


def parse_proc_stat(text: str) -> dict[int, CoreTicks]:
    """Core number -> its counters, from /proc/stat's ``cpuN`` lines (the all-cores ``cpu`` line is skipped).

    Columns: user nice system idle iowait irq softirq steal guest guest_nice; kernels before 2.6.11 have no
    steal column, and a missing column counts as zero.
    """
    cores: dict[int, CoreTicks] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(" ")
        if not (name.startswith("cpu") and name[3:].isdigit()):
            continue
        try:
            values = [int(value) for value in rest.split()] + [0] * 8
        except ValueError:
            continue
        cores[int(name[3:])] = CoreTicks(busy=sum(values[:3]), steal=values[7])
    return cores


def parse_pid_ticks(text: str) -> int:
    """utime + stime + cutime + cstime (fields 14-17), in ticks, from a /proc/PID/stat line.

    The command name (field 2) may hold spaces and parentheses, so fields are counted from its last ')'.
    """
    fields = text[text.rindex(")") + 2 :].split()  # fields[0] is field 3, the state
    return sum(int(field) for field in fields[11:15])


def parse_cpuinfo_mhz(text: str) -> dict[int, float]:
    """Processor number -> its "cpu MHz" line (x86 has one; other architectures none: empty)."""
    mhz: dict[int, float] = {}
    processor: int | None = None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        try:
            if key.strip() == "processor":
                processor = int(value)
            elif key.strip() == "cpu MHz" and processor is not None:
                mhz[processor] = float(value)
        except ValueError:
            continue
    return mhz


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError):
        return None


def read_core_ticks() -> dict[int, CoreTicks] | None:
    text = _read(PROC / "stat")
    return None if text is None else parse_proc_stat(text)


def _ours_ticks(pids: Iterable[int]) -> int:
    total = 0
    for pid in pids:
        text = _read(PROC / str(pid) / "stat")
        try:
            total += parse_pid_ticks(text) if text is not None else 0  # gone: counted in its parent's cutime
        except ValueError:
            continue
    return total


def read_frequencies_mhz(cores: Iterable[int]) -> dict[int, float | None]:
    """The cores' current clock: cpufreq's ``scaling_cur_freq``, else /proc/cpuinfo's "cpu MHz" (which
    in a VM is the nominal clock), else ``None``."""
    frequencies: dict[int, float | None] = {}
    cpuinfo: dict[int, float] | None = None
    for core in cores:
        khz = _read(SYS_CPU / f"cpu{core}" / "cpufreq" / "scaling_cur_freq")
        if khz is not None and khz.strip().isdigit():
            frequencies[core] = int(khz) / 1000
            continue
        if cpuinfo is None:
            text = _read(PROC / "cpuinfo")
            cpuinfo = parse_cpuinfo_mhz(text) if text is not None else {}
        frequencies[core] = cpuinfo.get(core)
    return frequencies


def _governor(core: int) -> str | None:
    text = _read(SYS_CPU / f"cpu{core}" / "cpufreq" / "scaling_governor")
    return (text.strip() or None) if text is not None else None


def _pct(ticks: float, of_ticks: float) -> float:
    return round(min(100.0, max(0.0, 100.0 * ticks / of_ticks)), 2)


def _mean(values: Iterable[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return round(statistics.fmean(known), 1) if known else None


def round_noise(
    before: dict[int, CoreTicks],
    after: dict[int, CoreTicks],
    cores: list[int],
    ours_ticks: int,
    interval_s: float,
    ticks_per_s: int = TICKS_PER_S,
) -> dict[str, float | None]:
    """A round's ``steal_pct``, ``others_cpu_pct`` and ``resolution_pct`` from the counters at its ends."""
    present = [core for core in cores if core in before and core in after]
    if not present or interval_s <= 0:
        return {"steal_pct": None, "others_cpu_pct": None, "resolution_pct": None}
    core_ticks = interval_s * ticks_per_s * len(present)
    steal = sum(after[core].steal - before[core].steal for core in present)
    busy = sum(after[core].busy - before[core].busy for core in present)
    return {
        "steal_pct": _pct(steal, core_ticks),
        "others_cpu_pct": _pct(busy - ours_ticks, core_ticks),
        # One tick per core; capped at 100 %, where a round shorter than a tick resolves nothing.
        "resolution_pct": round(min(100.0, 100.0 / (interval_s * ticks_per_s)), 2),
    }


class NoiseProbe:
    """What else ran on our cores during one round: ``start()`` just before it, ``stop()`` just after.

    ``own_pids`` returns our processes (server, worker and its children), called at both ends; this
    process is always added.
    """

    def __init__(self, cores: list[int], own_pids: Callable[[], Iterable[int]]) -> None:
        self.cores = list(cores)
        self.own_pids = own_pids
        self._started: tuple[float, dict[int, CoreTicks], int] | None = None

    def start(self) -> None:
        ours = _ours_ticks(self._pids())  # ours first and the cores last: ours brackets the cores' window
        cores = read_core_ticks() or {}
        self._started = (time.perf_counter(), cores, ours)

    def stop(self) -> dict[str, Any]:
        if self._started is None:
            raise RuntimeError("NoiseProbe.stop() without start()")
        started, before, ours_before = self._started
        self._started = None
        interval_s = time.perf_counter() - started
        after = read_core_ticks() or {}
        ours = _ours_ticks(self._pids()) - ours_before
        return {
            "interval_s": round(interval_s, 6),
            **round_noise(before, after, self.cores, ours, interval_s),
            "frequency_mhz": _mean(read_frequencies_mhz(self.cores).values()),
        }

    def _pids(self) -> set[int]:
        return {os.getpid(), *self.own_pids()}


def disturbance(noise: dict[str, Any]) -> str | None:
    """Why a round was disturbed beyond the thresholds, after allowing its resolution; else ``None``."""
    slack = noise.get("resolution_pct") or 0.0
    reasons = []
    steal, others = noise.get("steal_pct"), noise.get("others_cpu_pct")
    if steal is not None and steal - slack > STEAL_PCT_MAX:
        reasons.append(f"steal {steal:.0f} % of the cores' time (> {STEAL_PCT_MAX:g} %)")
    if others is not None and others - slack > OTHERS_PCT_MAX:
        reasons.append(f"other processes used {others:.0f} % of the cores' time (> {OTHERS_PCT_MAX:g} %)")
    return "; ".join(reasons) or None


def server_stall(lag_s: float | None, wall_s: float) -> str | None:
    """Why a round counts as run on a stalled server (its loop's longest gap ``lag_s`` beyond the threshold,
    ``STALL_SHARE`` of the round's ``wall_s`` and at least ``STALL_MIN_S``); ``None`` when it did not, or when
    the server could not be read after the round."""
    if lag_s is None:
        return None
    limit = max(STALL_MIN_S, STALL_SHARE * wall_s)
    if lag_s <= limit:
        return None
    return f"the server's loop stalled {lag_s:.2f} s (> {limit:.2f} s, a tenth of the round and at least {STALL_MIN_S:g} s)"


def noise_summary(rounds_noise: list[dict[str, Any]]) -> dict[str, Any]:
    """For the report: per figure the length-weighted mean, the median and the max over rounds (``None``
    when no round measured it), and how many rounds were disturbed."""
    summary: dict[str, Any] = {
        "rounds": len(rounds_noise),
        "disturbed": sum(disturbance(noise) is not None for noise in rounds_noise),
    }
    for key in ("steal_pct", "others_cpu_pct"):
        measured = [(noise[key], noise.get("interval_s") or 0.0) for noise in rounds_noise if noise.get(key) is not None]
        values = [value for value, _ in measured]
        weight = sum(interval for _, interval in measured)
        summary[f"{key}_mean"] = round(sum(v * i for v, i in measured) / weight, 2) if weight > 0 else None
        summary[f"{key}_median"] = round(statistics.median(values), 2) if values else None
        summary[f"{key}_max"] = max(values) if values else None
    return summary


def system_check(cpus: list[int], own_pids: set[int] | None = None) -> dict[str, Any]:
    """A short look (``CHECK_SAMPLE_S``) at the machine before the sweep, for the results and the log."""
    processes_before, cores_before = _process_cpu_s(), read_core_ticks() or {}
    started = time.perf_counter()
    time.sleep(CHECK_SAMPLE_S)
    sample_s = time.perf_counter() - started
    cores_after, processes_after = read_core_ticks() or {}, _process_cpu_s()
    ours = {os.getpid(), *(own_pids or set()), *descendant_pids()}
    check: dict[str, Any] = {
        "sample_s": round(sample_s, 3),
        "loadavg": _loadavg(),
        "cpu_count": os.cpu_count(),
        "cores_used": list(cpus),
        "governor": {str(core): _governor(core) for core in cpus},
        "frequency_mhz": {str(core): mhz for core, mhz in read_frequencies_mhz(cpus).items()},
        "steal_pct": {},
        "busy_pct": {},
        "busy_processes": busy_processes(processes_before, processes_after, sample_s, ours),
    }
    for core in cpus:  # nothing of ours is subtracted: the look is taken while the sweep's processes idle
        noise = round_noise(cores_before, cores_after, [core], 0, sample_s)
        check["steal_pct"][str(core)], check["busy_pct"][str(core)] = noise["steal_pct"], noise["others_cpu_pct"]
    check["warnings"] = check_warnings(check)
    return check


def busy_processes(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]], sample_s: float, ours: set[int]
) -> list[dict[str, Any]]:
    """The processes not ours above ``BUSY_PROCESS_PCT`` of a core between two snapshots (pid -> (name,
    CPU seconds)), busiest first; one born in between counts from zero."""
    busy: list[dict[str, Any]] = []
    for pid, (name, cpu_s) in after.items():
        pct = 100.0 * (cpu_s - before.get(pid, (name, 0.0))[1]) / sample_s
        if pid not in ours and pct > BUSY_PROCESS_PCT:
            busy.append({"pid": pid, "name": name, "cpu_pct": round(pct, 1)})
    busy.sort(key=lambda process: -process["cpu_pct"])
    return busy[:MAX_BUSY_PROCESSES]


def _process_cpu_s() -> dict[int, tuple[str, float]]:
    snapshot = {}
    for process in psutil.process_iter(["name"]):
        try:
            cpu = process.cpu_times()
        except psutil.Error:
            continue
        snapshot[process.pid] = (str(process.info["name"]), cpu.user + cpu.system)
    return snapshot


def descendant_pids() -> list[int]:
    """Every process this one started, and theirs: one scan of /proc, about 2 ms."""
    try:
        return [child.pid for child in psutil.Process().children(recursive=True)]
    except psutil.Error:
        return []


def _loadavg() -> list[float] | None:
    try:
        return [round(load, 2) for load in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def check_warnings(check: dict[str, Any]) -> list[str]:
    """What in a ``system_check`` may disturb the sweep, as sentences."""
    warnings = []
    load, count = check["loadavg"], check["cpu_count"]
    if load is not None and count and load[0] > LOAD_WARN_PER_CORE * count:
        warnings.append(f"load average {load[0]:.1f} on {count} cores over the last minute")
    for core, busy in check["busy_pct"].items():
        if busy is not None and busy > CORE_BUSY_WARN_PCT:
            warnings.append(f"core {core} busy {busy:.0f} % with other processes before the sweep")
    for core, steal in check["steal_pct"].items():
        if steal is not None and steal > STEAL_PCT_MAX:
            warnings.append(f"steal {steal:.0f} % on core {core}: the host gives its time to other guests")
    for core, governor in check["governor"].items():
        if governor is not None and governor not in STEADY_GOVERNORS:
            warnings.append(f"governor {governor} on core {core}: the clock follows the load")
    return warnings


def system_check_text(check: dict[str, Any]) -> str:
    """A few lines for the start of the sweep."""
    load = " / ".join(f"{value:.2f}" for value in check["loadavg"]) if check["loadavg"] else "n/a"
    cores = ", ".join(str(core) for core in check["cores_used"])
    lines = [f"system check: cores {cores} of {check['cpu_count']}, load average {load}"]
    for core in map(str, check["cores_used"]):
        mhz = check["frequency_mhz"][core]
        lines.append(
            f"  core {core}: busy {_show(check['busy_pct'][core], ' %')}, steal {_show(check['steal_pct'][core], ' %')}, "
            f"{_show(mhz, ' MHz')}, governor {check['governor'][core] or 'n/a'}"
        )
    busy = ", ".join(f"{p['name']} ({p['pid']}) {p['cpu_pct']:.0f} %" for p in check["busy_processes"])
    lines.append(f"  other processes above {BUSY_PROCESS_PCT:g} % of a core: {busy or 'none'}")
    lines.extend(f"  warning: {warning}" for warning in check["warnings"])
    return "\n".join(lines)


def _show(value: float | None, unit: str) -> str:
    return "n/a" if value is None else f"{value:.0f}{unit}"
