"""The charts of where a request's CPU goes: ``instructions_per_request.png`` (``--instructions``) and
``cpu_breakdown.png`` (``--explain``), from the rows ``bench.analysis.cpu`` chooses.

Rules this module keeps: each chart is drawn only when the run has such rows; one fixed colour per
category in every run.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter

from bench.analysis import cpu
from bench.record.schema import Run
from bench.report.charts.panels import style
from strategies.probes import explain


def draw_instructions(run: Run, path: Path) -> Path | None:
    """One horizontal bar panel per cell: instructions per request, callgrind-counted, each with its ratio to
    the cell's cheapest (linear: the ratios are the point)."""
    cells = cpu.instruction_rows(run)
    if not cells:
        return None
    fig, axes = plt.subplots(len(cells), 1, figsize=(8, 0.45 * sum(map(len, cells.values())) + 1.2 * len(cells)),
                             squeeze=False)
    for ax, (key, rows) in zip(axes[:, 0], cells.items(), strict=True):
        values = [float(count["instructions_per_request"]) for _, count in rows]
        names = [r["strategy"] for r, _ in rows]
        ax.barh(names, values, color=[style(n)["color"] for n in names])
        for y, value in enumerate(values):
            ax.text(value, y, f" {value / 1000:,.0f}k ({value / values[0]:.1f}×)", va="center", fontsize=8)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v / 1000:,.0f}k"))
        ax.invert_yaxis()
        ax.set_xlim(0, max(values) * 1.3)
        ax.set_title(f"{key[0]} workload, {key[1]}, {key[2]}, C={key[3]}", fontsize=10)
    axes[-1, 0].set_xlabel("user-space instructions per request (callgrind; lower is better)")
    fig.suptitle("Instructions per request: the CPU cost no neighbour can disturb", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


#: One fixed colour per category of ``strategies.probes.explain.CATEGORIES``, in every run.
CATEGORY_COLOURS = dict(zip(explain.CATEGORIES, ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#b0b0b0"),
                            strict=True))


def draw_cpu_breakdown(run: Run, path: Path) -> Path | None:
    """``--explain``: one stacked bar per strategy, the profiled round's CPU per request by category (left,
    µs; a black tick at the unprofiled CPU; hatched, child processes, not profiled) and as shares (right)."""
    found = cpu.explained_cell(run)
    if found is None:
        return None
    key, explained = found
    names = [r["strategy"] for r, _ in explained]
    rows = [e for _, e in explained]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 0.36 * len(rows) + 2.2), sharey=True,
                                      gridspec_kw={"width_ratios": (3, 2)})
    starts, shares = [0.0] * len(rows), [0.0] * len(rows)
    for category in explain.CATEGORIES:
        values = [e["categories"][category] for e in rows]
        parts = [v / e["cpu_us_per_req"] * 100 if e["cpu_us_per_req"] else 0.0
                 for v, e in zip(values, rows, strict=True)]
        left.barh(names, values, left=starts, color=CATEGORY_COLOURS[category], label=category)
        right.barh(names, parts, left=shares, color=CATEGORY_COLOURS[category])
        starts = [s + v for s, v in zip(starts, values, strict=True)]
        shares = [s + p for s, p in zip(shares, parts, strict=True)]
    children = [e["children_us_per_req"] for e in rows]
    left.barh(names, children, left=starts, color="white", edgecolor="grey", hatch="///",
              label="child processes (not profiled)")
    for y, e in enumerate(rows):
        unprofiled = e["reference_cpu_us_per_req"] + e["children_us_per_req"]
        left.plot([unprofiled], [y], marker="|", markersize=14, markeredgewidth=2.5, color="black",
                  label="unprofiled CPU" if y == 0 else None)
        left.text(starts[y] + children[y], y, f" ×{e['overhead']:.1f}" if e["overhead"] else "", va="center",
                  fontsize=8)
    left.invert_yaxis()
    left.set_xlim(0, max(s + c for s, c in zip(starts, children, strict=True)) * 1.12)
    left.set_xlabel("CPU µs / request in the profiled round (×: its overhead over the unprofiled one)")
    right.set_xlim(0, 100)
    right.set_xlabel("share of the profiled process's CPU (%)")
    for ax in (left, right):
        ax.grid(True, axis="x", alpha=0.3)
    fig.suptitle(f"Where a request's CPU goes (yappi, profiled round): {key[0]} workload, {key[1]}, {key[2]}, "
                 f"C={key[3]}", fontsize=11)
    fig.legend(loc="lower center", ncol=8, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.35 / fig.get_figheight(), 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
