"""Charts of a sweep, drawn with matplotlib (Agg) from the results JSON alone: the report layer's only
module family that imports matplotlib (``tests/test_layers.py``).

- ``panels``: what every chart is made of, and each strategy's look;
- ``metrics``: one PNG per metric (throughput, CPU, memory, p99; the headline; the web p99);
- ``claim``, ``eras``, ``pythons``, ``c10k``, ``models``, ``cpu``, ``tls``: the charts of those analyses; ``ladder``: the model
  ladder's (``bench.record.ladder``, a run of its own), drawn by ``bench.report.document`` when the report's
  folder holds one.

Rules this package keeps: a chart is made from the run alone; ``draw_all`` makes every chart the run has
rows for and returns their files, the headline last (REPORT.md shows it on top); every chart but ``tls``'s
draws the run's HTTP rows (``bench.record.rows.of_scheme``: a row's HTTPS twin would double its line).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display: the sweep runs headless (CI, ssh); before any pyplot import

from bench.record.rows import of_scheme
from bench.record.schema import Run
from bench.report.charts import c10k, claim, cpu, eras, metrics, models, pythons, tls
from bench.report.charts.panels import METRICS, WEB_P99, drawable


def draw_all(run: Run, out_dir: Path) -> list[Path]:
    """Every chart of the run into ``out_dir``; returns the files written.

    matplotlib's layout divides by an axes' height, which is zero for a degenerate panel; on some partial
    runs (a sweep interrupted after a few rows) numpy then warns "divide by zero" from inside
    ``matplotlib.transforms``, and under pytest's ``filterwarnings = error`` that warning alone failed the
    interrupted sweep's report. Only those arithmetic warnings, raised inside matplotlib, are ignored here.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"matplotlib\.")
        return _draw_all(run, out_dir)


def _draw_all(every: Run, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    run = of_scheme(every, "http")
    tuned = any(r["profile"] == "tuned" for r in run["rows"])  # none: no panel to draw
    paths = [metrics.draw_metric(run, metric, out_dir / f"{metric[0]}.png") for metric in METRICS] if tuned else []
    for extra in (claim.draw_claim(run, out_dir / "claim.png"), eras.draw(run, out_dir / "eras.png"),
                  pythons.draw(run, out_dir / "pythons.png"),
                  cpu.draw_instructions(run, out_dir / "instructions_per_request.png"),
                  models.draw_model_vs_library(run, out_dir / "model_vs_library.png"),
                  cpu.draw_cpu_breakdown(run, out_dir / "cpu_breakdown.png"),
                  c10k.draw_rss_per_connection(run, out_dir / "rss_per_connection.png"),
                  tls.draw_tls_cost(every, out_dir / tls.TLS_CHART)):
        if extra is not None:
            paths.append(extra)
    if any(r["workload"] == "web" and r["profile"] == "tuned" for r, _ in drawable(run["rows"])):
        paths.append(metrics.draw_metric(run, WEB_P99, out_dir / "web_p99.png", workloads=["web"]))
    if tuned and any(r["workload"] == "latency" for r in run["rows"]):  # last: REPORT.md shows it on top
        paths.append(metrics.draw_metric(run, METRICS[0], out_dir / "headline.png", workloads=["latency"]))
    return paths
