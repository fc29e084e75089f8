"""One PNG per metric (``throughput.png``, ``cpu_per_request.png``, ``peak_rss.png``, ``p99_latency.png``,
``headline.png``, ``web_p99.png``): a grid of panels, one row per workload, one column per connection policy.

Rules this module keeps: the metric charts draw the ``tuned`` profile, one line per strategy
(``bench.report.charts.panels``); the figures are the rows' summaries alone.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from bench.record.schema import Run
from bench.report.charts.panels import WEB_P99, Metric, drawable, legend_handles, panel, preferred_order
from strategies import REGISTRY


def draw_metric(run: Run, metric: Metric, path: Path, workloads: list[str] | None = None) -> Path:
    rows = [r for r in run["rows"] if r["profile"] == "tuned"]
    workloads = workloads or preferred_order([r["workload"] for r in rows], ["latency", "throughput", "payload"])
    policies = preferred_order([r["policy"] for r in rows], ["keepalive", "close"])
    fig, axes = plt.subplots(len(workloads), len(policies), squeeze=False,
                             figsize=(max(6.2 * len(policies), 13), 4.2 * len(workloads) + 0.8))  # room for the legend
    for i, workload in enumerate(workloads):
        for j, policy in enumerate(policies):
            mine = [r for r in rows if r["workload"] == workload and r["policy"] == policy]
            panel(axes[i][j], mine, metric, workload, policy)
    strategies = preferred_order([r["strategy"] for r, _ in drawable(rows)], list(REGISTRY))
    with_ideal = metric[0] == "throughput" and any(summary["ideal_s"] for r in rows if r["workload"] in workloads
                                                   and (summary := r["summary"]))
    machine = run.get("machine", {})
    height = fig.get_figheight()
    fig.suptitle(f"{metric[1]}, tuned profile — {machine.get('cpu_count', '?')} CPUs, "
                 f"Python {machine.get('python', '?')}",
                 y=1.0 - 0.1 / height, va="top", fontsize=12)
    fig.legend(handles=legend_handles(strategies, with_ideal, metric is WEB_P99), loc="upper center", ncol=6,
               fontsize=9,
               bbox_to_anchor=(0.5, 1.0 - 0.4 / height), frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.8 / height))
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
