"""The same recipe on other interpreters: each ``S@py3.13`` row against today's ``S``, in the cells holding both.

A run made with ``--python 3.12,3.13`` (``strategies.pythons``) holds, in the same cells as today's rows,
the same strategies' rows run by today's worker and libraries on those interpreters, named ``S@py3.13`` and
carrying their ``python`` record. This module sets each beside today's (``bench.report.sections.pythons``
and ``...charts.pythons`` show it).

Rules this module keeps:
- only a strategy measured on both sides of one cell is compared (``bench.record.rows.is_measured``): the
  cell's rows were measured interleaved, today's and the other interpreters' taking turns;
- every ratio is the other interpreter ÷ the run's own (``machine.python``, today's rows), req/s and CPU µs
  per request, with its 95 % interval (``bench.analysis.comparison``: Welch on the logarithms of the
  per-round values): above 1 is faster for req/s, costlier for CPU;
- interpreters are ordered by version, strategies as the run lists them;
- pure functions of the results; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.analysis.comparison import Comparison, compare
from bench.record.rows import CellKey, RoundFigure, is_measured, round_values, rows_by_cell
from bench.record.schema import PythonRecord, Row, Run
from strategies.eras import split, twin


@dataclass(frozen=True)
class Pair:
    """One strategy in one cell on today's interpreter and on ``tag``'s: ``tag`` ÷ today."""

    key: CellKey
    strategy: str
    tag: str
    today: Row
    other: Row
    rate: Comparison
    cpu: Comparison


def interpreters(run: Run) -> dict[str, PythonRecord]:
    """The run's other interpreters, tag -> its record (from a measured row when there is one), by version."""
    found: dict[str, PythonRecord] = {}
    for row in run["rows"]:
        record = row.get("python")
        if record is not None and (record["tag"] not in found or is_measured(row)):
            found[record["tag"]] = record
    return dict(sorted(found.items(), key=lambda item: _version_key(item[0])))


def _version_key(tag: str) -> tuple[int, ...]:
    return tuple(int(part) for part in tag.removeprefix("py").rstrip("t").split("."))


def today_python(run: Run) -> str:
    return str(run["machine"].get("python") or "today's")


def pairs(run: Run) -> list[Pair]:
    """Every (cell, strategy, interpreter) measured on both sides, cells in the run's order."""
    tags = list(interpreters(run))
    out = []
    for key, rows in rows_by_cell(run).items():
        by_name = {row["strategy"]: row for row in rows}
        for name, today in by_name.items():
            if split(name)[1] is not None or not is_measured(today):
                continue
            for tag in tags:
                other = by_name.get(twin(name, tag))
                if other is not None and is_measured(other):
                    out.append(Pair(key, name, tag, today, other, _ratio(other, today, name, tag, "req_per_s"),
                                    _ratio(other, today, name, tag, "cpu_us_per_req")))
    return out


def _ratio(other: Row, today: Row, name: str, tag: str, figure: RoundFigure) -> Comparison:
    return compare(twin(name, tag), round_values(other, figure), name, round_values(today, figure))


def skipped(run: Run) -> dict[str, str]:
    """The rows that could not run on their interpreter where today's row of their cell could (a missing
    interpreter, a library that does not install there): ``S@tag`` -> the reason (the first seen)."""
    out: dict[str, str] = {}
    for rows in rows_by_cell(run).values():
        status = {row["strategy"]: row["status"] for row in rows}
        for row in rows:
            if (row.get("python") is not None and row["status"] == "skipped"
                    and status.get(split(row["strategy"])[0]) != "skipped"):
                out.setdefault(row["strategy"], row["reason"])
    return out
