"""The C10k level: every model at the run's highest level, and its memory per connection.

The level is any C above the default sweep's highest (``above``: the report passes
``bench.sweep.plan.DEFAULT_TOP``), reached with ``--concurrency c10k`` or ``--workloads c10k``
(``bench.sweep.plan.C10K_LEVELS``). Memory per in-flight connection is peak RSS / C
(``bench.record.rows.rss_per_connection_kib``). At a low C that figure is mostly the interpreter's own
memory spread thin, so ``marginal_kib`` gives the growth of peak RSS from the strategy's next lower level to
this one, over the connections added, which is what one more connection costs.

Rules this module keeps:
- only tuned rows above ``above`` make a group, one per (workload, policy), at its highest level; every
  number comes from the rows' summaries (``bench.report.sections.c10k`` prints them);
- pure functions of the results; no I/O. The sweep's levels are the sweep's: given, never imported.
"""

from __future__ import annotations

from bench.record.rows import is_measured, measured_summary
from bench.record.schema import Row, Run


def beyond(row: Row, above: int) -> bool:
    """A tuned row above level ``above`` (the default sweep's highest)."""
    return row["concurrency"] > above and row["profile"] == "tuned"


def groups(run: Run, above: int) -> dict[tuple[str, str], int]:
    """(workload, policy) -> its highest level, for each group with rows above level ``above``."""
    tops: dict[tuple[str, str], int] = {}
    for row in (r for r in run["rows"] if beyond(r, above)):
        key = (row["workload"], row["policy"])
        tops[key] = max(tops.get(key, 0), row["concurrency"])
    return tops


def _peak_rss_kb(row: Row) -> int | None:
    """A measured row's peak RSS: what the memory figures need beyond ``is_measured`` (None: not read)."""
    return measured_summary(row)["peak_rss_kb"] if is_measured(row) else None


def marginal_kib(row: Row, rows: list[Row]) -> tuple[float, int] | None:
    """(KiB per added connection, the lower level it is taken from): peak RSS's growth from the same
    strategy's next lower measured level in ``rows`` to ``row``'s, over the connections added."""
    lower = [r for r in rows if r["strategy"] == row["strategy"] and r["concurrency"] < row["concurrency"]
             and _peak_rss_kb(r)]
    top = _peak_rss_kb(row)
    if not lower or not top:
        return None
    below = max(lower, key=lambda r: r["concurrency"])
    grown = top - (_peak_rss_kb(below) or 0)
    return grown / (row["concurrency"] - below["concurrency"]), below["concurrency"]
