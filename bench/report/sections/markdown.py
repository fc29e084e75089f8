"""Markdown pieces every report section writes with: numbers and tables, one way.

Rules this module keeps: plain text in, Markdown lines out; a ``|`` inside a cell is escaped, so a
strategy's name or an error message cannot break a table.
"""

from __future__ import annotations

import statistics

from bench.analysis.comparison import Comparison
from bench.record.rows import CellKey, measured_summary
from bench.record.schema import Row


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def table(header: list[str], lines: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(text.replace("|", "\\|") for text in line) + " |" for line in lines]
    return out


def where(row: Row) -> str:
    return (f"{row['strategy']} {row['workload']}/{row['profile']}/{row['policy']} "
            f"C={row['concurrency']}")


def paired_line(key: CellKey, columns: list[str], today: Row, other: Row, rate: Comparison, cpu: Comparison) -> str:
    """A table line of one strategy measured twice in a cell (today's row and an era's or an interpreter's):
    the cell, ``columns``, then req/s and CPU µs per request of each with the ratio's interval, and both
    peaks in flight (medians over rounds; the peak of the highest round)."""
    t, o = measured_summary(today), measured_summary(other)
    cells = [f"{key[0]} {key[1]} {key[2]} C={key[3]}", *columns,
             f"{t['req_per_s']['median']:,.0f}", f"{o['req_per_s']['median']:,.0f}", rate.interval_text,
             f"{t['cpu_us_per_req']:,.0f}", f"{o['cpu_us_per_req']:,.0f}", cpu.interval_text,
             f"{t['peak_in_flight_max']} / {o['peak_in_flight_max']}"]
    return "| " + " | ".join(cells) + " |"


def ratios_cells(rates: list[Comparison], cpus: list[Comparison]) -> list[str]:
    """Four table cells summing up one strategy's ratios over its cells: req/s's median (range), how many
    cells were decisively faster / slower, then CPU µs per request's median (range) and cheaper / costlier."""
    def spread(found: list[Comparison]) -> str:
        values = [c.ratio for c in found]
        return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"

    def count(found: list[Comparison], up: bool) -> int:
        return sum(c.decisive and (c.ratio > 1) == up for c in found)

    return [spread(rates), f"{count(rates, True)} / {count(rates, False)}",
            spread(cpus), f"{count(cpus, False)} / {count(cpus, True)}"]
