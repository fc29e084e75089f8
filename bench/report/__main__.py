"""``python -m bench.report RUN.json [--out DIR] [--readme README.md]``: REPORT.md and the charts of a run,
remade from its JSON alone (``bench.report.document``), and the results page over every run of the results
folder and this one (``bench.report.page``: ``results/index.html`` for ``results/c10k/latest.json``); with
``--readme``, also the README's generated sections (``bench.report.readme``; the model ladder's when the
report's folder holds a ``model_ladder.json``)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bench.record.ladder import LADDER_FILE, ladder_in
from bench.record.runfile import load_run
from bench.report.charts.ladder import LADDER_CHART
from bench.report.document import make_report
from bench.report.page.document import write_index
from bench.report.page.runs import results_root
from bench.report.readme import update_readme


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report",
                                     description="REPORT.md and the charts of a sweep, remade from its results "
                                                 "JSON alone.")
    parser.add_argument("json", type=Path, help="results JSON written by the sweep, e.g. results/latest.json")
    parser.add_argument("--out", type=Path, default=None, help="directory for REPORT.md and the PNGs")
    parser.add_argument("--readme", type=Path, default=None,
                        help="also rewrite this README's generated section from the run")
    args = parser.parse_args(argv)
    try:
        report = make_report(args.json, args.out)
        write_index(results_root(report.parent), also=args.json)
        if args.readme is not None:
            home = args.readme.resolve().parent
            folder = report.resolve().parent
            chart = os.path.relpath(folder / "claim.png", home)
            found = ladder_in(folder)
            ladder = None if found is None else (found, os.path.relpath(folder / LADDER_CHART, home),
                                                 os.path.relpath(folder / LADDER_FILE, home))
            update_readme(args.readme, load_run(args.json), chart, os.path.relpath(args.json.resolve(), home),
                          ladder)
    except (OSError, ValueError, KeyError) as exc:
        print(f"bench.report: {exc}", file=sys.stderr)
        return 1
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
