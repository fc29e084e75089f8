"""Command line: ``python -m strategies list`` and ``python -m strategies run NAME ...``.

    python -m strategies list
    python -m strategies run threads -n 500 -c 10 --delay-ms 50 --json
    python -m strategies run select --url http://127.0.0.1:8080/ -n 2000 -c 100 --policy close
    python -m strategies run tornado -n 200 -c 100 --delay-ms 200 --policy close --profile as-written
    python -m strategies run asyncio -n 150 -c 10 --instructions
    python -m strategies run asyncio -n 500 -c 10 --explain
    python -m strategies run asyncio@2017 -n 1000 -c 10 --policy close   # the recipe in the 2017 era
    python -m strategies run asyncio@py3.13 -n 1000 -c 10                # today's recipe on Python 3.13
    python -m strategies run aiohttp --tls -n 2000 -c 10                 # over HTTPS, the bundled server's CA
    python -m strategies run httpx --url https://127.0.0.1:8443/ --ca-file ca.pem -n 500 -c 10

``run`` runs the workload in the strategy's worker process for ``--rounds`` rounds, against ``--url`` or,
without it, against the bundled server it starts (and stops) itself. Output: one line per round, readable,
or with ``--json`` one JSON object per round (a single object for the default single round).
``--instructions`` replaces the rounds by the callgrind pass of ``strategies.probes.instructions``: one line, or one
JSON object, with the instructions per request. ``--explain`` adds, after the rounds, the profiled round of
``strategies.probes.explain`` in the same worker: where the CPU of a request goes, by category (readable lines, or
with ``--json`` one more object, ``{"strategy": NAME, "explain": {...}}``). ``NAME@ERA`` runs the recipe of
NAME in that era (``strategies.eras``: its interpreter and libraries, its virtualenv built on first use);
``NAME@py3.13`` runs today's NAME on that interpreter (``strategies.pythons``: pyenv's 3.13, today's
libraries in a virtualenv of its own built on first use; a missing interpreter is one line saying how to
get it). Neither ``--instructions`` nor ``--explain`` applies to either.
HTTPS: ``--url https://...`` with ``--ca-file CA`` (the PEM the strategy verifies the server against;
without it, the system's store), or ``--tls``: the bundled server serves HTTPS with a test CA made at its
start, written to a temporary file passed on as the CA file. Every strategy verifies the certificate and the
host name; a refused one is an error of kind ``tls`` in the round. An era's recipe runs over http only; an
interpreter's row is today's worker, so it speaks HTTPS as today's does.

Exit codes: 0 all rounds clean; 1 a round had errors or the worker failed (the message says which);
2 a bad argument, including a strategy that cannot run as asked: unknown name, a library that is not
installed (with its install hint), a policy it does not support or a C above its limit (with the reason:
a registry limit, or more descriptors than the hard RLIMIT_NOFILE allows),
and ``--instructions`` without valgrind or ``--explain`` without yappi.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from typing import Any, NoReturn

from local_server.fdlimit import shortfall
from strategies import REGISTRY, eras, pythons, variants
from strategies.base import POLICIES, PROFILES
from strategies.probes import explain, instructions
from strategies.venvs import SKIPPED
from strategies.worker.runner import RoundResult, WorkerError
from strategies.workload import Workload, request_timeout_s


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "list":
        return _list()
    strategy, tag = eras.split(args.name)
    spec = REGISTRY.get(strategy)
    if spec is None:
        parser.error(f"unknown strategy {args.name!r}; known: {', '.join(REGISTRY)}")
    if tag is not None and (args.instructions or args.explain):
        parser.error(f"{args.name}: --instructions and --explain measure today's workers only")
    if variants.kind(args.name) == "python":  # its build's progress on stderr; its failure is the error below
        pythons.prepare(tag or "", lambda line: None if SKIPPED in line else print(line, file=sys.stderr))
    try:
        reason = variants.skip_reason(args.name, args.concurrency, args.policy, args.profile)
    except ValueError as exc:  # an unknown era
        parser.error(str(exc))
    reason = reason or shortfall(args.concurrency)
    if reason:
        parser.error(f"{args.name} cannot run -c {args.concurrency} --policy {args.policy} "
                     f"--profile {args.profile}: {reason}")
    if args.instructions:
        if args.rounds is not None:
            parser.error("--rounds does not apply to --instructions: the pass runs its own rounds")
        try:
            instructions.find_valgrind()  # before the server starts: its log lines would follow the error
        except instructions.InstructionsUnavailable as exc:
            parser.error(f"--instructions: {exc}")
        if args.explain:
            parser.error("--explain does not apply to --instructions: run them apart")
    if args.explain and explain.unavailable_reason():
        parser.error(f"--explain: {explain.unavailable_reason()}")
    _check_tls_arguments(parser, args, tag if variants.kind(args.name) == "era" else None)
    with _server(args.url, args.backend, args.cpus, args.tls) as (url, server_ca_file):
        try:
            workload = Workload(url, args.requests, args.concurrency, policy=args.policy,
                                delay_ms=args.delay_ms, size=args.size, method=args.method,
                                timeout_s=request_timeout_s(args.concurrency) if args.timeout is None
                                else args.timeout,
                                profile=args.profile, ca_file=args.ca_file or server_ca_file)
        except ValueError as exc:
            parser.error(str(exc))
        if args.instructions:
            return _count(args.name, workload, args.json, args.cpus)
        return _run(args.name, workload, args.rounds or 1, args.json, args.cpus, args.explain)


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is exactly one line on stderr (no usage block), then exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m strategies", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="every strategy, whether it is available, and why not")
    run = commands.add_parser("run", help="run a workload with one strategy")
    run.add_argument("name", help="strategy name (see `list`)")
    run.add_argument("--url", help="base URL of a running server (default: start the bundled one)")
    run.add_argument("-n", "--requests", type=_positive, required=True, help="requests per round (N)")
    run.add_argument("-c", "--concurrency", type=_positive, required=True, help="requests in flight (C)")
    run.add_argument("--policy", choices=POLICIES, default="keepalive", help="connection policy")
    run.add_argument("--profile", choices=PROFILES, default="tuned",
                     help="tuned: every hidden cap set to C; as-written: the tutorial's recipe, library defaults")
    run.add_argument("--delay-ms", type=_non_negative, default=0, help="server-side delay per request")
    run.add_argument("--size", type=_non_negative, default=64, help="response body bytes")
    run.add_argument("--method", choices=("GET", "POST"), default="GET")
    run.add_argument("--rounds", type=_positive, help="rounds in the same worker (default 1)")
    run.add_argument("--timeout", type=float, default=None,
                     help="per-request timeout, seconds (default: the sweep's, 10 s or C x 5 ms, the longer)")
    run.add_argument("--tls", action="store_true",
                     help="the bundled server serves HTTPS (its test CA passed on as --ca-file); not with --url")
    run.add_argument("--ca-file", metavar="PEM",
                     help="with an https --url: the CA certificate(s) to verify the server against "
                     "(default: the system's store)")
    run.add_argument("--backend", choices=("select", "poll", "epoll"), default="epoll",
                     help="backend of the bundled server (ignored with --url)")
    run.add_argument("--cpus", type=_cpu_set, help="pin the worker to these CPUs, e.g. 1 or 2,3; a bundled "
                     "server is pinned to the other CPUs, so client and server do not share a core")
    run.add_argument("--json", action="store_true", help="one JSON object per round")
    run.add_argument("--instructions", action="store_true",
                     help="instead of the timed rounds, count instructions per request under valgrind's "
                     "callgrind: one worker, a warm-up round of N, then fetches of N and 3N counted, (I3N - IN) "
                     f"/ 2N; -n is N ({instructions.DEFAULT_REQUESTS} is a good one); needs valgrind; "
                     "6-70 s per strategy at N=150, C=10")
    run.add_argument("--explain", action="store_true",
                     help="after the rounds, one unprofiled and one profiled (yappi) round in the same worker, "
                     "untimed: CPU per request by category (event loop, HTTP, socket calls, library glue, "
                     "harness, other); the profiled round costs 5-15x the CPU")
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _cpu_set(text: str) -> set[int]:
    try:
        cpus = {int(part) for part in text.split(",")}
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected CPU numbers like 1 or 0,2, got {text!r}") from None
    if not cpus <= os.sched_getaffinity(0):
        raise argparse.ArgumentTypeError(f"CPUs {sorted(cpus)} are not all available here")
    return cpus


def _list() -> int:
    width = max(map(len, REGISTRY))
    for name, spec in REGISTRY.items():
        reason = spec.unavailable_reason()
        print(f"{name:<{width}}  {'no ' if reason else 'yes'}  {reason or spec.description}")
    return 0


def _check_tls_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace, era: str | None) -> None:
    """--tls and --ca-file make sense only together with what they describe; a bad one is one line."""
    if args.tls and args.url is not None:
        parser.error("--tls starts the bundled server with TLS; with --url give an https URL and --ca-file")
    if args.ca_file is not None:
        if args.url is None or not args.url.lower().startswith("https://"):
            parser.error("--ca-file applies to an https --url (--tls passes the bundled server's CA itself)")
        if not os.path.isfile(args.ca_file):
            parser.error(f"--ca-file {args.ca_file}: no such file")
    if era is not None and (args.tls or (args.url or "").lower().startswith("https://")):
        parser.error(f"{args.name}: an era's recipe runs over http only")
    if args.tls:
        import importlib.util

        if importlib.util.find_spec("trustme") is None:
            parser.error("--tls: the bundled server's test CA needs trustme: pip install 'concbench[tls]'")


@contextlib.contextmanager
def _server(url: str | None, backend: str, worker_cpus: set[int] | None,
            tls: bool = False) -> Iterator[tuple[str, str | None]]:
    """The base URL to fetch and the CA file that verifies it (None: given by the user, or plain http)."""
    if url is not None:
        yield url, None
        return
    from local_server.api import ServerProcess  # only when we start the server ourselves

    server_cpus = sorted(os.sched_getaffinity(0) - worker_cpus) if worker_cpus else None
    with ServerProcess(backend=backend, cpus=server_cpus or None, tls=tls) as server:
        yield server.url, server.ca_file


def _run(name: str, workload: Workload, rounds: int, as_json: bool, cpus: set[int] | None,
         explained: bool = False) -> int:
    clean = True
    try:
        with variants.worker_process(name, cpus=cpus) as worker:
            for number in range(1, rounds + 1):
                result = worker.run_round(workload)
                clean = clean and result.errors == 0
                print(json.dumps(result.to_dict()) if as_json else _line(number, result), flush=True)
            if explained:
                breakdown = worker.explain_round(workload)
                clean = clean and breakdown["errors"] == 0
                print(json.dumps({"strategy": name, "explain": breakdown}) if as_json
                      else "\n".join(_explain_lines(name, breakdown)), flush=True)
    except WorkerError as exc:
        print(f"python -m strategies: {exc}", file=sys.stderr)
        return 1
    return 0 if clean else 1


def _count(name: str, workload: Workload, as_json: bool, cpus: set[int] | None) -> int:
    try:
        count = instructions.count_instructions(name, workload, cpus=cpus)
    except (WorkerError, instructions.InstructionCountError) as exc:
        print(f"python -m strategies: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(count.to_dict()) if as_json else _instructions_line(count), flush=True)
    return 0 if count.clean else 1


def _instructions_line(c: instructions.InstructionCount) -> str:
    text = (
        f"{c.strategy}: {c.instructions_per_request:,.0f} instructions per request ({c.requests} and "
        f"{c.requests * instructions.SCALE} requests, C={c.concurrency} {c.policy} delay={c.delay_ms}ms "
        f"size={c.size} {c.profile}; fetch only, {c.processes} process{'es' if c.processes > 1 else ''}; "
        f"{c.seconds:.0f} s under {c.valgrind})"
    )
    if not c.clean:
        text += f"; NOT CLEAN: {c.errors} errors {c.error_kinds}"
    return text


def _explain_lines(name: str, e: dict[str, Any]) -> list[str]:
    """The profiled round in a few lines: its CPU against the reference, then each category."""
    head = (f"{name} explain ({e['profiler']}): {e['cpu_us_per_req']:.0f} us CPU/req profiled, "
            f"{e['reference_cpu_us_per_req']:.0f} unprofiled (overhead x{e['overhead'] or 0:.1f}; "
            f"{e['calls_per_req']:.0f} calls/req, {(e['call_cost_ns'] or 0) / 1000:.1f} us each); children "
            f"{e['children_us_per_req']:.0f} us/req, not profiled; {e['errors']} errors")
    lines = [head]
    width = max(map(len, explain.CATEGORIES))
    for category in explain.CATEGORIES:
        top = ", ".join(f"{f['function']} {f['us_per_req']:.0f}" for f in e["top"].get(category, [])[:3])
        lines.append(f"  {category:<{width}} {e['categories'][category]:8.0f} us/req "
                     f"{e['calls'][category]:7.0f} calls/req  {top}")
    return lines


def _line(number: int, r: RoundResult) -> str:
    latency = r.latency_ms
    in_flight = "?" if r.peak_in_flight is None else r.peak_in_flight
    text = (
        f"{r.strategy} ({r.profile}) round {number}: N={r.requests} C={r.concurrency} {r.policy} "
        f"delay={r.delay_ms}ms "
        f"size={r.size}: {r.ok} ok, {r.errors} errors, {r.wall_s:.3f} s, {r.req_per_s or 0:.0f} req/s, "
        f"{r.cpu_us_per_req or 0:.0f} us CPU/req, peak RSS {r.peak_rss_kb / 1024:.1f} MiB, "
        f"p50/p99 {_ms(latency['p50'])}/{_ms(latency['p99'])} ms, peak in flight {in_flight}"
    )
    if r.error_kinds:
        text += f"; errors: {r.error_kinds}; first: {r.error_samples[0]}"
    return text


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


if __name__ == "__main__":
    sys.exit(main())
