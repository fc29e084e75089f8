"""The results file of a sweep: its schema, the honesty flags, and how rows are summarised.

Rules this module keeps:
- the JSON is the single source of truth: charts and REPORT.md are made from it alone (``bench.report``),
  so everything a reader needs (machine, versions, options, every round) is in it;
- every row carries its raw rounds; summaries and flags are derived from them by the functions here, so the
  sweep and the report cannot disagree about what "flagged" means;
- no I/O except ``write_run`` (and no pytest import): the report and the tests use this module alone.

The schema is ``bench.schema`` (typed, validated; ``python -m bench.schema`` prints it); this module builds
runs and rows in that shape and ``upgrade`` brings older versions to it.
"""

from __future__ import annotations

import os
import platform
import socket
import statistics
import subprocess
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.schema import SCHEMA_VERSION, CommitInfo, Machine, Options, Pinning, Run, Server
from bench.shapes import row_ideal_s
from strategies import REGISTRY

#: Older versions this code still reads, and how each is brought up to date (``upgrade``).
READABLE_VERSIONS = (1, 2, SCHEMA_VERSION)

#: Server CPU time over round wall time above which the server, not the client, limits the round: its
#: single-threaded loop was busy >90 % of the time, so a faster client could not have gone faster.
SATURATION_RATIO = 0.9

#: Goal from the issue: the benchmark's outer timing and the worker's own must agree within 1 % of a round,
#: otherwise the figure measures the harness (pipes, JSON, /stats calls) as much as the strategy.
OVERHEAD_LIMIT_PCT = 1.0

#: The harness's own libraries: they measure (psutil), time (pytest-benchmark) and judge (scipy).
HARNESS_LIBRARIES = ("httptools", "psutil", "pytest", "pytest-benchmark", "matplotlib", "scipy", "numpy")
#: The libraries whose versions decide the result, recorded in every run: each strategy's (its registry
#: entry names them) and the harness's.
LIBRARIES = tuple(dict.fromkeys(
    [lib for spec in REGISTRY.values() for lib in spec.libraries] + list(HARNESS_LIBRARIES)))

FLAG_TEXT = {
    "errors": "some requests failed or returned a wrong body",
    "below_concurrency": "the server never saw C requests in flight at once (measurable only when the "
    "workload has a delay or a paced body, so that C requests overlap inside the server)",
    "server_saturated": f"server CPU time / wall time, summed over the row's rounds, > {SATURATION_RATIO:.0%}: "
    "the single-threaded server, not the client, set the pace",
    "noisy": "more than half of the row's rounds were disturbed (other processes or the hypervisor took more "
    "of our two cores than ``bench.noise`` allows): its figures are the neighbours' as much as its own",
}

#: Notes, unlike flags, leave the row clean: the charted figures come from the worker's own timing of
#: ``fetch`` alone, so time spent around it (pipes, JSON, the worker's verification of every body) is
#: excluded from them; it shows only in pytest-benchmark's own table, which the note warns about.
NOTE_TEXT = {
    "noisy_rounds": "some of the row's rounds were disturbed (``bench.noise``), not most: its medians stand",
    "harness_overhead": f"pytest-benchmark's time for a round (the round trip to the worker) exceeds the "
    f"worker's own timing of the fetch by more than {OVERHEAD_LIMIT_PCT:g} % (median over rounds): "
    "pytest-benchmark's table for this row includes harness time; the charted figures do not",
}


def rss_per_connection_kib(row: dict[str, Any]) -> float | None:
    """Client memory per in-flight connection: the row's peak RSS (its worst round) over C, in KiB. Derived
    here, from the stored summary, for the charts and the report alike; the JSON stores peak RSS only."""
    rss = (row.get("summary") or {}).get("peak_rss_kb")
    return rss / row["concurrency"] if rss else None


def add_timing(round_dict: dict[str, Any], timer_s: float | None) -> dict[str, Any]:
    """Attach the benchmark's outer time for this round and the harness overhead it implies."""
    out = dict(round_dict)
    out["timer_s"] = timer_s
    wall = out.get("wall_s")
    out["overhead_pct"] = 100.0 * (timer_s - wall) / timer_s if timer_s and wall is not None else None
    return out


def _median(values: Iterable[float | None]) -> float | None:
    clean = [v for v in values if v is not None]
    return statistics.median(clean) if clean else None


def summarise(row: dict[str, Any]) -> dict[str, Any] | None:
    """Per-row figures across rounds: medians (robust to one noisy round), extremes where worst-case counts."""
    rounds = row["rounds"]
    if not rounds:
        return None
    rps = [r["req_per_s"] for r in rounds]
    peaks = [r["peak_in_flight"] for r in rounds if r.get("peak_in_flight") is not None]
    with_cpu = [r for r in rounds if r.get("cpu_s") is not None]
    wall = sum(r["wall_s"] for r in with_cpu)
    # Summed over rounds, not per round: the kernel accounts process CPU in 10 ms ticks, which would make
    # the ratio of a single 20 ms round meaningless (0 %, 50 % or 100 %).
    with_server = [r for r in rounds if r.get("server_cpu_s") is not None and r.get("wall_s")]
    server_wall = sum(r["wall_s"] for r in with_server)
    summary: dict[str, Any] = {
        "n_rounds": len(rounds),
        "req_per_s": {"median": statistics.median(rps), "min": min(rps), "max": max(rps)},
        "wall_s": _median(r["wall_s"] for r in rounds),
        "cpu_us_per_req": _median(r.get("cpu_us_per_req") for r in rounds),
        "peak_rss_kb": max((r.get("peak_rss_kb") or 0) for r in rounds) or None,
        "latency_ms": {k: _median(r["latency_ms"].get(k) for r in rounds if r.get("latency_ms"))
                       for k in ("p50", "p90", "p99", "max")},
        "errors": sum(r.get("errors", 0) for r in rounds),
        "disturbed_rounds": sum(bool(r.get("disturbed")) for r in rounds),
        "peak_in_flight_min": min(peaks, default=None),
        "peak_in_flight_max": max(peaks, default=None),
        # Share of the rounds' wall time the client's CPU was busy (its worker is pinned to one core): near
        # 1, the client's own CPU set the pace; well below, it was waiting (on the server, or a cap).
        "cpu_busy": sum(r["cpu_s"] for r in with_cpu) / wall if wall else None,
        "server_cpu_ratio": sum(r["server_cpu_s"] for r in with_server) / server_wall if server_wall else None,
        "overhead_pct": _median(r.get("overhead_pct") for r in rounds),
        # The round's lower bound (``bench.shapes.ideal_seconds``), None when no request waits.
        "ideal_s": row_ideal_s(row),
        "efficiency": None,
    }
    if summary["ideal_s"] and summary["wall_s"]:
        summary["efficiency"] = summary["ideal_s"] / summary["wall_s"]
    return summary


def peak_below_c(row: dict[str, Any]) -> int | None:
    """The highest in-flight peak the server saw in any round, when even that stayed below C (at most N);
    None when C was reached, or when in-flight counts mean nothing (no wait: see ``FLAG_TEXT``)."""
    summary = row.get("summary") or {}
    peak = summary.get("peak_in_flight_max")
    wanted = min(row["concurrency"], row["requests"])
    return peak if summary.get("ideal_s") and peak is not None and peak < wanted else None


def compute_flags(row: dict[str, Any], summary: dict[str, Any]) -> list[dict[str, str]]:
    """The honesty flags of a row (definitions in ``FLAG_TEXT``); empty for a clean row."""
    flags = []
    if summary["errors"]:
        total = row["requests"] * summary["n_rounds"]
        flags.append({"code": "errors", "detail": f"{summary['errors']} of {total} requests failed"})
    wanted = min(row["concurrency"], row["requests"])
    peak = summary["peak_in_flight_min"]
    if summary["ideal_s"] and peak is not None and peak < wanted:
        flags.append({"code": "below_concurrency",
                      "detail": f"peak_in_flight {peak} < C={wanted} in at least one round"})
    ratio = summary["server_cpu_ratio"]
    if ratio is not None and ratio > SATURATION_RATIO:
        flags.append({"code": "server_saturated", "detail": f"server CPU {ratio:.0%} of the rounds' wall time"})
    disturbed = summary.get("disturbed_rounds") or 0
    if disturbed * 2 > summary["n_rounds"]:
        flags.append({"code": "noisy", "detail": f"{disturbed} of {summary['n_rounds']} rounds disturbed"})
    return flags


def compute_notes(summary: dict[str, Any]) -> list[dict[str, str]]:
    """Remarks that do not make a row's charted figures unclean (definitions in ``NOTE_TEXT``)."""
    notes = []
    overhead = summary["overhead_pct"]
    if overhead is not None and overhead > OVERHEAD_LIMIT_PCT:
        notes.append({"code": "harness_overhead", "detail": f"pytest-benchmark's round time is {overhead:.1f} % "
                      "above the worker's fetch time"})
    disturbed = summary.get("disturbed_rounds") or 0
    if disturbed and disturbed * 2 <= summary["n_rounds"]:
        notes.append({"code": "noisy_rounds", "detail": f"{disturbed} of {summary['n_rounds']} rounds disturbed"})
    return notes


def finish_row(row: dict[str, Any]) -> dict[str, Any]:
    """Fill ``summary``, ``flags``, ``status`` and ``reason`` of a measured (or failed) row from its rounds."""
    summary = summarise(row)
    row["summary"] = summary
    row["harness_overhead_pct"] = summary["overhead_pct"] if summary else None
    row.setdefault("flags", [])
    row.setdefault("notes", [])
    if row.get("status") == "failed":
        return row
    if summary is None:
        row.update(status="failed", flags=[], reason=row.get("reason") or "no round completed")
        return row
    flags = compute_flags(row, summary)
    row["flags"] = flags
    row["notes"] = compute_notes(summary)
    row["status"] = "flagged" if flags else "ok"
    row["reason"] = "; ".join(f["detail"] for f in flags)
    return row


def machine_info(pinning: Pinning) -> Machine:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    return {
        "hostname": socket.gethostname(),
        "cpu_count": os.cpu_count(),
        "cpu_model": model or platform.processor() or "unknown",
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "pinning": pinning,
    }


def library_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def new_run(machine: Machine, options: Options, server: Server, system_check: dict[str, Any] | None) -> Run:
    return {
        "schema_version": SCHEMA_VERSION,
        "created": None,
        "machine": machine,
        "commit_info": commit_info(),
        "libraries": library_versions(),
        "options": options,
        "server": server,
        "system_check": system_check,
        "rows": [],
    }


def commit_info() -> CommitInfo | None:
    """The project's git commit (as pytest-benchmark's ``commit_info``): which code made the numbers."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10,
                              check=True).stdout.strip()

    try:
        branch = git("rev-parse", "--abbrev-ref", "HEAD")
        return {"id": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
                "branch": None if branch == "HEAD" else branch}
    except (OSError, subprocess.SubprocessError):
        return None


#: The reason an unfinished row is given when a run is read: the sweep stopped (Ctrl-C, a kill) mid-row.
UNFINISHED = "interrupted: the sweep stopped before this row finished"


def upgrade(run: dict[str, Any]) -> dict[str, Any]:
    """A run in today's shape: a row the sweep never finished is failed (its rounds kept, none invented),
    and the run is marked ``partial``; version 1 knew only the tuned profile; before version 3 rounds were
    not interleaved (their new fields are absent, the row-level ones null)."""
    unfinished = [row for row in run["rows"] if row.get("status") is None]
    for row in unfinished:
        row.update(status="failed", reason=UNFINISHED, summary=summarise(row) if row["rounds"] else None)
    run["partial"] = bool(unfinished) or bool(run["options"].get("interrupted"))
    if run["schema_version"] == 1:
        run["options"].setdefault("profiles", ["tuned"])
        for row in run["rows"]:
            row.setdefault("profile", "tuned")
            for round_ in row["rounds"]:
                round_.setdefault("profile", "tuned")
            if row.get("summary"):
                row["summary"] = summarise(row)
    if run["schema_version"] < 3:
        options = run["options"]
        options["interrupted"] = "SIGINT" if options.get("interrupted") else None
        options.setdefault("max_rounds", options["rounds"])
        run.setdefault("commit_info", None)
        run.setdefault("system_check", None)
        for row in run["rows"]:
            row.setdefault("rounds_stopped", None)
    run["schema_version"] = SCHEMA_VERSION
    return run
