"""Where a request's CPU goes: the rows with callgrind's instruction counts (``--instructions``) and with the
profiled breakdown by category (``--explain``), chosen for the report's sections and charts alike.

Rules this module keeps:
- a row's count or breakdown is read through ``instruction_count`` / ``explanation`` only: a failed pass is
  its ``error`` (``instruction_error`` / ``explain_error``), never a figure;
- only a clean count (no request failed in the pass) is compared; a failed pass is listed, never dropped;
- pure functions of the results; no I/O.
"""

from __future__ import annotations

import math
from typing import cast

from bench.record.rows import CellKey, rows_by_cell
from bench.record.schema import Explain, ExplainFailure, InstructionCount, InstructionFailure, Row, Run

#: cpu_breakdown.png's cell (``--explain``): the workload of per-request CPU (throughput: no delay, small
#: bodies), keep-alive (no connection set-up hiding the model's own cost), tuned, at C=10: ten in flight
#: interleave every model, and every strategy but ``sequential`` runs there. Without it, the nearest cell.
EXPLAIN_CELL = CellKey("throughput", "tuned", "keepalive", 10)


def instruction_count(row: Row) -> InstructionCount | None:
    """The row's clean callgrind count (``strategies.probes.instructions.InstructionCount.to_dict``), or None."""
    found = row.get("instructions")
    if found is None or "clean" not in found:  # told apart by their keys, like the breakdowns below
        return None
    count = cast(InstructionCount, found)
    return count if count["clean"] else None


def instruction_error(row: Row) -> str | None:
    """Why the row's callgrind pass failed, or None."""
    found = row.get("instructions")
    return cast(InstructionFailure, found)["error"] if found is not None and "error" in found else None


def explanation(row: Row) -> Explain | None:
    """The row's profiled breakdown (``strategies.probes.explain.explanation``), or None (not run, or failed)."""
    found = row.get("explain")
    # Told apart by their keys (mypy narrows ``in`` on final TypedDicts only, and the schema's are open).
    return cast(Explain, found) if found is not None and "categories" in found else None


def explain_error(row: Row) -> str | None:
    """Why the row's profiled round failed, or None."""
    found = row.get("explain")
    return cast(ExplainFailure, found)["error"] if found is not None and "error" in found else None


def instruction_rows(run: Run) -> dict[CellKey, list[tuple[Row, InstructionCount]]]:
    """Per cell, the rows with a clean instruction count and their counts, cheapest first."""
    counted = {key: [(r, count) for r in rows if (count := instruction_count(r))]
               for key, rows in rows_by_cell(run).items()}
    return {key: sorted(rows, key=lambda rc: rc[1]["instructions_per_request"])
            for key, rows in counted.items() if rows}


def explained_cell(run: Run) -> tuple[CellKey, list[tuple[Row, Explain]]] | None:
    """The cell cpu_breakdown.png draws (``EXPLAIN_CELL`` or the nearest with explained rows) and its rows
    with their breakdowns, costliest profiled CPU first; None when no row has one."""
    explained = {key: [(r, e) for r in rows if (e := explanation(r))] for key, rows in rows_by_cell(run).items()}
    explained = {key: rows for key, rows in explained.items() if rows}
    if not explained:
        return None
    workload, profile, policy, level, _ = EXPLAIN_CELL
    key = min(explained, key=lambda k: (k.workload != workload, k.profile != profile, k.policy != policy,
                                        abs(math.log(k.concurrency / level)), -len(explained[k])))
    rows = sorted(explained[key], key=lambda re: -(re[1]["cpu_us_per_req"] + re[1]["children_us_per_req"]))
    return key, rows
