"""``rss_per_connection.png``: client memory per in-flight connection against C (``bench.analysis.c10k``).

Rules this module keeps: drawn only for a run with rows above the default sweep's levels, every level of
their workload and policy (peak RSS / C, ``bench.record.rows.rss_per_connection_kib``), tuned profile.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.ticker import NullLocator

from bench.analysis import c10k
from bench.record.rows import rss_per_connection_kib
from bench.record.schema import Run
from bench.report.charts.panels import MINOR, PLAIN, drawable, legend_handles, preferred_order, style
from bench.sweep.plan import DEFAULT_TOP
from strategies import REGISTRY


def draw_rss_per_connection(run: Run, path: Path) -> Path | None:
    """Client memory per in-flight connection against C, log-log: one panel per (workload, policy) with
    rows above the default sweep's levels, one line per strategy; None when the run has no such rows."""
    groups = c10k.groups(run, DEFAULT_TOP)
    if not groups:
        return None
    fig, axes = plt.subplots(1, len(groups), squeeze=False, figsize=(max(6.8 * len(groups), 10), 5.4))  # room for the legend
    drawn: list[str] = []
    for ax, (workload, policy) in zip(axes[0], groups, strict=True):
        rows = [r for r, _ in drawable(run["rows"]) if r["workload"] == workload and r["policy"] == policy
                and r["profile"] == "tuned" and rss_per_connection_kib(r)]
        for name in preferred_order([r["strategy"] for r in rows], list(REGISTRY)):
            mine = sorted((r for r in rows if r["strategy"] == name), key=lambda r: r["concurrency"])
            st, xs = style(name), [r["concurrency"] for r in mine]
            ax.plot(xs, [rss_per_connection_kib(r) for r in mine], color=st["color"], linestyle=st["linestyle"],
                    linewidth=1.4)
            for row in mine:
                hollow = row["status"] == "flagged"
                ax.plot([row["concurrency"]], [rss_per_connection_kib(row)], linestyle="none", marker=st["marker"],
                        markersize=11 if hollow else 7, color=st["color"],
                        markerfacecolor="white" if hollow else st["color"], markeredgewidth=1.2, zorder=3)
            drawn.append(name)
        levels = sorted({r["concurrency"] for r in rows})
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(PLAIN)
        ax.yaxis.set_minor_formatter(MINOR)
        if levels:
            ax.set_xticks(levels, [f"{c:,}" for c in levels])
            ax.xaxis.set_minor_locator(NullLocator())
        ax.set_title(f"{workload} workload, {policy}", fontsize=10)
        ax.set_xlabel("concurrency C (connections in flight, log scale)")
        ax.set_ylabel("peak RSS / C (KiB per connection, log)")
        ax.grid(True, which="major", alpha=0.3)
    fig.suptitle("Client memory per in-flight connection: peak RSS (worst round) / C, tuned", y=0.99, fontsize=12)
    fig.legend(handles=legend_handles(list(dict.fromkeys(drawn)), with_ideal=False), loc="upper center", ncol=6,
               fontsize=9, bbox_to_anchor=(0.5, 0.95), frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.89))
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
