"""A results row: its figures across rounds, its honesty flags, its cell, and whether it was measured.

Rules this module keeps:
- every row carries its raw rounds; its summary, flags and notes are derived from them here (``finish_row``),
  so the sweep that writes a row and the report that reads it cannot disagree about what "flagged" means;
- *measured* has one meaning (``is_measured``): the row ran (ok or flagged) and has a summary, so its figures
  stand; a failed row's rounds, if any, are kept but never compared. Readers that need more (a peak RSS, no
  errors) say so by name beside it;
- a *cell* is one (workload, profile, policy, concurrency, scheme) (``CellKey``): the strategies compared with
  each other, measured interleaved (``bench.sweep.cells``, which interleaves a cell's HTTP and HTTPS rows
  too: the scheme is in the key so that no comparison pairs a row over TLS with one without, the claim's
  verdict included, while ``bench.analysis.tls`` pairs them on purpose); ``rows_by_cell`` is the one grouping
  every reader uses, ``row_key`` (the cell and the strategy) the one way to match a row of one run with a
  row of another;
- pure functions of rows; no I/O, no import of the sweep's machinery or of the readers.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any, Literal, NamedTuple

from bench.record.schema import Flag, RateSummary, Round, Row, Run, Summary
from bench.record.shapes import row_ideal_s

#: Server CPU time over round wall time above which the server, not the client, limits the round: its
#: single-threaded loop was busy >90 % of the time, so a faster client could not have gone faster.
SATURATION_RATIO = 0.9

#: Goal from the issue: the benchmark's outer timing and the worker's own must agree within 1 % of a round,
#: otherwise the figure measures the harness (pipes, JSON, /stats calls) as much as the strategy.
OVERHEAD_LIMIT_PCT = 1.0

FLAG_TEXT = {
    "errors": "some requests failed or returned a wrong body",
    "below_concurrency": "the server never saw C requests in flight at once (measurable only when the "
    "workload has a delay or a paced body, so that C requests overlap inside the server)",
    "server_saturated": f"server CPU time / wall time, summed over the row's rounds, > {SATURATION_RATIO:.0%}: "
    "the single-threaded server, not the client, set the pace",
    "noisy": "more than half of the row's rounds were disturbed (other processes or the hypervisor took more "
    "of our two cores than ``bench.sweep.noise`` allows): its figures are the neighbours' as much as its own",
    "server_stalled": "a round of the row ran while the server's loop stalled longer than ``bench.sweep.noise`` "
    "allows (its own measure of its lag, in /stats): that round's figures are the server's pause as much as "
    "the client's. One such round flags the row: unlike a round's noise, a stall is measured exactly, and "
    "one stalled round moves the means the verdict compares",
}
#: The flags a run can raise only when its rounds recorded what they rest on (older runs did not measure
#: the server's loop lag): the report defines them only for such runs.
FLAGS_NEEDING = {"server_stalled": "server_loop_lag_s"}

#: Notes, unlike flags, leave the row clean: the charted figures come from the worker's own timing of
#: ``fetch`` alone, so time spent around it (pipes, JSON, the worker's verification of every body) is
#: excluded from them; it shows only in pytest-benchmark's own table, which the note warns about.
NOTE_TEXT = {
    "noisy_rounds": "some of the row's rounds were disturbed (``bench.sweep.noise``), not most: its medians stand",
    "harness_overhead": f"pytest-benchmark's time for a round (the round trip to the worker) exceeds the "
    f"worker's own timing of the fetch by more than {OVERHEAD_LIMIT_PCT:g} % (median over rounds): "
    "pytest-benchmark's table for this row includes harness time; the charted figures do not",
}


class CellKey(NamedTuple):
    """What strategies are compared within: one workload, profile, connection policy, concurrency and scheme
    (``http`` unless given: every row before HTTPS rows existed, and the cells readers name by hand)."""

    workload: str
    profile: str
    policy: str
    concurrency: int
    scheme: str = "http"


def row_scheme(row: Row) -> str:
    """The row's scheme: recorded since schema 5 (``bench.record.upgrade`` fills ``http`` before), and
    ``http`` for a row made by hand without one."""
    return row.get("scheme", "http")


def of_scheme(run: Run, scheme: str) -> Run:
    """The run with only its rows of ``scheme``: what a reader made before HTTPS rows existed reads (its
    charts draw one line per strategy, which a row's HTTPS twin would double)."""
    return {**run, "rows": [row for row in run["rows"] if row_scheme(row) == scheme]}


def cell_of(row: Row) -> CellKey:
    return CellKey(row["workload"], row["profile"], row["policy"], row["concurrency"], row_scheme(row))


#: A row by what it measured: its cell (``CellKey``'s fields) and its strategy. Two runs' rows are matched on
#: it (``bench.report.compare``), never by position.
RowKey = tuple[str, str, str, int, str, str]


def row_key(row: Row) -> RowKey:
    return (*cell_of(row), row["strategy"])


def rows_by_cell(run: Run) -> dict[CellKey, list[Row]]:
    """The run's rows grouped by cell, cells and rows in the order the sweep ran them."""
    grouped: dict[CellKey, list[Row]] = {}
    for row in run["rows"]:
        grouped.setdefault(cell_of(row), []).append(row)
    return grouped


def is_measured(row: Row) -> bool:
    """The row ran and its figures stand: ok or flagged (a flagged row's numbers are real, only not clean),
    with its rounds and their summary (a row has a summary exactly when a round completed: ``finish_row``)."""
    return row["status"] in ("ok", "flagged") and bool(row["rounds"]) and row["summary"] is not None


def measured_summary(row: Row) -> Summary:
    """The summary of a row that ``is_measured``."""
    summary = row["summary"]
    if summary is None or not is_measured(row):
        raise ValueError(f"{row['id']}: not measured ({row['status']})")
    return summary


def rss_per_connection_kib(row: Row) -> float | None:
    """Client memory per in-flight connection: the row's peak RSS (its worst round) over C, in KiB. Derived
    here, from the stored summary, for the charts and the report alike; the JSON stores peak RSS only."""
    summary = row["summary"]
    rss = summary["peak_rss_kb"] if summary else None
    return rss / row["concurrency"] if rss else None


def round_rate(round_: Round) -> float:
    """A round's req/s. The worker gives None only for a round of zero wall time, which no fetch takes."""
    rate = round_["req_per_s"]
    if rate is None:
        raise ValueError("a round without req/s (a fetch of zero wall time)")
    return rate


def round_rates(row: Row) -> list[float]:
    """The req/s of each of the row's rounds, in the order they ran."""
    return [round_rate(r) for r in row["rounds"]]


#: The per-round figures compared between rows (``bench.analysis.comparison``).
RoundFigure = Literal["req_per_s", "cpu_us_per_req"]


def round_values(row: Row, figure: RoundFigure) -> list[float]:
    """That figure of each of the row's rounds, the rounds without it (None, or 0) left out."""
    return [value for r in row["rounds"] if (value := r[figure])]


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


def summarise(row: Row) -> Summary | None:
    """Per-row figures across rounds: medians (robust to one noisy round), extremes where worst-case counts.

    Rounds of every readable schema version are summarised: the fields a round of version 1 or 2 lacks
    (``disturbed``, ``overhead_pct``) count as absent, never as zero."""
    rounds: list[Round] = row["rounds"]
    if not rounds:
        return None
    rps = [round_rate(r) for r in rounds]
    peaks = [peak for r in rounds if (peak := r.get("peak_in_flight")) is not None]
    with_cpu = [r for r in rounds if r.get("cpu_s") is not None]
    wall = sum(r["wall_s"] for r in with_cpu)
    # Summed over rounds, not per round: the kernel accounts process CPU in 10 ms ticks, which would make
    # the ratio of a single 20 ms round meaningless (0 %, 50 % or 100 %).
    with_server = [r for r in rounds if r.get("server_cpu_s") is not None and r.get("wall_s")]
    server_wall = sum(r["wall_s"] for r in with_server)
    server_cpu = sum(r["server_cpu_s"] or 0.0 for r in with_server)
    disturbed = sum(bool(r.get("disturbed")) for r in rounds)
    ideal_s = row_ideal_s(row)  # the round's lower bound (``bench.record.shapes.ideal_seconds``), None: no wait
    wall_s = _median(r["wall_s"] for r in rounds)
    rates: RateSummary = {"median": statistics.median(rps), "min": min(rps), "max": max(rps)}
    summary: Summary = {
        "n_rounds": len(rounds),
        "req_per_s": rates,
        "wall_s": wall_s,
        "cpu_us_per_req": _median(r.get("cpu_us_per_req") for r in rounds),
        "peak_rss_kb": max((r.get("peak_rss_kb") or 0) for r in rounds) or None,
        "latency_ms": {k: _median(r["latency_ms"].get(k) for r in rounds if r.get("latency_ms"))
                       for k in ("p50", "p90", "p99", "max")},
        "errors": sum(r.get("errors", 0) for r in rounds),
        "disturbed_rounds": disturbed,
        "peak_in_flight_min": min(peaks, default=None),
        "peak_in_flight_max": max(peaks, default=None),
        # Share of the rounds' wall time the client's CPU was busy (its worker is pinned to one core): near
        # 1, the client's own CPU set the pace; well below, it was waiting (on the server, or a cap).
        "cpu_busy": sum(r["cpu_s"] for r in with_cpu) / wall if wall else None,
        "server_cpu_ratio": server_cpu / server_wall if server_wall else None,
        "overhead_pct": _median(r.get("overhead_pct") for r in rounds),
        "ideal_s": ideal_s,
        "efficiency": ideal_s / wall_s if ideal_s and wall_s else None,
    }
    if any("server_loop_lag_s" in r for r in rounds):  # measured since version 4; absent before, not zero
        summary["stalled_rounds"] = sum(bool(r.get("server_stalled")) for r in rounds)
    return summary


def peak_below_c(row: Row) -> int | None:
    """The highest in-flight peak the server saw in any round, when even that stayed below C (at most N);
    None when C was reached, or when in-flight counts mean nothing (no wait: see ``FLAG_TEXT``)."""
    summary = row["summary"]
    if summary is None:
        return None
    peak = summary["peak_in_flight_max"]
    wanted = min(row["concurrency"], row["requests"])
    return peak if summary["ideal_s"] and peak is not None and peak < wanted else None


def compute_flags(row: Row, summary: Summary) -> list[Flag]:
    """The honesty flags of a row (definitions in ``FLAG_TEXT``); empty for a clean row."""
    flags: list[Flag] = []
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
    stalled = summary.get("stalled_rounds") or 0
    if stalled:
        longest = max((r.get("server_loop_lag_s") or 0.0) for r in row["rounds"])
        flags.append({"code": "server_stalled", "detail": f"{stalled} of {summary['n_rounds']} rounds ran on a "
                      f"stalled server (its loop's longest gap {longest:.2f} s)"})
    return flags


def compute_notes(summary: Summary) -> list[Flag]:
    """Remarks that do not make a row's charted figures unclean (definitions in ``NOTE_TEXT``)."""
    notes: list[Flag] = []
    overhead = summary["overhead_pct"]
    if overhead is not None and overhead > OVERHEAD_LIMIT_PCT:
        notes.append({"code": "harness_overhead", "detail": f"pytest-benchmark's round time is {overhead:.1f} % "
                      "above the worker's fetch time"})
    disturbed = summary.get("disturbed_rounds") or 0
    if disturbed and disturbed * 2 <= summary["n_rounds"]:
        notes.append({"code": "noisy_rounds", "detail": f"{disturbed} of {summary['n_rounds']} rounds disturbed"})
    return notes


def finish_row(row: Row) -> Row:
    """Fill ``summary``, ``flags``, ``status`` and ``reason`` of a measured (or failed) row from its rounds."""
    summary = summarise(row)
    row["summary"] = summary
    row["harness_overhead_pct"] = summary["overhead_pct"] if summary else None
    row.setdefault("flags", [])
    row.setdefault("notes", [])
    if row.get("status") == "failed":
        return row
    if summary is None:  # nothing failed it, yet no round completed: the harness's doing
        row["status"], row["flags"], row["reason"] = "failed", [], row.get("reason") or "no round completed"
        row["cause"] = row.get("cause") or "harness"
        return row
    flags = compute_flags(row, summary)
    row["flags"] = flags
    row["notes"] = compute_notes(summary)
    row["status"] = "flagged" if flags else "ok"
    row["reason"] = "; ".join(f["detail"] for f in flags)
    return row
