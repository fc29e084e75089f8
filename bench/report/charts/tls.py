"""``tls_cost.png``: each strategy's client CPU per request over HTTPS ÷ over HTTP (``bench.analysis.tls``).

Rules this module keeps: one panel per (workload, policy), one scale for all (log, 1× marked); a point per
strategy and C with its 95 % interval as a bar, in the strategy's colour and marker (``panels.style``).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.ticker import NullFormatter

from bench.analysis import tls
from bench.record.schema import Run
from bench.report.charts.panels import PLAIN, style

TLS_CHART = "tls_cost.png"


def draw_tls_cost(run: Run, path: Path) -> Path | None:
    """One row of panels, one per (workload, policy): strategies down, the CPU ratio HTTPS ÷ HTTP across (log),
    a point per C with its interval; None when the run has no measured twin pair."""
    pairs = [p for p in tls.twin_pairs(run) if p.cpu is not None]
    if not pairs:
        return None
    panels = list(dict.fromkeys((p.key.workload, p.key.policy, p.key.profile) for p in pairs))
    first = {"throughput": 0, "latency": 1}  # the per-request cost first: there TLS's CPU is the round's
    panels.sort(key=lambda k: (k[2] != "tuned", first.get(k[0], 2), k[0], k[1]))
    names = list(dict.fromkeys(p.strategy for p in pairs))
    levels = sorted({p.key.concurrency for p in pairs})
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 0.35 * len(names) + 1.6),
                             squeeze=False, sharey=True)
    highs = [min(p.cpu.high, 50.0) for p in pairs if p.cpu]
    lows = [max(p.cpu.low, 0.02) for p in pairs if p.cpu]
    for ax, (workload, policy, profile) in zip(axes[0], panels, strict=True):
        for p in (p for p in pairs if (p.key.workload, p.key.policy, p.key.profile) == (workload, policy, profile)):
            assert p.cpu is not None
            y = names.index(p.strategy) + 0.25 * (levels.index(p.key.concurrency) - (len(levels) - 1) / 2)
            st = style(p.strategy)
            ax.errorbar([p.cpu.ratio], [y], xerr=[[p.cpu.ratio - max(p.cpu.low, 0.02)],
                                                  [min(p.cpu.high, 50.0) - p.cpu.ratio]],
                        fmt=st["marker"], color=st["color"], markersize=5, capsize=2, lw=1)
            ax.text(p.cpu.ratio, y, f"  C={p.key.concurrency}", fontsize=6, va="center")
        ax.axvline(1.0, color="grey", lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.set_xlim(min([*lows, 0.9]) / 1.2, max([*highs, 1.1]) * 1.5)
        ax.xaxis.set_major_formatter(PLAIN)
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title(f"{workload}, {profile}, {policy}", fontsize=10)
        ax.set_xlabel("CPU / request: HTTPS ÷ HTTP (log)")
        ax.grid(True, axis="x", alpha=0.3)
    axes[0][0].set_yticks(range(len(names)), names, fontsize=8)
    axes[0][0].invert_yaxis()
    fig.suptitle("What TLS costs the client: CPU per request over HTTPS ÷ over HTTP, same cell, same run "
                 "(95 % intervals)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
