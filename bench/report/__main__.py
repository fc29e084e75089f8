"""``python -m bench.report RUN.json [--out DIR] [--readme README.md]``: REPORT.md and the charts of a run,
remade from its JSON alone (``bench.report.document``), and the results page over every run of the results
folder and this one (``bench.report.page``: ``results/index.html`` for ``results/c10k/latest.json``); with
``--readme FILE``, also the generated sections FILE holds (``bench.report.readme``: README.md's claim and,
when the report's folder holds a ``model_ladder.json``, the model ladder; docs/results.md's models and
instructions, from the runs that have them)."""

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
                        help="also rewrite the generated sections this file holds (README.md, docs/results.md) "
                             "from the run")
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
            for line in update_readme(args.readme, load_run(args.json), chart,
                                      os.path.relpath(args.json.resolve(), home), ladder):
                print(line, file=sys.stderr)
    except (OSError, ValueError, KeyError) as exc:
        print(f"bench.report: {exc}", file=sys.stderr)
        return 1
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
