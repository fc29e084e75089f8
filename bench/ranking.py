"""REPORT.md's ranking of every strategy in the cells of the opt-in workloads (web, slow-link).

Rules this module keeps:
- the order by req/s is the claim's machinery applied to every strategy of the cell (``bench.verdict``:
  Welch on log req/s, Holm over the cell's adjacent pairs, ``>`` only for a difference that counts);
- p99 latency is ranked by its median over rounds, untested, and set beside its floor: the p99 of the
  round's own service times (``bench.shapes``), which no client can beat;
- pure functions of the results JSON (``bench.report`` renders them); no I/O.
"""

from __future__ import annotations

from bench import verdict
from bench.record.rows import is_measured, measured_summary, rows_by_cell
from bench.record.schema import Row, Run
from bench.record.shapes import row_service_seconds
from strategies.workload import percentile

#: The workloads ranked here: the opt-in ones, whose point is the ranking itself (the default workloads are
#: judged by the claim's verdict).
RANKED = ("web", "slow-link")


def _p99_floor_ms(row: Row) -> float:
    return float(percentile(sorted(row_service_seconds(row)), 99)) * 1000


def cell_line(rows: list[Row]) -> list[str] | None:
    """One table line for a cell: its order by req/s, efficiencies and p99 latencies; None if nothing ran."""
    usable = [r for r in rows if is_measured(r)]
    if not usable:
        return None
    first = usable[0]
    order = verdict.judge_cell(usable, tuple(r["strategy"] for r in usable)).order_text
    summaries = [(r["strategy"], measured_summary(r)) for r in usable]
    by_eff = sorted(summaries, key=lambda rs: -(rs[1]["efficiency"] or 0.0))
    by_p99 = sorted(summaries, key=lambda rs: rs[1]["latency_ms"]["p99"] or 0.0)
    ideal = measured_summary(first)["ideal_s"]
    return [first["profile"], first["policy"], str(first["concurrency"]), str(first["requests"]),
            f"{ideal:.2f}" if ideal else "-", order,
            ", ".join(f"{name} {efficiency:.0%}" for name, s in by_eff
                      if (efficiency := s["efficiency"]) is not None) or "-",
            f"{_p99_floor_ms(first):,.0f}",
            ", ".join(f"{name} {p99:,.0f}" for name, s in by_p99 if (p99 := s["latency_ms"]["p99"]) is not None)]


HEADER = ["profile", "policy", "C", "N", "ideal s", "order by req/s", "efficiency (ideal / measured)",
          "p99 floor ms", "p99 latency ms (median of rounds), lowest first"]
INTRO = ("Every strategy of each cell of the opt-in workloads, ordered by median req/s: `>` a difference that "
         f"counts, `~` none (Welch's t on log req/s, Holm-adjusted over the cell's adjacent pairs, at least "
         f"{verdict.MIN_EFFECT:.0%} apart: the claim's rule). *ideal* is the least time of the round's requests "
         "admitted in id order into C slots (`bench/shapes.py`); *p99 floor* is the p99 of the round's own "
         "delays (plus transfer when paced): no client's p99 can be lower.")


def tables(run: Run) -> dict[str, list[list[str]]]:
    """Per ranked workload in the run, one ``cell_line`` per cell (``HEADER``'s columns)."""
    out: dict[str, list[list[str]]] = {}
    for key, rows in rows_by_cell(run).items():
        line = cell_line(rows) if key.workload in RANKED else None
        if line is not None:
            out.setdefault(key.workload, []).append(line)
    return out
