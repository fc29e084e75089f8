"""The model ladder measured: what each concurrency model costs alone, and what each piece of its codec
strategy adds, in instructions and req/s (``python -m bench.ladder``, which also draws and prints it).

For every codec strategy (one per model, ``LADDER``) and every C of the levels, on the throughput workload
(keep-alive, no delay, 64-byte bodies), five steps, each the strategy's own code: the four rungs of
``strategies.shared._codec.RUNGS`` (hosted by ``strategies.probes.ladder_worker``), then the registered strategy in its
own worker (``bench.record.ladder.STEP_NAMES``; ``ADDS`` says what each adds).

Two measures per step:
- instructions per request: ``strategies.probes.instructions.count_instructions`` on the step's worker under
  callgrind (its fetch of N and 3N counted, (I3N - IN) / 2N), robust to the machine's load;
- req/s: the bundled server pinned to one CPU and every step's worker to another (``choose_pinning``, the
  sweep's), at one C the workers of every strategy and step alive at once, a warm-up round each, then the
  rounds interleaved: pass k runs round k of every strategy, its five steps one after the other, the order
  of the strategies and of the steps rotated every pass (so none always follows the same one). Round k of a
  strategy's steps ran within a second or two of each other, under the same load from the rest of the
  machine: the analysis pairs them (``bench.analysis.ladder``); the strategies of one pass ran within a
  few seconds, so their order is not one of minutes apart either.

Rules this module keeps:
- every step verifies every response (``strategies.probes.ladder_worker``); a step with errors is recorded with
  them, never dropped;
- the JSON (``bench.record.ladder``) is written after each strategy, so an interrupted run keeps what it
  measured;
- every wait has a deadline: a round's is the runner's (``Workload.deadline_s``), a count's its own;
- it draws and prints nothing but its progress: the report layer renders the JSON (``bench.ladder`` calls it).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TypeVar, cast

from bench.record.environment import commit_info, library_versions, machine_info
from bench.record.ladder import (
    SCHEMA,
    STEP_NAMES,
    Ladder,
    LadderPass,
    LadderRate,
    LadderStep,
    StepName,
    write_ladder,
)
from bench.record.schema import Noise
from bench.sweep.harness import choose_pinning, used_cores
from bench.sweep.noise import NoiseProbe, descendant_pids
from local_server.api import ServerProcess
from strategies import REGISTRY
from strategies.probes.instructions import count_instructions
from strategies.worker.runner import WorkerProcess
from strategies.workload import Workload, request_timeout_s

_T = TypeVar("_T")

#: The codec strategy of each model, in the order the table lists them: the models the ladder climbs.
LADDER = ("threads-raw", "processes-raw", "gevent-raw", "asyncio", "uvloop", "trio-raw", "tornado-raw",
          "twisted-raw", "select", "epoll")
#: What each step adds, recorded in the JSON for the table's readers.
ADDS: dict[str, str] = {
    "bare": "C workers of the model, each sending the request on a connection of its own and reading a "
            "response framed by its length: the model alone (status and length checked)",
    "codec": "+ our HTTP codec: split_url, build_request, ResponseParser",
    "deadline": "+ a total deadline per request, the model's way",
    "record": "+ an Outcome per request: latency and body, verified after the round",
    "strategy": "the registered strategy through its Fetcher",
}
#: The issue's C levels.
LEVELS = (10, 100)
#: Requests per timed round: at 10,000-50,000 req/s a round of 4,000 takes 0.1-0.4 s, long enough that the
#: round's fixed costs (the command, C workers started) are a few percent, short enough for 7 rounds of 5
#: steps of 9 strategies at 2 levels in a few minutes.
REQUESTS = 4000
#: Rounds per step: an odd number, so the median is a round's; 7 gives a range that one disturbed round
#: widens but does not move the median.
ROUNDS = 7
#: N of the instruction counts, as ``strategies.probes.instructions.DEFAULT_REQUESTS`` (why 150: there).
INSTRUCTIONS_REQUESTS = 150
#: The throughput workload's body (``bench.sweep.plan``): small, so a request's cost is the client's.
SIZE = 64


def rung_command(name: str, step: StepName) -> list[str] | None:
    """The worker command of ``name``'s ``step`` (None: the strategy's own worker)."""
    if step == "strategy":
        return None
    return [sys.executable, "-m", "strategies.probes.ladder_worker", name, step, str(SIZE)]


def workload(url: str, requests: int, concurrency: int) -> Workload:
    return Workload(url, requests, concurrency, policy="keepalive", delay_ms=0, size=SIZE,
                    timeout_s=request_timeout_s(concurrency))


Measured = dict[tuple[str, StepName], tuple[LadderRate, dict[str, int]]]


def measure_rates(names: Sequence[str], url: str, concurrency: int, requests: int, rounds: int,
                  cpus: set[int] | None, probe: NoiseProbe, passes: list[LadderPass]) -> Measured:
    """(strategy, step) -> (its req/s, its failed requests by kind) at ``concurrency``: every worker alive at
    once, a warm-up round each, then ``rounds`` passes, each a round of every strategy's every step; each
    pass's noise (``probe``) appended to ``passes``."""
    fetch = workload(url, requests, concurrency)
    keys = [(name, step) for name in names for step in STEP_NAMES]
    rates: dict[tuple[str, StepName], list[float]] = {key: [] for key in keys}
    cpu: dict[tuple[str, StepName], list[float]] = {key: [] for key in keys}
    kinds: dict[tuple[str, StepName], dict[str, int]] = {key: {} for key in keys}
    with ExitStack() as stack:
        workers = {(name, step): stack.enter_context(WorkerProcess(name, cpus=cpus, command=rung_command(name, step)))
                   for name, step in keys}
        for worker in workers.values():
            worker.run_round(fetch, server_stats=False)  # warm-up: connections, first-use costs
        for number in range(rounds):
            probe.start()
            for name in _rotated(names, number):
                for step in _rotated(STEP_NAMES, number):
                    result = workers[name, step].run_round(fetch, server_stats=False)
                    rates[name, step].append(result.req_per_s or 0.0)
                    cpu[name, step].append(result.cpu_us_per_req or 0.0)
                    _add(kinds[name, step], result.error_kinds)
            noise = cast(Noise, probe.stop())  # NoiseProbe.stop's keys are Noise's (the sweep's rounds record them)
            passes.append({"concurrency": concurrency, "number": number, "noise": noise})
    return {key: (_rate(rates[key], cpu[key]), kinds[key]) for key in keys}


def _rotated(items: Sequence[_T], by: int) -> list[_T]:
    shift = by % len(items)
    return [*items[shift:], *items[:shift]]


def _rate(values: Sequence[float], cpu: Sequence[float]) -> LadderRate:
    return {"median": statistics.median(values), "low": min(values), "high": max(values), "rounds": list(values),
            "cpu_us_per_request": list(cpu)}


def _add(into: dict[str, int], kinds: dict[str, int]) -> None:
    for kind, count in kinds.items():
        into[kind] = into.get(kind, 0) + count


def new_ladder(levels: Sequence[int], requests: int, rounds: int, instructions_requests: int | None,
               command: str) -> Ladder:
    return {
        "schema": SCHEMA, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "command": command,
        "machine": machine_info(choose_pinning()), "commit_info": commit_info(), "libraries": library_versions(),
        "load_average": {"start": list(os.getloadavg()), "end": None},
        "workload": {"policy": "keepalive", "delay_ms": 0, "size": SIZE, "requests": requests, "rounds": rounds,
                     "instructions_requests": instructions_requests, "levels": list(levels)},
        "adds": dict(ADDS), "steps": [], "passes": [],
    }


def measure(names: Sequence[str], levels: Sequence[int], out: Path, *, requests: int = REQUESTS,
            rounds: int = ROUNDS, instructions_requests: int | None = INSTRUCTIONS_REQUESTS,
            rates: bool = True, command: str = "", say: Callable[[str], None] = print) -> Ladder:
    """Climb the ladder of each of ``names`` at each C of ``levels`` (the rates of all, then the counts of
    each); write ``out/model_ladder.json`` after each strategy's counts and return the whole."""
    ladder = new_ladder(levels, requests, rounds, instructions_requests, command)
    pinning = ladder["machine"]["pinning"]
    worker_cpus = set(pinning["worker"]) if pinning["worker"] else None
    probe = NoiseProbe(used_cores(pinning), descendant_pids)  # the server, the workers and theirs are ours
    with ServerProcess(cpus=pinning["server"]) as server:
        # Every level's rates first, within minutes of each other, then the counts, which the load cannot move.
        measured = {c: measure_rates(names, server.url, c, requests, rounds, worker_cpus, probe,
                                     ladder["passes"]) if rates else {} for c in levels}
        for concurrency in levels:
            for name in names:
                for step in STEP_NAMES:
                    rate, kinds = measured[concurrency].get((name, step), (None, {}))
                    counted = None
                    if instructions_requests:
                        count = count_instructions(name, workload(server.url, instructions_requests, concurrency),
                                                   cpus=worker_cpus, command=rung_command(name, step))
                        counted = count.instructions_per_request
                        _add(kinds, count.error_kinds)
                    found: LadderStep = {
                        "strategy": name, "model": REGISTRY[name].model, "concurrency": concurrency, "step": step,
                        "instructions_per_request": counted, "rate": rate, "errors": sum(kinds.values()),
                        "error_kinds": kinds}
                    ladder["steps"].append(found)
                    say(f"{name} C={concurrency} {step}: "
                        f"{counted if counted is not None else float('nan'):,.0f} instructions, "
                        f"{rate['median'] if rate else float('nan'):,.0f} req/s, {found['errors']} errors")
                write_ladder(ladder, out)
    ladder["load_average"]["end"] = list(os.getloadavg())
    write_ladder(ladder, out)
    return ladder
