"""REPORT.md's interpreters section: the same recipe on other interpreters beside today's
(``bench.analysis.pythons``).

Rules this module keeps: every figure is the analysis's; each interpreter is named by its version, today's
too; ratios are the other interpreter ÷ today's with 95 % intervals; the section is empty for a run without
another interpreter's rows.
"""

from __future__ import annotations

import statistics

from bench.analysis.pythons import Pair, interpreters, pairs, skipped, today_python
from bench.record.schema import PythonRecord, Run
from bench.report.sections.markdown import paired_line

#: The section's title counts the interpreters in words up to here.
_WORDS = {2: "two", 3: "three", 4: "four", 5: "five"}


def section(run: Run) -> list[str]:
    records = interpreters(run)
    if not records:
        return []
    now, found = today_python(run), pairs(run)
    count = len(records) + 1
    lines = [f"## The same recipe on {_WORDS.get(count, str(count))} interpreters", "",
             (f"Rows named `S@py3.13` ran today's strategy S — the same worker, recipe and libraries (the "
              "checkout installed editable, with every extra, in a virtualenv per interpreter, "
              f"`strategies/pythons/`) — on that interpreter, in the same cells as today's rows (Python {now}), "
              "taking turns with them; server, workloads, verification and figures are the same. Ratios are "
              f"that interpreter ÷ Python {now}, with 95 % intervals (Welch on the logarithms of the per-round "
              "values): req/s above 1 is faster, CPU µs per request above 1 is costlier. "
              "`bench/analysis/pythons.py`."), "", "![pythons](pythons.png)", ""]
    lines += _interpreters(now, records) + _skipped(run) + _ratio_tables(found, records, now)
    return lines


def _interpreters(now: str, records: dict[str, PythonRecord]) -> list[str]:
    lines = ["| interpreter | version | free-threaded build | GIL on at run time |", "|---|---|---|---|",
             f"| today's | {now} | - | - |"]
    for tag, record in records.items():
        gil = {True: "yes", False: "**no**", None: "-"}[record["gil_enabled"]]
        lines.append(f"| {tag} | {record['version'] or 'not available'} | "
                     f"{'yes' if record['free_threaded'] else 'no'} | {gil} |")
    return [*lines, ""]


def _skipped(run: Run) -> list[str]:
    reasons = skipped(run)
    if not reasons:
        return []
    return (["**Not run on their interpreter** (today's row of the cell ran):", ""]
            + [f"- `{name}`: {reason}" for name, reason in reasons.items()] + [""])


def summary(run: Run) -> list[str]:
    """docs/results.md's copy: the interpreters and the per-strategy table; empty for a run without pairs."""
    records, found = interpreters(run), pairs(run)
    if not found:
        return []
    now = today_python(run)
    versions = ", ".join(f"{tag} = {record['version']}" for tag, record in records.items() if record["version"])
    return [f"Today's rows on Python {now}; {versions}.", "", *_per_strategy(found, records, now)]


def _ratio_tables(found: list[Pair], records: dict[str, PythonRecord], now: str) -> list[str]:
    if not found:
        return ["No strategy was measured on both sides of a cell.", ""]
    lines = _per_strategy(found, records, now)
    lines += ["", ("Every cell (medians over rounds; the ratio with its 95 % interval; *peak*: the server's peak "
                   "in flight, the highest round):"), "",
              (f"| cell | strategy | interpreter | req/s {now} | req/s there | ÷ {now} | CPU µs {now} | "
               f"CPU µs there | ÷ {now} | peak {now} / there |"), "|---|---|---|---:|---:|---|---:|---:|---|---|"]
    lines += [paired_line(p.key, [p.strategy, p.tag], p.today, p.other, p.rate, p.cpu) for p in found]
    return [*lines, ""]


def _per_strategy(found: list[Pair], records: dict[str, PythonRecord], now: str) -> list[str]:
    tags = [tag for tag in records if any(p.tag == tag for p in found)]
    lines = [(f"**Per strategy**, over its cells: median ratio ÷ Python {now} (range over cells), and in how "
              "many cells it changed decisively (≥ 5 % and significant) either way (faster / slower; "
              "cheaper / costlier):"), "",
             "| strategy | " + " | ".join(f"req/s {tag} | CPU µs {tag}" for tag in tags) + " |",
             "|---|" + "---|---|" * len(tags)]
    for name in dict.fromkeys(p.strategy for p in found):
        cells = []
        for tag in tags:
            mine = [p for p in found if p.strategy == name and p.tag == tag]
            cells += [_summary(mine, "rate"), _summary(mine, "cpu")] if mine else ["-", "-"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def _summary(mine: list[Pair], which: str) -> str:
    comparisons = [p.rate if which == "rate" else p.cpu for p in mine]
    ratios = [c.ratio for c in comparisons]
    up = sum(c.decisive and c.ratio > 1 for c in comparisons)
    down = sum(c.decisive and c.ratio < 1 for c in comparisons)
    better, worse = (up, down) if which == "rate" else (down, up)
    only = comparisons[0]
    spread = f" ({min(ratios):.2f}–{max(ratios):.2f})" if len(ratios) > 1 else f" [{only.low:.2f}, {only.high:.2f}]"
    return f"{statistics.median(ratios):.2f}{spread}, {better} / {worse} of {len(ratios)}"
