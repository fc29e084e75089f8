"""Everything the results page shows, as the JSON its script reads (``PageData``), from the runs alone.

Rules this module keeps:
- every figure, interval, verdict and sentence here is computed by the analysis and the report's sections,
  the code REPORT.md and compare.md are made with: the claim's verdicts and cell orders
  (``bench.analysis.verdict``), a row's interval (``bench.analysis.comparison.mean_interval``), its bound
  (``bench.analysis.costs``), the sections' text (``bench.report.sections``), two runs compared
  (``bench.report.compare``); a strategy looks as in the PNGs (``bench.report.charts.panels.style``);
- the keys are short where they repeat per row (``s``, ``w``, ``c``...): the page carries every row of every
  committed run within its budget (``bench.report.page.document.MAX_BYTES``); every number keeps ``DIGITS``
  significant digits, the page prints three;
- pure functions of the runs, but for ``page_data``'s one line per run it cannot read.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from itertools import permutations
from pathlib import Path
from typing import NotRequired, TypedDict

from bench.analysis import verdict
from bench.analysis.comparison import mean_interval
from bench.analysis.costs import bounds
from bench.analysis.cpu import instruction_count
from bench.analysis.ranking import p99_floor_ms
from bench.record.rows import (
    FLAG_TEXT,
    NOTE_TEXT,
    CellKey,
    is_measured,
    measured_summary,
    of_scheme,
    round_values,
    row_key,
    row_scheme,
    rows_by_cell,
)
from bench.record.runfile import load_run
from bench.record.schema import Row, Run
from bench.report import compare
from bench.report.charts.panels import hex_colour, style
from bench.report.page import markup
from bench.report.page.runs import Source, relative, report_link
from bench.report.sections.claim import CELL_HEADER, cell_lines, reading_table, why_section
from bench.report.sections.run import machine_section, noise_section
from strategies import REGISTRY
from strategies.eras import split

#: Significant digits kept of every number in the data: the page prints three, as
#: ``bench.report.sections.markdown.fmt`` does; one more keeps a ratio of two of them honest.
DIGITS = 4

#: matplotlib's markers (``bench.report.charts.panels.style``) as plotly's symbols, so a strategy looks
#: alike on the page and in the PNGs.
SYMBOLS = {"o": "circle", "s": "square", "D": "diamond", "^": "triangle-up", "v": "triangle-down",
           "P": "cross", "*": "star", "X": "x", "h": "hexagon", "p": "pentagon", "<": "triangle-left",
           ">": "triangle-right"}
DASHES = {"-": "solid", "-.": "dashdot", ":": "dot"}

#: The dimensions a run may vary besides the cell, each a set of checkboxes on the page when a run has two
#: values of it: the era, with its interpreter (``--era``; ``--python``: today's recipes on another interpreter),
#: and the scheme (``--schemes``: an HTTPS row is drawn as its strategy's line of its own, dotted).
FACETS = {"era": "era (interpreter)", "scheme": "scheme (http / https)"}


@dataclass(frozen=True)
class Metric:
    """One metric of the chart: a measured row's value (as REPORT.md and the PNGs have it), its per-round
    values (for the interval and the spread) and what the cell's ideal line is called, where it has one."""

    id: str
    label: str
    log: bool
    value: Callable[[Row], float | None]
    rounds: Callable[[Row], list[float]]
    ideal_label: str = ""


def _efficiency_rounds(row: Row) -> list[float]:
    ideal = measured_summary(row)["ideal_s"]
    return [ideal / r["wall_s"] for r in row["rounds"] if ideal and r["wall_s"]]


def _instructions(row: Row) -> float | None:
    counted = instruction_count(row)
    return counted["instructions_per_request"] if counted else None


def _p99(row: Row) -> float | None:
    return measured_summary(row)["latency_ms"]["p99"]


def _rss_mib(row: Row) -> float | None:
    kb = measured_summary(row)["peak_rss_kb"]
    return kb / 1024 if kb else None


METRICS = (
    Metric("rps", "requests / s (median of rounds)", True, lambda r: measured_summary(r)["req_per_s"]["median"],
           lambda r: round_values(r, "req_per_s"), "ideal: N / the round's least time"),
    Metric("efficiency", "efficiency: ideal time / measured time", False,
           lambda r: measured_summary(r)["efficiency"], _efficiency_rounds, "ideal: 100 %"),
    Metric("cpu", "client CPU µs per request (median of rounds)", True,
           lambda r: measured_summary(r)["cpu_us_per_req"], lambda r: round_values(r, "cpu_us_per_req")),
    Metric("instructions", "instructions per request (callgrind, one pass)", True, _instructions, lambda r: []),
    Metric("p99", "p99 latency, ms (median of rounds)", True, _p99,
           lambda r: [p99 for x in r["rounds"] if (p99 := x["latency_ms"].get("p99"))],
           "floor: p99 of the requests' own delays"),
    Metric("rss", "client peak RSS, MiB (worst round)", True, _rss_mib,
           lambda r: [x["peak_rss_kb"] / 1024 for x in r["rounds"] if x["peak_rss_kb"]]),
    Metric("inflight", "peak in flight at the server (smallest round's)", True,
           lambda r: measured_summary(r)["peak_in_flight_min"],
           lambda r: [float(p) for x in r["rounds"] if (p := x["peak_in_flight"])], "ideal: C requests in flight"),
)


class MetricInfo(TypedDict):
    id: str
    label: str
    log: bool
    ideal: str


class PageRow(TypedDict):
    """A row as the page shows it. ``m``: per metric with a value, [value, min, max, interval low, interval
    high, rounds] (the interval: ``mean_interval``, null with fewer than two rounds)."""
    s: str
    w: str
    pr: str
    po: str
    c: int
    n: int
    st: str
    reason: str
    model: str
    stack: str
    facets: dict[str, str]
    flags: list[tuple[str, str]]
    notes: list[tuple[str, str]]
    m: NotRequired[dict[str, list[float | None]]]
    rounds: NotRequired[int]
    peak: NotRequired[tuple[int | None, int | None]]
    bound: NotRequired[str | None]


class PageCell(TypedDict):
    """A cell: every strategy in measured order, each adjacent step (faster, slower, ratio [95 % CI],
    Holm-adjusted p, ``>`` or ``~``), its line of REPORT.md's claim table as HTML, the ideal per metric."""
    order: str
    links: list[tuple[str, str, str, str, str]]
    claim: list[str] | None
    ideal: dict[str, float]


class Readings(TypedDict):
    header: list[str]
    rows: list[list[str]]


class PageRun(TypedDict):
    """One run: its names, links, the claim's answer (HTML), its machine and noise (HTML), rows and cells
    (keyed ``workload|profile|policy|C``)."""
    id: str
    set: str
    created: str | None
    label: str
    json: str
    report: str | None
    why: str | None
    summary: str | None
    readings: Readings | None
    machine: str
    noise: str
    rows: list[PageRow]
    cells: dict[str, PageCell]


class PageComparison(TypedDict):
    """B against A (``compare.row_changes``): the rows-compared line, and per row (its index in A, in B) the
    ratio B/A with its interval and ``faster``/``slower`` where it changed."""
    line: str
    rows: list[tuple[int, int, str, str]]


class StrategyStyle(TypedDict):
    colour: str
    symbol: str
    dash: str
    era: str


class PageData(TypedDict):
    generated: str
    runs: list[PageRun]
    compare: dict[str, PageComparison]
    styles: dict[str, StrategyStyle]
    models: list[str]
    metrics: list[MetricInfo]
    facets: dict[str, str]
    claimHeader: list[str]
    flagText: dict[str, str]
    noteText: dict[str, str]
    strategyOrder: list[str]


def _num(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.{DIGITS}g}")


def metric_values(row: Row, metric: Metric) -> list[float | None] | None:
    """[value, min, max, interval low, interval high, rounds] of a measured row, or None without a value."""
    value = metric.value(row)
    if value is None:
        return None
    rounds = metric.rounds(row)
    interval = mean_interval(rounds)
    return [_num(value), _num(min(rounds, default=value)), _num(max(rounds, default=value)),
            _num(interval.low if interval else None), _num(interval.high if interval else None), len(rounds)]


def _facets(row: Row, run: Run) -> dict[str, str]:
    era, other = row.get("era"), row.get("python")
    python = era["python"] if era else other["version"] or other["tag"] if other else run["machine"]["python"]
    return {"era": f"{era['name'] if era else 'today'} (Python {python})", "scheme": row_scheme(row)}


def row_data(row: Row, run: Run) -> PageRow:
    """A row as the page shows it: its cell, status, flags with their reasons, each metric and its bound."""
    spec = REGISTRY.get(split(row["strategy"])[0])
    out: PageRow = {
        "s": row["strategy"], "w": row["workload"], "pr": row["profile"], "po": row["policy"],
        "c": row["concurrency"], "n": row["requests"], "st": row["status"] or "failed", "reason": row["reason"],
        "model": spec.model if spec else "other", "stack": spec.stack if spec else "",
        "facets": _facets(row, run),
        "flags": [(f["code"], f["detail"]) for f in row["flags"]],
        "notes": [(f["code"], f["detail"]) for f in row["notes"]],
    }
    if is_measured(row):
        summary = measured_summary(row)
        bound = bounds(row)
        out["m"] = {m.id: v for m in METRICS if (v := metric_values(row, m)) is not None}
        out["rounds"] = len(row["rounds"])
        out["peak"] = (summary["peak_in_flight_min"], summary["peak_in_flight_max"])
        out["bound"] = bound.text if bound else None
    return out


def cell_ideals(rows: list[Row]) -> dict[str, float]:
    """A cell's ideal per metric that has one: the same for every strategy of the cell (same workload)."""
    row = next((r for r in rows if is_measured(r)), None)
    if row is None:
        return {}
    out: dict[str, float] = {}
    ideal_s = measured_summary(row)["ideal_s"]
    if ideal_s:
        out.update(rps=row["requests"] / ideal_s, efficiency=1.0, inflight=min(row["concurrency"], row["requests"]))
    floor = p99_floor_ms(row)
    if floor > 0:
        out["p99"] = floor
    return {k: float(f"{v:.{DIGITS}g}") for k, v in out.items() if math.isfinite(v)}


def cell_data(rows: list[Row], claim_line: list[str] | None) -> PageCell:
    """A cell's tables: every strategy in measured order with each adjacent step's ratio, interval and
    Holm-adjusted p (``verdict.judge_cell`` over the whole cell), and its line of REPORT.md's claim table."""
    judged = verdict.judge_cell(rows, tuple(r["strategy"] for r in rows))
    return {"order": judged.order_text,
            "links": [(s.a, s.b, s.interval_text, f"{s.p:.2g}", ">" if s.decisive else "~") for s in judged.links],
            "claim": [markup.inline(text) for text in claim_line] if claim_line else None,
            "ideal": cell_ideals(rows)}


def _cell_id(key: CellKey) -> str:
    """``workload|profile|policy|C``, and ``|https`` for an HTTPS cell (the page's ``cellKey``)."""
    return "|".join(map(str, key[:4])) + ("" if key.scheme == "http" else f"|{key.scheme}")


def run_data(source: Source, run: Run, root: Path) -> PageRun:
    """One run as the page shows it: the claim's answer, its rows and cells, its machine and noise."""
    every = verdict.judge_run(run)
    lines = cell_lines(run, every)  # every cell's claim line, an HTTPS cell's too
    plain = of_scheme(run, "http")
    verdicts = [v for v in every if v.scheme == "http"]  # the claim's answer as REPORT.md gives it
    why = why_section(plain, verdicts)[2:]  # its own heading is the page's
    header, readings = reading_table(verdicts)
    workloads = ", ".join(dict.fromkeys(r["workload"] for r in run["rows"]))
    return {
        "id": source.id, "set": source.set, "created": run["created"],
        "label": f"{source.id} ({(run['created'] or 'unfinished')[:16]}, {workloads}, {len(run['rows'])} rows)",
        "json": relative(source.path, root), "report": report_link(source, run["created"], root),
        "why": markup.html(why) if why else None,
        "summary": markup.html([verdict.headline(verdicts)]) if verdicts else None,
        "readings": {"header": header, "rows": readings} if verdicts else None,
        "machine": markup.html(machine_section(run)[2:]), "noise": markup.html(noise_section(run)[2:]),
        "rows": [row_data(row, run) for row in run["rows"]],
        "cells": {_cell_id(key): cell_data(rows, lines.get(key)) for key, rows in rows_by_cell(run).items()},
    }


def compare_data(runs: dict[str, Run]) -> dict[str, PageComparison]:
    """For every ordered pair of runs sharing rows, B against A per row (``compare.row_changes``), keyed
    ``A>B``; rows by their index in each run."""
    index = {name: {row_key(row): i for i, row in enumerate(run["rows"])} for name, run in runs.items()}
    out: dict[str, PageComparison] = {}
    for a, b in permutations(runs, 2):
        if not index[a].keys() & index[b].keys():
            continue
        changes = compare.row_changes(runs[a], runs[b])
        if changes:
            out[f"{a}>{b}"] = {
                "line": compare.rows_in_short(runs[a], runs[b], changes),
                "rows": [(index[a][key], index[b][key], c.interval_text,
                          ("faster" if c.ratio > 1 else "slower") if c.decisive else "") for key, c in changes]}
    return out


def strategy_styles(names: list[str]) -> dict[str, StrategyStyle]:
    """Each strategy's colour, marker and dash as ``bench.report.charts.panels.style`` draws it, in plotly's
    words."""
    out: dict[str, StrategyStyle] = {}
    for name in names:
        st = style(name)
        out[name] = {"colour": hex_colour(name), "symbol": SYMBOLS[st["marker"]], "dash": DASHES[st["linestyle"]],
                     "era": "yes" if st["fillstyle"] != "full" else ""}
    return out


def page_data(sources: list[Source], root: Path) -> PageData:
    """Everything the page shows, for ``sources``; runs that cannot be read are left out with one line."""
    runs: dict[str, Run] = {}
    for source in sources:
        try:
            runs[source.id] = load_run(source.path)
        except (OSError, ValueError, KeyError) as exc:
            print(f"bench.report.page: left out {source.path}: {exc}", file=sys.stderr)
    shown = [run_data(source, runs[source.id], root) for source in sources if source.id in runs]
    names = list(dict.fromkeys(r["strategy"] for run in runs.values() for r in run["rows"]))
    # The newest run's time, not the clock's: the same runs make the same page, so a committed page changes
    # only when its runs do.
    newest = max((run["created"] for run in runs.values() if run["created"]), default="no finished run")
    return {"generated": f"from runs up to {newest}", "runs": shown,
            "compare": compare_data(runs), "styles": strategy_styles(names),
            "models": [*dict.fromkeys(s.model for s in REGISTRY.values()), "other"],
            "metrics": [{"id": m.id, "label": m.label, "log": m.log, "ideal": m.ideal_label} for m in METRICS],
            "facets": FACETS, "claimHeader": CELL_HEADER, "flagText": FLAG_TEXT, "noteText": NOTE_TEXT,
            "strategyOrder": list(REGISTRY)}
