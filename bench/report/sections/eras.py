"""REPORT.md's era section: the claim on its own era's software beside today's (``bench.analysis.eras``).

Rules this module keeps: every figure and verdict is the analysis's; today is labelled with the run's year;
the section is empty for a run without an era's rows.
"""

from __future__ import annotations

from bench.analysis.claim import MEMBERS, READINGS, reading_name
from bench.analysis.eras import (
    WORDS,
    Pair,
    era_cells,
    era_of,
    judged,
    pairs,
    plain,
    today_label,
    verdict_counts,
)
from bench.analysis.verdict import CellVerdict, judge_cell, step_in_short, step_records
from bench.record.schema import EraRecord, Run
from bench.report.sections.markdown import paired_line, ratios_cells
from strategies.eras import split, twin


def section(run: Run) -> list[str]:
    era = era_of(run)
    if era is None:
        return []
    now, found = today_label(run), pairs(run, era)
    verdicts = judged(run, era)
    records = {row["strategy"]: record for row in run["rows"] if (record := row.get("era"))}
    python = next(iter(records.values()))["python"]
    lines = [f"## The claim on its own era's software: {era} beside {now}", "",
             (f"Rows named `S@{era}` ran recipe S on Python {python} with the {era} era's libraries "
              f"(`eras/{era}/era.toml`, exact pins), in the same cells as today's rows (Python "
              f"{run['machine'].get('python')}), the two taking turns; server, workloads, verification and "
              f"figures are the same. Ratios are {now} ÷ {era}, with 95 % intervals (Welch on the logarithms "
              f"of the per-round values). `bench/analysis/eras.py`."), "", "![eras](eras.png)", ""]
    lines += _libraries(run, records, era, now) + _verdict_table(verdicts, era, now)
    lines += _orders(run, era, now) + _ratio_tables(found, era, now)
    return lines


def _libraries(run: Run, records: dict[str, EraRecord], era: str, now: str) -> list[str]:
    table = ["| recipe | " + now + " | " + era + " |", "|---|---|---|"]
    for name, record in records.items():
        base = split(name)[0]
        old = ", ".join(f"{lib} {v}" for lib, v in record["libraries"].items() if v)
        new = ", ".join(f"{lib} {run['libraries'].get(lib)}" for lib in record["libraries"] if run["libraries"].get(lib))
        table.append(f"| {base} | {new or '-'} | {old or '-'} |")
    return [*table, ""]


def _verdict_table(verdicts: dict[str, list[CellVerdict]], era: str, now: str) -> list[str]:
    counts = verdict_counts(verdicts, era)
    if not counts:
        return ["**The claim's verdict per era:** not judged (no cell ran every member of a reading).", ""]
    lines = [("**The claim's verdict per era** (cells in which each reading holds / is contradicted / is not "
              "shown, of the cells judged; `bench.analysis.verdict`'s rule):"), "",
             "| reading | " + " | ".join(f"{p}, {now if label == 'today' else era}" for p, label in counts) + " |",
             "|---|" + "---|" * len(counts)]
    for reading in map(reading_name, READINGS):
        cells_ = [counts[column].get(reading) or [0] * (len(WORDS) + 1) for column in counts]
        lines.append(f"| {reading} | " + " | ".join(" / ".join(map(str, c[:-1])) + f" of {c[-1]}" for c in cells_)
                     + " |")
    lines.append("")
    for label in ("today", era):
        short = [text for record in step_records(verdicts[label], "as-written")
                 if (text := step_in_short(record))]
        if short:
            lines += [f"*As written, {now if label == 'today' else era}:* " + plain("; ".join(short), era) + ".", ""]
    return lines


def _orders(run: Run, era: str, now: str) -> list[str]:
    lines = ["**Measured order of the claim's members, cell by cell** (`>` a difference that counts, `~` none):",
             "", f"| workload | profile | policy | C | {now} | {era} |", "|---|---|---|---|---|---|"]
    for key, rows in era_cells(run, era).items():
        today = judge_cell(rows, MEMBERS).order_text
        old = plain(judge_cell(rows, tuple(twin(n, era) for n in MEMBERS)).order_text, era)
        lines.append(f"| {key[0]} | {key[1]} | {key[2]} | {key[3]} | {today} | {old} |")
    return [*lines, ""]


def _ratio_tables(found: list[Pair], era: str, now: str) -> list[str]:
    if not found:
        return []
    lines = [(f"**The same recipe in both eras**, per recipe over its cells: median {now} ÷ {era} of req/s and "
              "of CPU µs per request (range), and in how many cells each changed decisively (≥ 5 % and "
              "significant) either way:"), "",
             (f"| recipe | cells | req/s {now} ÷ {era} | faster / slower | CPU µs {now} ÷ {era} | "
              "cheaper / costlier |"), "|---|---|---|---|---|---|"]
    for name in dict.fromkeys(p.strategy for p in found):
        mine = [p for p in found if p.strategy == name]
        cells = ratios_cells([p.rate for p in mine], [p.cpu for p in mine])
        lines.append(f"| {name} | {len(mine)} | " + " | ".join(cells) + " |")
    lines += ["", "Every cell (medians over rounds; *peak*: the server's peak in flight, the highest round):", "",
              (f"| cell | recipe | req/s {now} | req/s {era} | {now} ÷ {era} | CPU µs {now} | CPU µs {era} | "
               f"{now} ÷ {era} | peak {now} / {era} |"), "|---|---|---:|---:|---|---:|---:|---|---|"]
    lines += [paired_line(p.key, [p.strategy], p.today, p.old, p.rate, p.cpu) for p in found]
    return [*lines, ""]
