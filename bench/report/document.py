"""REPORT.md and the charts of a sweep, remade from its results JSON alone (``python -m bench.report``).

Rules this module keeps:
- every number and every sentence about results is computed from the JSON: the analyses
  (``bench.analysis``) say it, the sections (``bench.report.sections``) print it in Markdown, the charts
  (``bench.report.charts``) draw it; the only hand-written text explains definitions and methods;
- a model ladder (``python -m bench.ladder``, a run of its own) in the folder the report is written to
  (``model_ladder.json``) adds its section and its chart, ``model_ladder.png``, beside the sweep's;
- a run with HTTPS rows (``--schemes``) gets the section on what TLS costs (``sections.tls``) and its chart,
  ``tls_cost.png``; every other section and chart reads its HTTP rows (``bench.record.rows.of_scheme``), as
  before HTTPS rows existed, but for the lists of rows that went wrong, which name every row;
- the report is written next to the charts (default: the JSON's directory, or its parent for a file in
  ``runs/``), and links them relatively, so the ``results/`` folder reads well on GitHub.
"""

from __future__ import annotations

from pathlib import Path

from bench.analysis import verdict
from bench.record.ladder import Ladder, ladder_in
from bench.record.rows import of_scheme
from bench.record.runfile import load_run
from bench.record.schema import Run
from bench.record.upgrade import UNFINISHED
from bench.report import charts
from bench.report.charts.ladder import LADDER_CHART, draw_ladder
from bench.report.sections import c10k, costs, cpu, eras, field, ladder, models, pythons, ranking, tls
from bench.report.sections.claim import verdict_section, why_section
from bench.report.sections.run import (
    faults_warning,
    how_to_read,
    machine_section,
    noise_section,
    overhead_section,
    problems_section,
    server_text,
    tables_section,
)


def render(run: Run, chart_files: list[Path], source: str, model_ladder: Ladder | None = None) -> str:
    images = [f"![{p.stem}]({p.name})" for p in chart_files]
    partial = [r for r in run["rows"] if r["reason"] == UNFINISHED]
    not_run = sum(r["status"] == "not_run" for r in run["rows"])
    reached = (f"the {not_run} rows it never reached are listed as not run" if not_run else
               "rows it never reached are not listed")
    head = [f"# concbench results — {run.get('created') or 'unfinished run'}", "",
            *faults_warning(run),
            *([(f"**Partial run:** the sweep stopped before it finished ({len(partial)} row(s) unfinished, "
                f"{len(run['rows'])} rows recorded); {reached}."), ""]
              if run.get("partial") else []),
            (f"Made by `python -m bench.report {source}` from that file alone; nothing below is hand-written "
            f"about the results. Charts: {', '.join(f'[{p.stem}]({p.name})' for p in chart_files)}."), "",
            f"**Server:** {server_text(run['server'])}.", "",
            *([f"**HTTPS server:** {server_text(run['tls_server'])}.", ""] if run.get("tls_server") else [])]
    if images:
        head += [images[-1] if "headline" in chart_files[-1].name else images[0], ""]
    plain = of_scheme(run, "http")
    verdicts = verdict.judge_run(plain)
    body = why_section(plain, verdicts) + verdict_section(plain, verdicts) + tls.section(run)
    body += eras.section(plain) + pythons.section(plain) + machine_section(run)
    body += ranking.section(plain) + c10k.section(plain) + models.section(plain) + field.section(plain)
    body += ladder.section(model_ladder)
    body += costs.section(plain)
    body += noise_section(run) + cpu.instructions_section(plain) + cpu.explain_section(plain)
    body += tables_section(plain) + problems_section(run)
    body += overhead_section(run)
    body += how_to_read() + ["## All charts", ""] + [line for img in images for line in (img, "")]
    return "\n".join(head + body)


def make_report(json_path: Path, out_dir: Path | None = None) -> Path:
    """Charts and REPORT.md for ``json_path``; returns the report's path."""
    run = load_run(json_path)
    if out_dir is None:
        out_dir = json_path.parent.parent if json_path.parent.name == "runs" else json_path.parent
    model_ladder = ladder_in(out_dir)
    files = charts.draw_all(run, out_dir)
    if model_ladder is not None:  # before the headline, which draw_all puts last for the top of the report
        headline = bool(files) and "headline" in files[-1].name
        files.insert(len(files) - headline, draw_ladder(model_ladder, out_dir / LADDER_CHART))
    report = out_dir / "REPORT.md"
    report.write_text(render(run, files, _shown_path(json_path), model_ladder) + "\n")
    return report


def _shown_path(path: Path) -> str:
    """The JSON's path as a reader would type it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
