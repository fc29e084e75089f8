"""``pythons.png``: each strategy's req/s and CPU µs per request on the other interpreters ÷ today's
(``bench.analysis.pythons``), every cell a point with its 95 % interval.

Rules this module keeps: the strategy's colour (``bench.report.charts.panels.hex_colour``), one marker per
interpreter, the line at 1 (no change) drawn; no chart for a run without another interpreter's rows.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D

from bench.analysis.pythons import Pair, interpreters, pairs, today_python
from bench.record.schema import Run
from bench.report.charts.panels import PLAIN, hex_colour

#: One marker per interpreter, in version order.
_MARKERS = ("o", "s", "D", "^", "v", "P")
#: The width around a strategy's tick its points share: each interpreter a slot of it, its cells spread
#: across the slot (side by side, so that intervals do not hide each other).
_WIDTH = 0.8


def draw(run: Run, path: Path) -> Path | None:
    """Two panels, req/s and CPU µs per request, ratio ÷ today's interpreter against strategy (log scale);
    None when no strategy was measured on both sides of a cell."""
    found = pairs(run)
    if not found:
        return None
    tags = [tag for tag in interpreters(run) if any(p.tag == tag for p in found)]
    names = list(dict.fromkeys(p.strategy for p in found))
    now = today_python(run)
    fig, axes = plt.subplots(1, 2, figsize=(max(10.0, 0.9 * len(names) + 5.0), 4.8), squeeze=False)
    for ax, (which, label) in zip(axes[0], (("rate", "req/s"), ("cpu", "CPU µs per request")), strict=True):
        slot = _WIDTH / len(tags)
        for t, tag in enumerate(tags):
            for s, name in enumerate(names):
                mine = [p for p in found if p.strategy == name and p.tag == tag]
                start = s - _WIDTH / 2 + t * slot
                for c, p in enumerate(mine):
                    _point(ax, p, which, start + (c + 0.5) * slot / len(mine), _MARKERS[t % len(_MARKERS)])
        ax.axhline(1.0, color="grey", linewidth=1, linestyle="--")
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(PLAIN)
        ax.yaxis.set_minor_formatter(PLAIN)
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
        better = "faster" if which == "rate" else "costlier"
        ax.set_ylabel(f"{label}: ÷ Python {now} (above 1: {better})")
        ax.set_title(f"{label}, each cell ÷ Python {now}, with its 95 % interval", fontsize=9)
        ax.grid(True, axis="y", which="both", alpha=0.3)
    versions = interpreters(run)
    handles = [Line2D([], [], color="black", linestyle="none", marker=_MARKERS[t % len(_MARKERS)],
                      label=f"{tag} (Python {versions[tag]['version']})") for t, tag in enumerate(tags)]
    handles.append(Line2D([], [], color="black", linestyle="none", marker="o", markerfacecolor="white",
                          label="hollow: no decisive change (< 5 % or not significant)"))
    fig.suptitle(f"The same recipe on {len(tags) + 1} interpreters: ÷ Python {now}", y=0.98, fontsize=11)
    fig.legend(handles=handles, loc="upper center", ncol=len(handles), fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, 0.93))
    fig.tight_layout(rect=(0, 0, 1, 0.86))
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _point(ax: plt.Axes, pair: Pair, which: str, x: float, marker: str) -> None:
    comparison = pair.rate if which == "rate" else pair.cpu
    colour = hex_colour(pair.strategy)
    low = comparison.low if comparison.low > 0 else comparison.ratio  # one round a side: no interval to draw
    high = comparison.high if math.isfinite(comparison.high) else comparison.ratio
    ax.errorbar([x], [comparison.ratio], yerr=[[comparison.ratio - low], [high - comparison.ratio]], fmt=marker,
                color=colour, markersize=5, elinewidth=0.9, capsize=2,
                markerfacecolor=colour if comparison.decisive else "white")
