"""``python -m bench.ladder --out DIR``: the model ladder, measured (``bench.sweep.ladder``), then drawn and
printed from its JSON (``bench.report``): ``DIR/model_ladder.json``, ``DIR/model_ladder.png``, the tables.

    python -m bench.ladder --out DIR [--strategies NAME,...] [--levels 10,100] [--requests 4000]
        [--rounds 7] [--instructions-requests 150] [--no-instructions] [--no-rate]

The entry point of the ladder, as ``bench/conftest.py`` is the sweep's: the only module that runs both the
measurement and the report. ``python -m bench.report RUN --out DIR`` adds the ladder's section to REPORT.md
(and ``--readme`` to the README) whenever ``DIR`` holds a ``model_ladder.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.record.ladder import LADDER_FILE, load_ladder
from bench.report.charts.ladder import LADDER_CHART, draw_ladder
from bench.report.sections.ladder import tables
from bench.sweep.ladder import INSTRUCTIONS_REQUESTS, LADDER, LEVELS, REQUESTS, ROUNDS, measure
from strategies import REGISTRY
from strategies.probes.instructions import InstructionsUnavailable, find_valgrind
from strategies.worker.runner import WorkerError


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m bench.ladder",
                                     description="The model ladder: each codec strategy's model alone, then "
                                     "each piece it adds, in instructions and req/s.")
    parser.add_argument("--out", type=Path, required=True, help=f"directory for {LADDER_FILE} and {LADDER_CHART}")
    parser.add_argument("--strategies", default=",".join(LADDER),
                        help=f"codec strategies, comma-separated (default: {','.join(LADDER)})")
    parser.add_argument("--levels", default=",".join(map(str, LEVELS)), help="C levels (default: %(default)s)")
    parser.add_argument("--requests", type=int, default=REQUESTS, help="requests per timed round (%(default)s)")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="timed rounds per step (%(default)s)")
    parser.add_argument("--instructions-requests", type=int, default=INSTRUCTIONS_REQUESTS,
                        help="N of the instruction counts (%(default)s)")
    parser.add_argument("--no-instructions", action="store_true", help="req/s only (no valgrind needed)")
    parser.add_argument("--no-rate", action="store_true", help="instructions only")
    args = parser.parse_args(argv)
    names = [name for name in args.strategies.split(",") if name]
    unknown = [name for name in names if name not in LADDER]
    if unknown:
        parser.error(f"not a codec strategy of the ladder: {unknown[0]!r}; choose from {', '.join(LADDER)}")
    unavailable = [f"{name}: {reason}" for name in names if (reason := REGISTRY[name].unavailable_reason())]
    if unavailable:
        parser.error("; ".join(unavailable))
    try:
        levels = [int(level) for level in args.levels.split(",")]
    except ValueError:
        parser.error(f"--levels takes numbers like 10,100, got {args.levels!r}")
    if args.no_instructions and args.no_rate:
        parser.error("--no-instructions and --no-rate leave nothing to measure")
    if min(args.requests, args.rounds, args.instructions_requests, *levels) < 1:
        parser.error("--requests, --rounds, --instructions-requests and --levels must be >= 1")
    if not args.no_instructions:
        try:
            find_valgrind()
        except InstructionsUnavailable as exc:
            parser.error(f"{exc} (or --no-instructions)")
    try:
        measure(names, levels, args.out, requests=args.requests, rounds=args.rounds,
                instructions_requests=None if args.no_instructions else args.instructions_requests,
                rates=not args.no_rate, command=" ".join(["python -m bench.ladder", *argv]))
    except WorkerError as exc:
        print(f"python -m bench.ladder: {exc}", file=sys.stderr)
        return 1
    ladder = load_ladder(args.out / LADDER_FILE)  # what the report will read: the file, checked
    draw_ladder(ladder, args.out / LADDER_CHART)
    print("\n".join(tables(ladder)))
    return 0 if all(step["errors"] == 0 for step in ladder["steps"]) else 1


if __name__ == "__main__":
    sys.exit(main())
