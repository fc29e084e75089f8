"""REPORT.md's ranking of every strategy in the cells of the opt-in workloads (``bench.analysis.ranking``).

Rules this module keeps: every figure is the analysis's; the section is empty without such cells.
"""

from __future__ import annotations

from bench.analysis.comparison import MIN_EFFECT
from bench.analysis.ranking import RankedCell, ranked_cells
from bench.record.schema import Run
from bench.report.sections.markdown import table

HEADER = ["profile", "policy", "C", "N", "ideal s", "order by req/s", "efficiency (ideal / measured)",
          "p99 floor ms", "p99 latency ms (median of rounds), lowest first"]
INTRO = ("Every strategy of each cell of the opt-in workloads, ordered by median req/s: `>` a difference that "
         f"counts, `~` none (Welch's t on log req/s, Holm-adjusted over the cell's adjacent pairs, at least "
         f"{MIN_EFFECT:.0%} apart: the claim's rule). *ideal* is the least time of the round's requests "
         "admitted in id order into C slots (`bench/record/shapes.py`); *p99 floor* is the p99 of the round's "
         "own delays (plus transfer when paced): no client's p99 can be lower.")


def cell_line(cell: RankedCell) -> list[str]:
    """One table line for a cell (``HEADER``'s columns)."""
    return [cell.key.profile, cell.key.policy, str(cell.key.concurrency), str(cell.requests),
            f"{cell.ideal_s:.2f}" if cell.ideal_s else "-", cell.order_text,
            ", ".join(f"{name} {efficiency:.0%}" for name, efficiency in cell.efficiency) or "-",
            f"{cell.p99_floor_ms:,.0f}", ", ".join(f"{name} {p99:,.0f}" for name, p99 in cell.p99_ms)]


def section(run: Run) -> list[str]:
    """The opt-in workloads: every strategy of each cell in order; empty without them."""
    found = ranked_cells(run)
    if not found:
        return []
    lines = ["## The opt-in workloads, strategy by strategy", "", INTRO, ""]
    for workload, cells in found.items():
        lines += [f"### Ranking: {workload}", "", *table(HEADER, [cell_line(cell) for cell in cells]), ""]
    return lines
