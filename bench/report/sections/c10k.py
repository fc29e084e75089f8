"""REPORT.md's C10k section: every model at the run's highest level above the default sweep's, and its
memory per connection (``bench.analysis.c10k``).

Rules this module keeps:
- shown only when the run has such rows (tuned profile), one table per (workload, policy) at its highest
  level; every number comes from the rows' summaries, nothing about results is written by hand;
- every strategy with a row at that level is listed: a skipped or failed one with its reason, so a model
  that could not run there is seen, not missing.
"""

from __future__ import annotations

from bench.analysis.c10k import groups, marginal_kib
from bench.record.rows import rss_per_connection_kib
from bench.record.schema import Row, Run
from bench.sweep.plan import DEFAULT_TOP
from strategies import REGISTRY


def _line(row: Row, rows: list[Row]) -> str:
    s = row["summary"]
    assert s is not None
    rps, latency = s["req_per_s"], s["latency_ms"]
    per_conn = rss_per_connection_kib(row)
    marginal = marginal_kib(row, rows)
    peaks = (f"{s['peak_in_flight_min']:,}–{s['peak_in_flight_max']:,}"
             if s["peak_in_flight_min"] is not None else "-")
    cells = [f"`{row['strategy']}`", REGISTRY[row["strategy"]].model if row["strategy"] in REGISTRY else "?",
             str(row["status"]), f"{rps['median']:,.0f} ({rps['min']:,.0f}–{rps['max']:,.0f})",
             f"{s['efficiency']:.0%}" if s["efficiency"] is not None else "-", peaks,
             f"{s['peak_rss_kb'] / 1024:,.0f}" if s["peak_rss_kb"] else "-",
             f"{per_conn:,.1f}" if per_conn is not None else "-",
             f"{marginal[0]:,.1f} (from C={marginal[1]:,})" if marginal else "-",
             f"{s['cpu_us_per_req']:,.0f}" if s["cpu_us_per_req"] is not None else "-",
             f"{latency['p99']:,.0f}" if latency.get("p99") is not None else "-", f"{s['errors']:,}"]
    return "| " + " | ".join(cells) + " |"


def _rate_median(row: Row) -> float:
    """Sorts rows fastest first."""
    return -row["summary"]["req_per_s"]["median"] if row["summary"] else 0.0


def section(run: Run) -> list[str]:
    """REPORT.md's C10k section: per (workload, policy) with rows above the default sweep, its highest
    level's table; empty when the run has none."""
    tops = groups(run, DEFAULT_TOP)
    if not tops:
        return []
    lines = ["## The C10k level", "",
             (f"Every model at the run's highest level above the default sweep's {DEFAULT_TOP:,} (tuned). "
              "*efficiency* = ideal / measured time, ideal = ⌈N/C⌉ × delay; *peak in flight* = the server's "
              "per-round peaks (lowest–highest): C means every connection was open and waiting at once. *RSS / "
              "C* = the client's peak RSS (worst round) over C, the chart below at every level; *marginal* = "
              "the growth of peak RSS from the strategy's next lower level over the connections added, what "
              "one more connection costs without the interpreter's own memory. The worker raises its soft "
              "RLIMIT_NOFILE to C + a margin and the server to its hard limit (`local_server/fdlimit.py`); a "
              "level that the hard limit cannot hold is skipped with its numbers before it runs."), "",
             "![rss_per_connection](rss_per_connection.png)", ""]
    header = ["strategy", "model", "status", "req/s median (min–max)", "efficiency", "peak in flight",
              "peak RSS MiB", "RSS / C KiB", "marginal KiB / connection", "CPU µs/req", "p99 ms", "errors"]
    for (workload, policy), level in tops.items():
        rows = [r for r in run["rows"] if r["workload"] == workload and r["policy"] == policy
                and r["profile"] == "tuned"]
        at_level = [r for r in rows if r["concurrency"] == level]
        measured = sorted((r for r in at_level if r["summary"]), key=_rate_median)
        first = at_level[0]
        lines += [f"### {workload}, {policy}, C={level:,}", "",
                  f"N={first['requests']:,}, delay {first['delay_ms']:,} ms, body {first['size']:,} bytes.", "",
                  "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += [_line(r, rows) for r in measured]
        lines.append("")
        reasons = [f"- `{r['strategy']}` {r['status']}: {r['reason'].splitlines()[0]}"
                   for r in at_level if r["status"] != "ok" and r["reason"]]
        lines += [*reasons, ""] if reasons else []
    return lines
