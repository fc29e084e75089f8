"""``claim.png``: req/s against C for the claim's members, as written and tuned side by side.

Rules this module keeps: close policy only, the one both profiles have; each as-written point where the
server saw fewer than C in flight is marked with the cap it measured (``panels.mark_caps``).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from bench.analysis.claim import MEMBERS
from bench.record.schema import Row, Run
from bench.report.charts.panels import METRICS, drawable, legend_handles, mark_caps, panel, preferred_order

#: The claim chart's panels: (workload, profile), each drawn where the run has its rows; close policy only,
#: the one both profiles have (every as-written recipe opens a connection per request).
CLAIM_PANELS = (("latency", "as-written"), ("latency", "tuned"), ("claim", "as-written"))


def draw_claim(run: Run, path: Path) -> Path | None:
    """req/s against C for the claim's members, as written and tuned side by side; None without rows."""
    def rows_of(workload: str, profile: str) -> list[Row]:
        return [r for r, _ in drawable(run["rows"]) if r["workload"] == workload and r["policy"] == "close"
                and r["profile"] == profile and r["strategy"] in MEMBERS]

    panels = [(w, p, rows_of(w, p)) for w, p in CLAIM_PANELS if rows_of(w, p)]
    if not panels or not any(p == "as-written" for _, p, _ in panels):
        return None
    fig, axes = plt.subplots(1, len(panels), squeeze=False, figsize=(5.6 * len(panels), 5.4))
    shared: list[Axes] = []
    for ax, (workload, profile, rows) in zip(axes[0], panels, strict=True):
        panel(ax, rows, METRICS[0], workload, "close")
        if profile == "as-written":  # tuned rows below C are CPU-bound, not capped: hollow says enough
            mark_caps(ax, rows)
        levels = [r["concurrency"] for r in rows]
        ax.set_xlim(min(levels) / 1.6, max(levels) * 1.9)  # room for the labels right of the last level
        delay = rows[0]["delay_ms"]
        ax.set_title(f"{profile}: {workload} workload, {delay} ms per request, close", fontsize=10)
        if workload == "latency":
            shared.append(ax)
    if len(shared) > 1:  # as-written and tuned on one scale, so the drop from one to the other is visible
        low = min(a.get_ylim()[0] for a in shared)
        high = max(a.get_ylim()[1] for a in shared)
        for a in shared:
            a.set_ylim(low, high)
    names = preferred_order([r["strategy"] for _, _, rows in panels for r in rows], list(MEMBERS))
    handles = legend_handles(names, with_ideal=True)
    handles.append(Line2D([], [], color="grey", linestyle="none", marker="$≤n$", markersize=12,
                          label="≤n: as written, never more than n in flight at the server"))
    fig.suptitle("The claim's members: recipes as written (library defaults) vs tuned (every cap set to C)",
                 y=0.99, fontsize=12)
    fig.legend(handles=handles, loc="upper center", ncol=5, fontsize=9, bbox_to_anchor=(0.5, 0.95),
               frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.84))
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
