"""The claim on its own era's software: REPORT.md's era section and ``eras.png``, from the results JSON alone.

A run made with ``--era NAME`` (``strategies.eras``) holds, in the same cells as today's rows, the rows of
the same recipes on the era's interpreter and libraries, named ``S@NAME`` and carrying their ``era``
record. This module sets the two side by side.

Rules this module keeps:
- only cells that hold rows of the era are compared, and within a cell only a recipe measured in both eras
  (both rows ok or flagged): the cells were measured interleaved, today's and the era's rows taking turns;
- the claim is judged in each era by ``bench.verdict`` alone: today's readings on today's rows, the same
  readings on the era's rows (``S@NAME`` for each S), in the same cells;
- every ratio is today ÷ era with its 95 % interval (``bench.verdict.compare``: Welch on the logarithms of
  the per-round values), req/s and CPU µs per request; today is labelled with the run's year;
- pure functions of the JSON, but for the chart's file.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from bench import charts, verdict
from bench.record.rows import CellKey, is_measured, measured_summary, round_values, rows_by_cell
from bench.record.schema import EraRecord, Row, Run
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
    rate: verdict.Comparison
    cpu: verdict.Comparison


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
                                verdict.compare(name, round_values(today, "req_per_s"), name,
                                                round_values(old, "req_per_s")),
                                verdict.compare(name, round_values(today, "cpu_us_per_req"), name,
                                                round_values(old, "cpu_us_per_req"))))
    return out


def judged(run: Run, era: str) -> dict[str, list[verdict.CellVerdict]]:
    """Every reading judged in every cell of the era, once on today's rows, once on the era's."""
    out: dict[str, list[verdict.CellVerdict]] = {"today": [], era: []}
    for rows in era_cells(run, era).values():
        for reading in verdict.READINGS:
            out["today"].append(verdict.judge_cell(rows, reading))
            out[era].append(verdict.judge_cell(rows, tuple(twin(name, era) for name in reading)))
    return out


def _plain(text: str, era: str) -> str:
    return text.replace(f"@{era}", "")


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
              f"of the per-round values). `bench/eras.py`."), "", "![eras](eras.png)", ""]
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
    return table + [""]


Counts = dict[tuple[str, str], dict[str, list[int]]]


def verdict_counts(verdicts: dict[str, list[verdict.CellVerdict]], era: str) -> Counts:
    """(profile, "today" or the era) -> reading's name -> [holds, contradicted, not shown, cells judged]."""
    counts: Counts = {}
    for label, mine in verdicts.items():
        for v in mine:
            if v.verdict == "not evaluable":
                continue
            row = counts.setdefault((v.profile, label), {}).setdefault(
                _plain(verdict.reading_name(v.reading), era), [0] * (len(WORDS) + 1))
            row[WORDS.index(v.verdict)] += 1
            row[-1] += 1
    order = {"as-written": 0, "tuned": 1, "today": 0, era: 1}  # the recipes first, today before the era
    return {column: counts[column] for column in sorted(counts, key=lambda c: (order.get(c[0], 2), order[c[1]]))}


def _verdict_table(verdicts: dict[str, list[verdict.CellVerdict]], era: str, now: str) -> list[str]:
    counts = verdict_counts(verdicts, era)
    if not counts:
        return ["**The claim's verdict per era:** not judged (no cell ran every member of a reading).", ""]
    lines = [("**The claim's verdict per era** (cells in which each reading holds / is contradicted / is not "
              "shown, of the cells judged; `bench.verdict`'s rule):"), "",
             "| reading | " + " | ".join(f"{p}, {now if label == 'today' else era}" for p, label in counts) + " |",
             "|---|" + "---|" * len(counts)]
    for reading in map(verdict.reading_name, verdict.READINGS):
        cells_ = [counts[column].get(reading) or [0] * (len(WORDS) + 1) for column in counts]
        lines.append(f"| {reading} | " + " | ".join(" / ".join(map(str, c[:-1])) + f" of {c[-1]}" for c in cells_)
                     + " |")
    lines.append("")
    for label in ("today", era):
        short = [text for record in verdict.step_records(verdicts[label], "as-written")
                 if (text := verdict.step_in_short(record))]
        if short:
            lines += [f"*As written, {now if label == 'today' else era}:* " + _plain("; ".join(short), era) + ".", ""]
    return lines


def _orders(run: Run, era: str, now: str) -> list[str]:
    lines = ["**Measured order of the claim's members, cell by cell** (`>` a difference that counts, `~` none):",
             "", f"| workload | profile | policy | C | {now} | {era} |", "|---|---|---|---|---|---|"]
    for key, rows in era_cells(run, era).items():
        today = verdict.judge_cell(rows, verdict.MEMBERS).order_text
        old = _plain(verdict.judge_cell(rows, tuple(twin(n, era) for n in verdict.MEMBERS)).order_text, era)
        lines.append(f"| {key[0]} | {key[1]} | {key[2]} | {key[3]} | {today} | {old} |")
    return lines + [""]


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
        rates, cpus = [p.rate.ratio for p in mine], [p.cpu.ratio for p in mine]
        lines.append(
            f"| {name} | {len(mine)} | {statistics.median(rates):.2f} ({min(rates):.2f}–{max(rates):.2f}) | "
            f"{sum(p.rate.decisive and p.rate.ratio > 1 for p in mine)} / "
            f"{sum(p.rate.decisive and p.rate.ratio < 1 for p in mine)} | "
            f"{statistics.median(cpus):.2f} ({min(cpus):.2f}–{max(cpus):.2f}) | "
            f"{sum(p.cpu.decisive and p.cpu.ratio < 1 for p in mine)} / "
            f"{sum(p.cpu.decisive and p.cpu.ratio > 1 for p in mine)} |")
    lines += ["", "Every cell (medians over rounds; *peak*: the server's peak in flight, the highest round):", "",
              (f"| cell | recipe | req/s {now} | req/s {era} | {now} ÷ {era} | CPU µs {now} | CPU µs {era} | "
               f"{now} ÷ {era} | peak {now} / {era} |"), "|---|---|---:|---:|---|---:|---:|---|---|"]
    for p in found:
        t, o = measured_summary(p.today), measured_summary(p.old)
        lines.append(
            f"| {p.key[0]} {p.key[1]} {p.key[2]} C={p.key[3]} | {p.strategy} | {t['req_per_s']['median']:,.0f} | "
            f"{o['req_per_s']['median']:,.0f} | {p.rate.interval_text} | {t['cpu_us_per_req']:,.0f} | "
            f"{o['cpu_us_per_req']:,.0f} | {p.cpu.interval_text} | {t['peak_in_flight_max']} / "
            f"{o['peak_in_flight_max']} |")
    return lines + [""]


def draw(run: Run, path: Path) -> Path | None:
    """``eras.png``: on top, the claim's verdict per reading, profile and era (cells where it holds, of those
    judged); below, per (workload, profile, policy) of the era's cells, req/s and CPU µs per request against
    C, today's recipe solid, the era's dotted in the same colour (``charts.style``); None without era rows."""
    era = era_of(run)
    if era is None:
        return None
    rows = [r for rows in era_cells(run, era).values() for r in rows]
    groups = list(dict.fromkeys((r["workload"], r["profile"], r["policy"]) for r in rows))
    groups = [g for g in groups if any(is_measured(r) for r in rows if (r["workload"], r["profile"], r["policy"]) == g)]
    if not groups:
        return None
    now = today_label(run)
    fig = plt.figure(figsize=(12.4, 3.6 * len(groups) + 4.8))
    grid = fig.add_gridspec(len(groups) + 1, 2, height_ratios=[2.4] + [3.6] * len(groups))
    _draw_verdicts(fig.add_subplot(grid[0, :]), verdict_counts(judged(run, era), era), era, now)
    for i, (workload, profile, policy) in enumerate(groups, 1):
        panel = [r for r in rows if (r["workload"], r["profile"], r["policy"]) == (workload, profile, policy)]
        for j, metric in enumerate(charts.METRICS[:2]):
            ax = fig.add_subplot(grid[i, j])
            charts._panel(ax, panel, metric, workload, policy)
            if j == 0 and profile == "as-written":  # the caps, as the server saw them, in both eras
                charts._mark_caps(ax, [r for r in panel if is_measured(r)])
            ax.set_title(f"{workload}, {profile}, {policy}: {metric[2]}", fontsize=9)
    # Each recipe above its era's twin: the legend fills its columns first.
    paired = [name for member in verdict.MEMBERS for name in (member, twin(member, era))]
    names = charts._order([r["strategy"] for r in rows if is_measured(r)], paired)
    height = fig.get_figheight()
    fig.suptitle(f"The claim's recipes on today's stack ({now}: solid, Python {run['machine'].get('python')}) "
                 f"and on the {era} era's (dotted)", y=1.0 - 0.1 / height, fontsize=12)
    handles = charts._legend_handles(names, with_ideal=False)
    handles.append(Line2D([], [], color="grey", linestyle="none", marker="$≤n$", markersize=12,
                          label="≤n: as written, never more than n in flight at the server"))
    fig.legend(handles=handles, loc="upper center", ncol=4, fontsize=8,
               bbox_to_anchor=(0.5, 1.0 - 0.4 / height), frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 1.5 / height))
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _draw_verdicts(ax: Axes, counts: Counts, era: str, now: str) -> None:
    """A table of cells: a reading per line, a (profile, era) per column, labelled "holds / contradicted /
    not shown of judged" and shaded from red (contradicted in every cell) to green (holds in every cell)."""
    readings = [verdict.reading_name(r) for r in verdict.READINGS]
    columns = list(counts)
    ax.set_title("The claim's verdict: cells where it holds / is contradicted / is not shown, of those judged",
                 fontsize=9)
    if not columns:
        ax.text(0.5, 0.5, "not judged: no cell ran every member of a reading", ha="center", va="center",
                color="grey", transform=ax.transAxes)
        ax.set_axis_off()
        return
    empty = [0] * (len(WORDS) + 1)
    balance = [[(c[0] - c[1]) / max(c[-1], 1) for c in (counts[column].get(r) or empty for column in columns)]
               for r in readings]
    ax.imshow(balance, cmap="RdYlGn", vmin=-1, vmax=1, alpha=0.45, aspect="auto")  # pale: the text reads
    for i, reading in enumerate(readings):
        for j, column in enumerate(columns):
            c = counts[column].get(reading) or empty
            ax.text(j, i, " / ".join(map(str, c[:-1])) + f" of {c[-1]}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(columns)), [f"{p}, {now if label == 'today' else era}" for p, label in columns],
                  fontsize=8)
    ax.set_yticks(range(len(readings)), readings, fontsize=8)
