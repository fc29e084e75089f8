"""The model ladder: what each concurrency model costs alone, and what each piece of a codec strategy adds.

    python -m strategies.components ladder --out DIR [--strategies NAME,...] [--levels 10,100]
        [--requests 4000] [--rounds 7] [--instructions-requests 150] [--no-instructions] [--no-rate]

For every codec strategy (one per model, ``LADDER``) and every C of ``--levels``, on the throughput
workload (keep-alive, no delay, 64-byte bodies), five rungs, each the strategy's own code
(``strategies._codec.RUNGS``, hosted by ``strategies.ladder_worker``; the last the registered strategy in
its own worker):

- ``bare``: C workers of the model, each sending the request's bytes on a connection of its own and reading
  the response framed by its length (``BareCodec``): the model alone, with the status and length checked;
- ``codec``: + our HTTP codec (``strategies.http1``: ``split_url``, ``build_request``, ``ResponseParser``);
- ``deadline``: + the total deadline per request, the model's way;
- ``record``: + an ``Outcome`` per request, its latency and body, for the worker's verification;
- ``strategy``: the registered strategy through its ``Fetcher``, which is ``record``'s code.

Two measures per rung (``Step``):
- instructions per request: ``strategies.instructions.count_instructions`` on the rung's worker under
  callgrind (N = ``--instructions-requests``, its fetch of N and 3N counted, (I3N - IN) / 2N);
- req/s: the bundled server pinned to one CPU and every rung's worker to another (``pinning``), all five
  workers alive at once, a warm-up round each, then ``--rounds`` rounds of each, interleaved round by round
  (the order rotated every round, so no rung always follows the same one); the median and the range.

Output in ``--out``: ``model_ladder.json`` (``strategies.ladder_analysis``'s schema, readable without
re-running), ``model_ladder.png`` (``strategies.ladder_chart``) and the tables printed
(``strategies.ladder_analysis.markdown``).

Rules this module keeps:
- every rung verifies every response (``strategies.ladder_worker``); a rung with errors is recorded with
  them, never dropped, and the table marks it;
- the JSON is written after each strategy, so an interrupted run keeps what it measured;
- every wait has a deadline: a round's is the runner's (``Workload.deadline_s``), a count's its own.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path

from local_server.api import ServerProcess
from strategies import REGISTRY
from strategies.instructions import InstructionsUnavailable, count_instructions, find_valgrind
from strategies.ladder_analysis import SCHEMA, STEP_NAMES, Ladder, Rate, Step, markdown
from strategies.runner import WorkerError, WorkerProcess
from strategies.workload import Workload, request_timeout_s

#: The codec strategy of each model, in the order the table lists them: the models the ladder climbs.
LADDER = ("threads-raw", "processes-raw", "gevent-raw", "asyncio", "uvloop", "tornado-raw", "twisted-raw",
          "select", "epoll")
#: What each step adds, for the table's and the JSON's readers.
ADDS = {
    "bare": "C workers of the model, each sending the request on a connection of its own and reading a "
            "response framed by its length: the model alone (status and length checked)",
    "codec": "+ our HTTP codec: split_url, build_request, ResponseParser",
    "deadline": "+ a total deadline per request, the model's way",
    "record": "+ an Outcome per request: latency and body, verified after the round",
    "strategy": "the registered strategy through its Fetcher",
}
#: The workload: the throughput workload's (``bench.plan``), keep-alive, the issue's C levels.
LEVELS = (10, 100)
#: Requests per timed round: at 10,000-50,000 req/s a round of 4,000 takes 0.1-0.4 s, long enough that the
#: round's fixed costs (the command, C workers started) are a few percent, short enough for 7 rounds of 5
#: rungs of 9 strategies at 2 levels in about three minutes.
REQUESTS = 4000
#: Rounds per rung: an odd number, so the median is a round's; 7 gives a range that one disturbed round
#: widens but does not move the median.
ROUNDS = 7
#: N of the instruction count, as ``strategies.instructions.DEFAULT_REQUESTS`` (why 150: there).
INSTRUCTIONS_REQUESTS = 150
SIZE = 64


def rung_command(name: str, rung: str) -> list[str] | None:
    """The worker command of ``name``'s ``rung`` (None for the strategy's own worker)."""
    if rung == "strategy":
        return None
    return [sys.executable, "-m", "strategies.ladder_worker", name, rung, str(SIZE)]


def pinning() -> tuple[list[int] | None, set[int] | None]:
    """(the server's CPUs, the workers' CPUs): one CPU each, the first two this process may use; None and
    None on a single CPU, where they can only share it."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    return [cpus[0]], {cpus[1]}


def measure_rates(name: str, url: str, concurrency: int, requests: int, rounds: int,
                  cpus: set[int] | None) -> dict[str, tuple[Rate, int, dict[str, int]]]:
    """step -> (its req/s, its errors, their kinds) for strategy ``name`` at ``concurrency``: every step's
    worker alive at once, a warm-up round each, then ``rounds`` rounds interleaved."""
    workload = Workload(url, requests, concurrency, policy="keepalive", delay_ms=0, size=SIZE,
                        timeout_s=request_timeout_s(concurrency))
    rates: dict[str, list[float]] = {step: [] for step in STEP_NAMES}
    errors = {step: 0 for step in STEP_NAMES}
    kinds: dict[str, dict[str, int]] = {step: {} for step in STEP_NAMES}
    with ExitStack() as stack:
        workers = {step: stack.enter_context(WorkerProcess(name, cpus=cpus, command=rung_command(name, step)))
                   for step in STEP_NAMES}
        for worker in workers.values():
            worker.run_round(workload, server_stats=False)  # warm-up: connections, first-use costs
        for number in range(rounds):
            order = STEP_NAMES[number % len(STEP_NAMES):] + STEP_NAMES[:number % len(STEP_NAMES)]
            for step in order:
                result = workers[step].run_round(workload, server_stats=False)
                rates[step].append(result.req_per_s or 0.0)
                errors[step] += result.errors
                for kind, count in result.error_kinds.items():
                    kinds[step][kind] = kinds[step].get(kind, 0) + count
    return {step: (_rate(rates[step]), errors[step], kinds[step]) for step in STEP_NAMES}


def _rate(values: Sequence[float]) -> Rate:
    return Rate(median=statistics.median(values), low=min(values), high=max(values), rounds=list(values))


def measure(names: Sequence[str], levels: Sequence[int], out: Path, *, requests: int = REQUESTS,
            rounds: int = ROUNDS, instructions_requests: int | None = INSTRUCTIONS_REQUESTS,
            rates: bool = True, command: str = "") -> Ladder:
    """Climb the ladder of each of ``names`` at each C of ``levels``; write ``out/model_ladder.json`` after
    each strategy and return the whole."""
    server_cpus, worker_cpus = pinning()
    ladder = Ladder(
        schema=SCHEMA, created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), command=command,
        machine={"platform": platform.platform(), "python": platform.python_version(),
                 "cpus": len(os.sched_getaffinity(0)), "server_cpus": server_cpus,
                 "worker_cpus": sorted(worker_cpus) if worker_cpus else None},
        workload={"policy": "keepalive", "delay_ms": 0, "size": SIZE, "requests": requests, "rounds": rounds,
                  "instructions_requests": instructions_requests, "levels": list(levels)},
        adds=dict(ADDS), steps=[],
    )
    with ServerProcess(cpus=server_cpus) as server:
        for name in names:
            for concurrency in levels:
                measured = measure_rates(name, server.url, concurrency, requests, rounds, worker_cpus) \
                    if rates else {}
                for step in STEP_NAMES:
                    rate, errors, kinds = measured.get(step, (None, 0, {}))
                    count = None
                    if instructions_requests:
                        workload = Workload(server.url, instructions_requests, concurrency, policy="keepalive",
                                            delay_ms=0, size=SIZE, timeout_s=request_timeout_s(concurrency))
                        count = count_instructions(name, workload, cpus=worker_cpus,
                                                   command=rung_command(name, step))
                        errors += count.errors
                        for kind, n in count.error_kinds.items():
                            kinds[kind] = kinds.get(kind, 0) + n
                    ladder.steps.append(Step(
                        strategy=name, model=REGISTRY[name].model, concurrency=concurrency, step=step,
                        instructions_per_request=count.instructions_per_request if count else None,
                        rate=rate, errors=errors, error_kinds=kinds,
                    ))
                    print(f"{name} C={concurrency} {step}: "
                          f"{count.instructions_per_request if count else float('nan'):,.0f} instructions, "
                          f"{rate.median if rate else float('nan'):,.0f} req/s, {errors} errors", flush=True)
            write(ladder, out)
    return ladder


def write(ladder: Ladder, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "model_ladder.json"
    path.write_text(json.dumps(asdict(ladder), indent=1) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m strategies.components ladder",
                                     description="The model ladder: each codec strategy's model alone, then "
                                     "each piece it adds, in instructions and req/s.")
    parser.add_argument("--out", type=Path, required=True, help="directory for model_ladder.json and .png")
    parser.add_argument("--strategies", default=",".join(LADDER),
                        help=f"codec strategies, comma-separated (default: {','.join(LADDER)})")
    parser.add_argument("--levels", default=",".join(map(str, LEVELS)), help="C levels (default: %(default)s)")
    parser.add_argument("--requests", type=int, default=REQUESTS, help="requests per timed round (%(default)s)")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="timed rounds per rung (%(default)s)")
    parser.add_argument("--instructions-requests", type=int, default=INSTRUCTIONS_REQUESTS,
                        help="N of the instruction counts (%(default)s)")
    parser.add_argument("--no-instructions", action="store_true", help="req/s only (no valgrind needed)")
    parser.add_argument("--no-rate", action="store_true", help="instructions only")
    args = parser.parse_args(argv)
    names = [name for name in args.strategies.split(",") if name]
    unknown = [name for name in names if name not in LADDER]
    if unknown:
        parser.error(f"not a codec strategy of the ladder: {unknown[0]!r}; choose from {', '.join(LADDER)}")
    unavailable = [f"{name}: {REGISTRY[name].unavailable_reason()}" for name in names
                   if REGISTRY[name].unavailable_reason()]
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
    command = "python -m strategies.components ladder " + " ".join(argv if argv is not None else sys.argv[1:])
    try:
        ladder = measure(names, levels, args.out, requests=args.requests, rounds=args.rounds,
                         instructions_requests=None if args.no_instructions else args.instructions_requests,
                         rates=not args.no_rate, command=command)
    except WorkerError as exc:
        print(f"python -m strategies.components ladder: {exc}", file=sys.stderr)
        return 1
    from strategies.ladder_chart import draw

    draw(asdict(ladder), args.out / "model_ladder.png")
    print(markdown(asdict(ladder)))
    return 0 if all(step.errors == 0 for step in ladder.steps) else 1


if __name__ == "__main__":
    sys.exit(main())

