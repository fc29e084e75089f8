"""``model_vs_library.png``: each model's strategies as bars of CPU per request (``bench.analysis.models``).

Rules this module keeps: one scale for all panels; a model's codec row hatched and first.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.ticker import NullFormatter

from bench.analysis import models
from bench.record.schema import Run
from bench.report.charts.panels import PLAIN, preferred_order, style
from strategies import CODEC


def draw_model_vs_library(run: Run, path: Path) -> Path | None:
    """Model × stack (``bench.analysis.models``): one row of panels per policy, one column per C; in each, every
    model's strategies as horizontal bars of CPU µs per request (log, one scale for all panels), its codec
    row hatched and first, each bar labelled with its req/s."""
    cells = models.model_cells(run)
    if not cells:
        return None
    policies = preferred_order([key[2] for key in cells], ["keepalive", "close"])
    levels = sorted({key[3] for key in cells})
    bars = max(map(len, cells.values()))
    fig, axes = plt.subplots(len(policies), len(levels), figsize=(4.6 * len(levels), (0.26 * bars + 1.2) * len(policies)),
                             squeeze=False, sharex=True)
    values = [s.cpu_us_per_req for stacks in cells.values() for s in stacks]
    for (i, policy), (j, level) in itertools.product(enumerate(policies), enumerate(levels)):
        ax, key = axes[i, j], next((k for k in cells if k[2] == policy and k[3] == level), None)
        if key is None:
            ax.set_axis_off()
            continue
        stacks = cells[key]
        ax.barh([f"{s.model}: {s.strategy}" for s in stacks], [s.cpu_us_per_req for s in stacks],
                color=[style(s.strategy)["color"] for s in stacks],
                hatch=[("//" if s.stack == CODEC else "") for s in stacks], edgecolor="white")
        for y, s in enumerate(stacks):
            ax.text(s.cpu_us_per_req, y, f" {s.req_per_s / 1000:,.1f}k/s", va="center", fontsize=7)
        ax.set_xscale("log")
        ax.set_xlim(min(values) / 1.5, max(values) * 5)
        ax.xaxis.set_major_formatter(PLAIN)
        ax.xaxis.set_minor_formatter(NullFormatter())  # decades only: the 2s and 5s collide in a narrow panel
        ax.invert_yaxis()
        ax.tick_params(axis="y", labelsize=7)
        ax.set_title(f"{policy}, C={level}", fontsize=10)
        ax.grid(True, axis="x", which="major", alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("client CPU µs / request (log)")
    fig.suptitle("The model apart from its HTTP library: throughput workload, tuned. Bars: CPU per request "
                 "(lower is better), hatched for our codec; labels: req/s", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.4 / fig.get_figheight()))  # the title's 0.4 inch kept clear
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
