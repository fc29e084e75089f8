"""REPORT.md's model × stack section: per throughput cell, each model's codec row and its library rows
(``bench.analysis.models``), with the ratios of CPU per request and req/s.

Rules this module keeps: every figure is the analysis's; the section is empty without such cells.
"""

from __future__ import annotations

from bench.analysis.models import model_cells
from bench.record.schema import Run


def section(run: Run) -> list[str]:
    """REPORT.md's model × stack section: one table per cell."""
    cells = model_cells(run)
    if not cells:
        return []
    lines = ["## The model apart from its HTTP library", "",
             ("Each model runs with our sans-IO codec (`strategies/http1.py` over the model's own sockets: the "
              "*codec* rows) and with the library its users reach for. On the throughput workload (no delay) "
              "CPU per request is all a round costs, so the codec row measures the model and the difference is "
              "the library's own cost. Ratios are the library row over the model's codec row in the same cell, "
              "with 95 % intervals (Welch on log per-round values). `bench/analysis/models.py`."), "",
             "![model_vs_library](model_vs_library.png)", ""]
    for (_, _, policy, c, _), stacks in cells.items():
        lines += [f"**{policy}, C={c}:**", "",
                  ("| model | stack | strategy | CPU µs / request | req/s | library's own µs / request | "
                   "CPU × codec | req/s × codec |"), "|---|---|---|---:|---:|---:|---|---|"]
        for s in stacks:
            own = f"{s.library_us:,.0f}" if s.library_us is not None else ""
            lines.append(f"| {s.model} | {s.stack} | `{s.strategy}` | {s.cpu_us_per_req:,.0f} | "
                         f"{s.req_per_s:,.0f} | {own} | {s.cpu_ratio.interval_text if s.cpu_ratio else ''} | "
                         f"{s.rate_ratio.interval_text if s.rate_ratio else ''} |")
        lines.append("")
    return lines
