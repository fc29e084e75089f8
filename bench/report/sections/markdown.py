"""Markdown pieces every report section writes with: numbers and tables, one way.

Rules this module keeps: plain text in, Markdown lines out; a ``|`` inside a cell is escaped, so a
strategy's name or an error message cannot break a table.
"""

from __future__ import annotations

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
