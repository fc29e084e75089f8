"""The claim on its own era's software: today's rows against an era's, in the cells that hold both.

A run made with ``--era NAME`` (``strategies.eras``) holds, in the same cells as today's rows, the rows of
the same recipes on the era's interpreter and libraries, named ``S@NAME`` and carrying their ``era``
record. This module sets the two side by side (``bench.report.sections.eras`` and ``...charts.eras`` show it).

Rules this module keeps:
- only cells that hold rows of the era are compared, and within a cell only a recipe measured in both eras
  (both rows ok or flagged: ``bench.record.rows.is_measured``): the cells were measured interleaved,
  today's and the era's rows taking turns;
- the claim is judged in each era by ``bench.analysis.verdict`` alone: today's readings on today's rows,
  the same readings on the era's rows (``S@NAME`` for each S), in the same cells;
- every ratio is today ÷ era with its 95 % interval (``bench.analysis.comparison``: Welch on the logarithms
  of the per-round values), req/s and CPU µs per request; today is labelled with the run's year;
- pure functions of the results; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.analysis import verdict
from bench.analysis.claim import READINGS, reading_name
from bench.analysis.comparison import Comparison, compare
from bench.record.rows import CellKey, is_measured, round_values, rows_by_cell
from bench.record.schema import Row, Run
from strategies.eras import split, twin

#: The verdicts a table counts, in its order.
WORDS = ("holds", "contradicted", "not shown")


@dataclass(frozen=True)
class Pair:
    """One recipe in one cell, measured in both eras: today ÷ era, req/s and CPU µs per request."""

    key: CellKey
    strategy: str
    today: Row
    old: Row
    rate: Comparison
    cpu: Comparison


def era_of(run: Run) -> str | None:
    """The era whose rows the run holds (``--era``), or None."""
    return next((record["name"] for row in run["rows"] if (record := row.get("era"))), None)


def today_label(run: Run) -> str:
    return (run.get("created") or "")[:4] or "today"


def era_cells(run: Run, era: str) -> dict[CellKey, list[Row]]:
    """The cells where at least one of the era's rows was measured."""
    return {key: rows for key, rows in rows_by_cell(run).items()
            if any(split(r["strategy"])[1] == era and is_measured(r) for r in rows)}


def pairs(run: Run, era: str) -> list[Pair]:
    out = []
    for key, rows in era_cells(run, era).items():
        by_name = {row["strategy"]: row for row in rows}
        for name, today in by_name.items():
            old = by_name.get(twin(name, era))
            if split(name)[1] is None and is_measured(today) and old is not None and is_measured(old):
                out.append(Pair(key, name, today, old,
                                compare(name, round_values(today, "req_per_s"), name, round_values(old, "req_per_s")),
                                compare(name, round_values(today, "cpu_us_per_req"), name,
                                        round_values(old, "cpu_us_per_req"))))
    return out


def judged(run: Run, era: str) -> dict[str, list[verdict.CellVerdict]]:
    """Every reading judged in every cell of the era, once on today's rows, once on the era's."""
    out: dict[str, list[verdict.CellVerdict]] = {"today": [], era: []}
    for rows in era_cells(run, era).values():
        for reading in READINGS:
            out["today"].append(verdict.judge_cell(rows, reading))
            out[era].append(verdict.judge_cell(rows, tuple(twin(name, era) for name in reading)))
    return out


def plain(text: str, era: str) -> str:
    """A text about the era's rows with their names plain: ``S@2017`` is ``S`` in its era's column."""
    return text.replace(f"@{era}", "")


Counts = dict[tuple[str, str], dict[str, list[int]]]


def verdict_counts(verdicts: dict[str, list[verdict.CellVerdict]], era: str) -> Counts:
    """(profile, "today" or the era) -> reading's name -> [holds, contradicted, not shown, cells judged]."""
    counts: Counts = {}
    for label, mine in verdicts.items():
        for v in mine:
            if not v.judged:
                continue
            row = counts.setdefault((v.profile, label), {}).setdefault(
                plain(reading_name(v.reading), era), [0] * (len(WORDS) + 1))
            row[WORDS.index(v.verdict)] += 1
            row[-1] += 1
    order = {"as-written": 0, "tuned": 1, "today": 0, era: 1}  # the recipes first, today before the era
    return {column: counts[column] for column in sorted(counts, key=lambda c: (order.get(c[0], 2), order[c[1]]))}
