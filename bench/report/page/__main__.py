"""``python -m bench.report.page RESULTS [--also RUN.json]``: ``RESULTS/index.html`` over every run under the
results folder (``bench.report.page.document.write_index``), without remaking any REPORT.md."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.report.page.document import write_index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report.page",
                                     description="One offline page over every run under a results folder.")
    parser.add_argument("root", type=Path, help="the results folder, e.g. results")
    parser.add_argument("--also", type=Path, default=None, help="a run to include that is not under it")
    args = parser.parse_args(argv)
    return 0 if write_index(args.root, args.also) is not None else 1


if __name__ == "__main__":
    raise SystemExit(main())
