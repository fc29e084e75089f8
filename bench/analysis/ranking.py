"""Every strategy of each cell of the opt-in workloads (web, slow-link), in order.

Rules this module keeps:
- the order by req/s is the claim's machinery applied to every strategy of the cell
  (``bench.analysis.verdict.judge_cell``: Welch on log req/s, Holm over the cell's adjacent pairs, ``>``
  only for a difference that counts);
- p99 latency is ranked by its median over rounds, untested, and set beside its floor: the p99 of the
  round's own service times (``bench.record.shapes``), which no client can beat;
- pure functions of the results (``bench.report.sections.ranking`` prints them); no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.analysis import verdict
from bench.record.rows import CellKey, is_measured, measured_summary, rows_by_cell
from bench.record.schema import Row, Run
from bench.record.shapes import row_service_seconds
from strategies.workload import percentile

#: The workloads ranked here: the opt-in ones, whose point is the ranking itself (the default workloads are
#: judged by the claim's verdict).
RANKED = ("web", "slow-link")


@dataclass(frozen=True)
class RankedCell:
    """One cell's strategies: ordered by req/s, by efficiency (highest first) and by p99 (lowest first)."""

    key: CellKey
    requests: int
    #: The round's ideal time (``bench.record.shapes.ideal_seconds``), None when no request waits.
    ideal_s: float | None
    #: E.g. ``asyncio > twisted ~ gevent`` (``CellVerdict.order_text``).
    order_text: str
    #: (strategy, efficiency), highest first; the strategies without one are left out.
    efficiency: list[tuple[str, float]]
    #: The p99 no client can beat: of the round's own service times, ms.
    p99_floor_ms: float
    #: (strategy, p99 ms, median over rounds), lowest first; the strategies without one are left out.
    p99_ms: list[tuple[str, float]]


def p99_floor_ms(row: Row) -> float:
    """The p99 (nearest rank, as measured) of the row's own service times, in ms."""
    return float(percentile(sorted(row_service_seconds(row)), 99)) * 1000


def rank_cell(rows: list[Row]) -> RankedCell | None:
    """A cell's measured rows, ranked; None if none was measured."""
    usable = [r for r in rows if is_measured(r)]
    if not usable:
        return None
    first = usable[0]
    order = verdict.judge_cell(usable, tuple(r["strategy"] for r in usable)).order_text
    summaries = [(r["strategy"], measured_summary(r)) for r in usable]
    by_eff = sorted(summaries, key=lambda rs: -(rs[1]["efficiency"] or 0.0))
    by_p99 = sorted(summaries, key=lambda rs: rs[1]["latency_ms"]["p99"] or 0.0)
    return RankedCell(
        key=CellKey(first["workload"], first["profile"], first["policy"], first["concurrency"]),
        requests=first["requests"], ideal_s=measured_summary(first)["ideal_s"], order_text=order,
        efficiency=[(name, efficiency) for name, s in by_eff if (efficiency := s["efficiency"]) is not None],
        p99_floor_ms=p99_floor_ms(first),
        p99_ms=[(name, p99) for name, s in by_p99 if (p99 := s["latency_ms"]["p99"]) is not None])


def ranked_cells(run: Run) -> dict[str, list[RankedCell]]:
    """Per ranked workload in the run, its cells ranked, in the order the sweep ran them."""
    out: dict[str, list[RankedCell]] = {}
    for key, rows in rows_by_cell(run).items():
        ranked = rank_cell(rows) if key.workload in RANKED else None
        if ranked is not None:
            out.setdefault(key.workload, []).append(ranked)
    return out
