"""REPORT.md's cost-model section: what bounds each row (``bench.analysis.costs``), counted, the unexplained
rows listed, every row's bounds in a table.

Rules this module keeps: every figure is the analysis's; a section is empty when no row has bounds.
"""

from __future__ import annotations

from bench.analysis.costs import BOUND_NAMES, ON_BOUND, bounds
from bench.record.schema import Run


def section(run: Run) -> list[str]:
    """REPORT.md's cost-model section: the rule, a count per bound, every unexplained row, then all rows."""
    measured = [(row, b) for row in run["rows"] if (b := bounds(row)) is not None]
    if not measured:
        return []
    counts: dict[str, int] = {}
    for _, b in measured:
        key = b.largest[0] if b.kind not in ("serial", "unexplained") else b.kind
        counts[key] = counts.get(key, 0) + 1
    named = {**BOUND_NAMES, "serial": "the bounds added up", "unexplained": "no bound (unexplained)"}
    lines = ["## What bounds each row (the cost model)", "",
             ("A round of N requests, at most C in flight, each delayed d by the server, cannot be faster than "
              "its *waiting* (⌈N/C⌉ × d), its *client CPU* (N × CPU per request: the worker is pinned to one "
              "core), the *server CPU* (single-threaded, on its own core), or, when the server never saw C in "
              f"flight, *a cap* (⌈N/peak⌉ × d). A row sits on the largest bound when its median wall time is "
              f"within {ON_BOUND:g}× of it; at C=1 and other levels too low to overlap them the bounds add up "
              "(*serial*); a row far from both is *unexplained*: something the suite does not measure cost it "
              "time (`bench/analysis/costs.py`)."), "",
             "Rows by bound: " + ", ".join(f"{named[k]} {v}" for k, v in sorted(counts.items())) + ".", ""]
    odd = [(row, b) for row, b in measured if b.kind == "unexplained"]
    if odd:
        lines += ["Unexplained rows:", ""] + [f"- `{row['id']}`: {b.text}" for row, b in odd] + [""]
    table = [[f"`{row['id']}`", f"{b.wall_s:.3f}", *(f"{b.seconds.get(k, 0.0):.3f}" for k in BOUND_NAMES),
              b.text] for row, b in measured]
    lines += ["<details><summary>Every row's bounds (seconds per round)</summary>", "",
              "| row | wall | " + " | ".join(BOUND_NAMES.values()) + " | reading |",
              "|---|" + "---:|" * (1 + len(BOUND_NAMES)) + "---|"]
    lines += ["| " + " | ".join(fields) + " |" for fields in table]
    return [*lines, "", "</details>", ""]
