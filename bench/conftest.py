"""pytest wiring of the sweep: command-line options, the session's server and workers, results at the end.

    pytest bench/ --benchmark-only                       # the default sweep (under 10 min on 2 cores)
    pytest bench/ --benchmark-only --quick               # ~2 min
    pytest bench/test_sweep.py --benchmark-disable --requests=20 --concurrency=1,5 --results-dir=/tmp/r

Rules this file keeps:
- only the sweep's tests (those taking the ``case`` fixture) are parametrized or touched here; other bench
  tests (``bench/test_server.py``) run unaffected by these options and fixtures;
- grouping: each sweep test sets ``benchmark.group`` to "<workload> <profile> <policy> C=<C>", and pytest-benchmark's
  default ``--benchmark-group-by=group`` then puts the strategies of one cell in one terminal table (pass
  ``--benchmark-group-by=param:case`` or anything else to regroup; the results JSON does not depend on it);
- the results JSON, charts and REPORT.md are written at session end, also when rows failed, and only when
  the sweep measured or skipped at least one case (a run of test_server.py alone writes nothing).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.harness import Sweep
from bench.plan import (
    AS_WRITTEN_MAX_C,
    DEFAULT_CONCURRENCY,
    DEFAULT_ROUNDS,
    DEFAULT_WARMUP,
    QUICK_CONCURRENCY,
    QUICK_ROUNDS,
    QUICK_WARMUP,
    QUICK_WORKLOADS,
    WORKLOAD_NAMES,
    Plan,
    parse_levels,
    parse_list,
)
from strategies import REGISTRY
from strategies.base import POLICIES, PROFILES

PLAN_KEY = pytest.StashKey[Plan]()
SWEEP_KEY = pytest.StashKey[Sweep]()
OUTPUT_KEY = pytest.StashKey[tuple[Path, Path]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("concbench", "concbench sweep (bench/test_sweep.py)")
    group.addoption("--concurrency", default=None,
                    help=f"comma-separated levels C for every workload and profile (default "
                         f"{','.join(map(str, DEFAULT_CONCURRENCY))}, --quick {','.join(map(str, QUICK_CONCURRENCY))}; "
                         f"as-written up to C={AS_WRITTEN_MAX_C}; the claim workload 10,100)")
    group.addoption("--strategies", default=None,
                    help="comma-separated strategy names (default: all tuned; the claim's readings as-written)")
    group.addoption("--workloads", default=None,
                    help=f"comma-separated (default: {','.join(WORKLOAD_NAMES)}; --quick: {','.join(QUICK_WORKLOADS)})")
    group.addoption("--policies", default=",".join(POLICIES), help="comma-separated (default: close,keepalive)")
    group.addoption("--profiles", default=",".join(PROFILES),
                    help="comma-separated: tuned (every hidden cap set to C), as-written (the tutorials' recipes, "
                         "library defaults kept); default both (as-written on the latency and claim workloads)")
    group.addoption("--requests", type=int, default=None, help="N per round for every case (default: per workload)")
    group.addoption("--rounds", type=int, default=None,
                    help=f"measured rounds per case (default {DEFAULT_ROUNDS}; --quick: {QUICK_ROUNDS})")
    group.addoption("--quick", action="store_true", help="a ~2 minute sweep: fewer levels, rounds and requests")
    group.addoption("--server-backend", default="epoll", choices=("select", "poll", "epoll"),
                    help="the bundled server's multiplexer (default epoll)")
    group.addoption("--results-dir", default=None, help="where JSON, charts and REPORT.md go (default results/)")


def _plan(config: pytest.Config) -> Plan:
    quick = bool(config.getoption("quick"))
    levels = config.getoption("concurrency")
    rounds = config.getoption("rounds")
    requests = config.getoption("requests")
    results_dir = config.getoption("results_dir")
    strategies = config.getoption("strategies")
    workloads = config.getoption("workloads")
    if rounds is not None and rounds < 1 or requests is not None and requests < 1:
        raise ValueError("--rounds and --requests must be >= 1")
    return Plan(
        concurrency=parse_levels(levels) if levels else None,
        strategies=parse_list(strategies, tuple(REGISTRY), "strategies") if strategies else None,
        workloads=parse_list(workloads, WORKLOAD_NAMES, "workloads") if workloads else None,
        policies=parse_list(config.getoption("policies"), POLICIES, "policies"),
        profiles=parse_list(config.getoption("profiles"), PROFILES, "profiles"),
        rounds=rounds or (QUICK_ROUNDS if quick else DEFAULT_ROUNDS),
        warmup_rounds=QUICK_WARMUP if quick else DEFAULT_WARMUP,
        requests=requests,
        quick=quick,
        benchmark_disabled=bool(config.getoption("benchmark_disable", False)),
        server_backend=config.getoption("server_backend"),
        results_dir=Path(results_dir) if results_dir else config.rootpath / "results",
    )


def pytest_configure(config: pytest.Config) -> None:
    try:
        config.stash[PLAN_KEY] = _plan(config)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" in metafunc.fixturenames:
        workload = metafunc.function.__name__.removeprefix("test_")
        cases = metafunc.config.stash[PLAN_KEY].cases(workload)
        metafunc.parametrize("case", cases, ids=[case.id for case in cases])


@pytest.fixture(scope="session")
def sweep(request: pytest.FixtureRequest) -> Iterator[Sweep]:
    """The session's server and workers; rows accumulate on it until pytest_sessionfinish writes them."""
    session_sweep = Sweep(request.config.stash[PLAN_KEY])
    request.config.stash[SWEEP_KEY] = session_sweep
    try:
        yield session_sweep
    finally:
        session_sweep.close()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session_sweep = session.config.stash.get(SWEEP_KEY, None)
    if session_sweep is not None and session_sweep.run["rows"]:
        session_sweep.run["options"]["interrupted"] = exitstatus == pytest.ExitCode.INTERRUPTED
        session.config.stash[OUTPUT_KEY] = session_sweep.finish()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    output = config.stash.get(OUTPUT_KEY, None)
    session_sweep = config.stash.get(SWEEP_KEY, None)
    if output is None or session_sweep is None:
        return
    terminalreporter.section("concbench results")
    rows = session_sweep.run["rows"]
    counts = {s: sum(r["status"] == s for r in rows) for s in ("ok", "flagged", "failed", "skipped")}
    terminalreporter.write_line(", ".join(f"{n} {s}" for s, n in counts.items()) + " rows")
    for row in rows:
        if row["status"] in ("flagged", "failed"):
            terminalreporter.write_line(f"  {row['status']}: {row['id']}: {row['reason'].splitlines()[0]}")
    terminalreporter.write_line(f"results: {output[0]} (and latest.json); report: {output[1]}")
