"""``eras.png``: the claim's verdict per era, and today's recipes beside the era's (``bench.analysis.eras``).

Rules this module keeps: drawn with the panels every chart uses (``bench.report.charts.panels``), today's
recipe solid, the era's dotted in the same colour; no chart for a run without an era's rows.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from bench.analysis.claim import MEMBERS, READINGS, reading_name
from bench.analysis.eras import WORDS, Counts, era_cells, era_of, judged, today_label, verdict_counts
from bench.record.rows import is_measured
from bench.record.schema import Run
from bench.report.charts.panels import METRICS, legend_handles, mark_caps, panel, preferred_order
from strategies.eras import twin


def draw(run: Run, path: Path) -> Path | None:
    """``eras.png``: on top, the claim's verdict per reading, profile and era (cells where it holds, of those
    judged); below, per (workload, profile, policy) of the era's cells, req/s and CPU µs per request against
    C, today's recipe solid, the era's dotted in the same colour (``panels.style``); None without era rows."""
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
        mine = [r for r in rows if (r["workload"], r["profile"], r["policy"]) == (workload, profile, policy)]
        for j, metric in enumerate(METRICS[:2]):
            ax = fig.add_subplot(grid[i, j])
            panel(ax, mine, metric, workload, policy)
            if j == 0 and profile == "as-written":  # the caps, as the server saw them, in both eras
                mark_caps(ax, [r for r in mine if is_measured(r)])
            ax.set_title(f"{workload}, {profile}, {policy}: {metric[2]}", fontsize=9)
    # Each recipe above its era's twin: the legend fills its columns first.
    paired = [name for member in MEMBERS for name in (member, twin(member, era))]
    names = preferred_order([r["strategy"] for r in rows if is_measured(r)], paired)
    height = fig.get_figheight()
    fig.suptitle(f"The claim's recipes on today's stack ({now}: solid, Python {run['machine'].get('python')}) "
                 f"and on the {era} era's (dotted)", y=1.0 - 0.1 / height, fontsize=12)
    handles = legend_handles(names, with_ideal=False)
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
    readings = [reading_name(r) for r in READINGS]
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
