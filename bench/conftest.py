"""pytest wiring of the sweep: command-line options, the session's server and workers, results at the end.

    pytest bench/ --benchmark-only                       # the default sweep (under 10 min on 2 cores)
    pytest bench/ --benchmark-only --quick               # ~2 min
    pytest bench/test_sweep.py --benchmark-disable --requests=20 --concurrency=1,5 --results-dir=/tmp/r
    pytest bench/test_sweep.py --benchmark-only --era 2017 --results-dir results/eras   # and the 2017 era's
    pytest bench/ --benchmark-only --python 3.12,3.13 --results-dir results/pythons   # and on 3.12, 3.13

Rules this file keeps:
- only the sweep's tests (those taking the ``case`` fixture) are parametrized or touched here; other bench
  tests (``bench/test_server_capacity.py``) run unaffected by these options and fixtures;
- grouping: each sweep test sets ``benchmark.group`` to "<workload> <profile> <policy> C=<C>", and pytest-benchmark's
  default ``--benchmark-group-by=group`` then puts the strategies of one cell in one terminal table (pass
  ``--benchmark-group-by=param:case`` or anything else to regroup; the results JSON does not depend on it);
- the cases selected for the session (after ``-k``, ``--resume``) are grouped into cells at collection's
  end, so that the first test of a cell measures all of its strategies interleaved (``bench.sweep.harness``);
- rows are appended to the run's row log as they finish; the results JSON, charts and REPORT.md (and the
  results page over every run of the results folder, ``bench.report.page``) are written at session end,
  also when rows failed or the sweep was interrupted (Ctrl-C, SIGTERM), and only when the sweep measured or
  skipped at least one case (a run of test_server_capacity.py alone writes nothing);
- every planned row ends as a row of the run: when the session ends before some (the sweep stopped itself
  because its server went for good, Ctrl-C, SIGTERM, pytest's --maxfail), each is recorded ``not_run`` with
  why, and one whose test failed without recording its row is recorded failed with pytest's message; the
  summary line counts them all, as pytest counted their tests (ok and flagged rows passed, failed failed,
  skipped skipped, not run not run);
- when the sweep stops itself (``Sweep.stop_reason``), the session stops once the cell in progress has
  recorded its rows (pytest's ``session.shouldfail``: exit status 1), and the last lines say how to go on;
- ``--resume RUN`` takes the plan from RUN's recorded options and runs only the rows RUN lacks;
- the server is the session's ``bench.sweep.target``: ``--server-url`` is checked once more in
  ``pytest_configure``, so a URL that is not our server is one line before anything runs; a ``--link``
  namespace lives as long as the ``sweep`` fixture and goes with it (SIGTERM is turned into
  KeyboardInterrupt before it is made).
- ``--era NAME``: the era's virtualenv is made ready (``strategies.eras.prepare``, one line on the terminal)
  before the cells are formed, so that its rows run, or are skipped with its reason, never fail the sweep;
  ``--python``'s interpreters likewise (``strategies.pythons.prepare``, one line each).
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Generator, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from bench.record.schema import Cause, Run
from bench.report.document import make_report
from bench.report.page.document import write_index
from bench.report.page.runs import results_root
from bench.sweep import netns
from bench.sweep.harness import MeasuredCell, Sweep, cell_key, cell_text, choose_pinning, used_cores
from bench.sweep.netns import LinkError
from bench.sweep.noise import system_check, system_check_text
from bench.sweep.options import plan_from_options, with_external_backend
from bench.sweep.plan import (
    AS_WRITTEN_MAX_C,
    CONCURRENCY_SETS,
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_ROUNDS,
    DEFAULT_ROUNDS,
    OPT_IN_WORKLOADS,
    QUICK_CONCURRENCY,
    QUICK_MAX_ROUNDS,
    QUICK_ROUNDS,
    QUICK_WORKLOADS,
    WORKLOAD_NAMES,
    Case,
    Plan,
)
from bench.sweep.target import TargetError
from strategies import eras, pythons
from strategies.probes import explain
from strategies.probes.instructions import InstructionsUnavailable, find_valgrind

PLAN_KEY = pytest.StashKey[Plan]()
SWEEP_KEY = pytest.StashKey[Sweep]()
OUTPUT_KEY = pytest.StashKey[tuple[Path, Path]]()
RESUMED_KEY = pytest.StashKey[tuple[Path, Run]]()
CELLS_KEY = pytest.StashKey[dict[MeasuredCell, list[Case]]]()
CHECK_KEY = pytest.StashKey[dict[str, Any]]()
INTERRUPTED_KEY = pytest.StashKey[str]()
#: Every sweep test's (workload, case) in the session's order, runnable or not: the rows the run must hold.
PLANNED_KEY = pytest.StashKey[list[tuple[str, Case]]]()
#: Row id -> pytest's message, for each sweep test that failed (a row may then be missing).
FAILURES_KEY = pytest.StashKey[dict[str, str]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("concbench", "concbench sweep (bench/test_sweep.py)")
    group.addoption("--concurrency", default=None,
                    help=f"comma-separated levels C for every workload and profile, or sets: {_sets_text()} "
                         f"(default {','.join(map(str, DEFAULT_CONCURRENCY))}, --quick {','.join(map(str, QUICK_CONCURRENCY))}; "
                         f"as-written up to C={AS_WRITTEN_MAX_C}; the claim workload 10,100)")
    group.addoption("--strategies", default=None,
                    help="comma-separated strategy names or sets: default (the default sweep's, tuned; the claim's "
                         "readings as-written), all (every registered strategy)")
    group.addoption("--workloads", default=None,
                    help=f"comma-separated (default: {','.join(WORKLOAD_NAMES)}; --quick: {','.join(QUICK_WORKLOADS)}; "
                         f"opt-in: {','.join(OPT_IN_WORKLOADS)})")
    group.addoption("--policies", default=None, help="comma-separated (default: close,keepalive)")
    group.addoption("--schemes", default=None,
                    help="comma-separated: http, https (every selected case over each; https fetches from the "
                         "bundled server's TLS twin, verified against its test CA); default: http, and https "
                         "for the claim's members and the codec rows on the latency and throughput workloads "
                         "at C=10,100, tuned (not with --quick, --era, --server-url or --link)")
    group.addoption("--profiles", default=None,
                    help="comma-separated: tuned (every hidden cap set to C), as-written (the tutorials' recipes, "
                         "library defaults kept); default both (as-written on the latency and claim workloads)")
    group.addoption("--requests", type=int, default=None, help="N per round for every case (default: per workload)")
    group.addoption("--rounds", type=int, default=None,
                    help=f"measured rounds per case (default {DEFAULT_ROUNDS}; --quick: {QUICK_ROUNDS})")
    group.addoption("--max-rounds", type=int, default=None,
                    help=f"rounds a case may reach while its 95%% interval is wider than ±5%% (default "
                         f"{DEFAULT_MAX_ROUNDS}; --quick: {QUICK_MAX_ROUNDS}; = --rounds: no extra rounds)")
    group.addoption("--quick", action="store_true", help="a ~2 minute sweep: fewer levels, rounds and requests")
    group.addoption("--schedule-seed", type=int, default=None,
                    help="seed of the order in which a cell's strategies take turns (default: random, recorded)")
    group.addoption("--instructions", action="store_true", default=None,
                    help="also count each row's user-space instructions per request under callgrind, in an "
                         "untimed pass after its cell (needs valgrind; ~10-60 s per row)")
    group.addoption("--explain", action="store_true", default=None,
                    help="also run one untimed, profiled round per row after its cell and break its CPU down by "
                         "category (strategies/probes/explain.py: yappi; the profiled round costs 5-15x the CPU)")
    group.addoption("--era", default=None, metavar="NAME",
                    help="also run each selected strategy's recipe in that era (eras/NAME: its interpreter and "
                         "pinned libraries, in a virtualenv built on first use), interleaved with today's; "
                         "by default the claim's strategies, C=10,100, the latency, claim and throughput "
                         f"workloads (known: {', '.join(eras.names()) or 'none'})")
    group.addoption("--python", default=None, metavar="VERSIONS",
                    help="also run each selected strategy on these interpreters (pyenv version names such as "
                         "3.12,3.13, or interpreter paths), today's worker and libraries in a virtualenv of "
                         "each built on first use, interleaved with today's rows (S@py3.13)")
    group.addoption("--resume", default=None, metavar="RUN",
                    help="finish an interrupted run: RUN is its results/runs/*.json or *.jsonl; runs only the "
                         "rows it lacks, with its recorded options (give no other sweep option)")
    group.addoption("--server-backend", default=None, choices=("select", "poll", "epoll"),
                    help="the bundled server's multiplexer (default epoll)")
    group.addoption("--server-url", default=None, metavar="URL",
                    help="run against an already running bundled server (`python -m local_server --host 0.0.0.0 "
                         "--port P --backend epoll` on another machine): checked and its round trip timed first")
    group.addoption("--link", default=None, metavar="RATE",
                    help="the bundled server in a network namespace behind a veth pair shaped by tbf to RATE "
                         "(tc's units: 500kbit, 10mbit, 1gbit); needs root and iproute2")
    group.addoption("--results-dir", default=None, help="where JSON, charts and REPORT.md go (default results/)")


def _sets_text() -> str:
    return ", ".join(f"{name} ({','.join(map(str, levels))})" for name, levels in CONCURRENCY_SETS.items())


def pytest_configure(config: pytest.Config) -> None:
    try:
        plan, resumed = plan_from_options(config.getoption, config.rootpath)
        if resumed is not None:
            config.stash[RESUMED_KEY] = resumed
        config.stash[PLAN_KEY] = plan
        if plan.instructions:
            find_valgrind()
        if plan.explain and explain.unavailable_reason():
            raise ValueError(f"--explain: {explain.unavailable_reason()}")
        if plan.link and netns.unavailable_reason():
            raise ValueError(netns.unavailable_reason())
        if plan.server_url:
            config.stash[PLAN_KEY] = with_external_backend(plan, resumed is not None)
    except (ValueError, InstructionsUnavailable, TargetError) as exc:  # TargetError: a malformed URL
        raise pytest.UsageError(str(exc)) from None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" in metafunc.fixturenames:
        workload = _workload_of(metafunc.function.__name__)
        cases = metafunc.config.stash[PLAN_KEY].cases(workload)
        metafunc.parametrize("case", cases, ids=[case.id for case in cases])


def _workload_of(test_name: str) -> str:
    """The workload a sweep test measures: ``test_slow_link`` -> ``slow-link`` (a test name has no dash)."""
    return test_name.split("[")[0].removeprefix("test_").replace("_", "-")


def _sweep_case(item: pytest.Item) -> tuple[str, Case] | None:
    """(workload, case) of a sweep test (``test_<workload>[<case id>]``); None for any other test."""
    callspec = getattr(item, "callspec", None)
    case = callspec.params.get("case") if callspec else None
    return (_workload_of(item.name), case) if isinstance(case, Case) else None


def _allow_the_whole_cell(item: pytest.Item, plan: Plan, workload: str, cases: list[Case], timeout: Any) -> None:
    """The first test of a cell measures all of its strategies' rounds (``bench.sweep.harness``): its pytest
    timeout is raised to what those rounds may take, each bounded by its own worker deadline. Without it,
    8 strategies x 6 rounds of 5-25 s at C=10,000 passed pytest-timeout's 300 s and cut a cell in half."""
    rounds = plan.warmup_rounds + max(plan.rounds, plan.max_rounds)
    bound = sum(rounds * plan.workload(workload, "http://127.0.0.1:1/", c).deadline_s() for c in cases)
    default = float(timeout) if timeout else 0.0
    if default and bound > default:
        item.add_marker(pytest.mark.timeout(bound))


def _ini_timeout(config: pytest.Config) -> Any:
    try:
        return config.getini("timeout")
    except ValueError:  # pytest-timeout not installed: no timeout to raise
        return None


def _row_id(item: pytest.Item) -> str | None:
    found = _sweep_case(item)
    return f"{found[0]}-{found[1].id}" if found else None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With --resume: deselect the rows the resumed run already has."""
    resumed = config.stash.get(RESUMED_KEY, None)
    if resumed is None:
        return
    done = {row["id"] for row in resumed[1]["rows"]}
    keep = [item for item in items if _row_id(item) not in done]
    config.hook.pytest_deselected(items=[item for item in items if _row_id(item) in done])
    items[:] = keep


def pytest_collection_finish(session: pytest.Session) -> None:
    """The cells of the session: each selected, runnable case under its (workload, profile, policy, C)."""
    plan = session.config.stash[PLAN_KEY]
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if plan.era is not None:  # its rows' skip reasons depend on it: made ready (or not) before the cells
        eras.prepare(plan.era, reporter.write_line if reporter is not None else None)
    for tag in plan.python_tags:  # likewise
        pythons.prepare(tag, reporter.write_line if reporter is not None else None)
    cells: dict[MeasuredCell, list[Case]] = {}
    first_items: dict[MeasuredCell, pytest.Item] = {}
    planned = session.config.stash[PLANNED_KEY] = []
    session.config.stash[FAILURES_KEY] = {}
    for item in session.items:
        found = _sweep_case(item)
        if found:
            planned.append(found)
        if found and not plan.skip_reason(found[1]):
            key = cell_key(*found)
            cells.setdefault(key, []).append(found[1])
            first_items.setdefault(key, item)
    session.config.stash[CELLS_KEY] = cells
    for key, item in first_items.items():
        _allow_the_whole_cell(item, plan, key[0], cells[key], _ini_timeout(session.config))
    if cells:
        check = system_check(used_cores(choose_pinning(external=plan.server_url is not None)))
        session.config.stash[CHECK_KEY] = check
        if reporter is not None:
            reporter.write_line(system_check_text(check))


@pytest.fixture(scope="session")
def sweep(request: pytest.FixtureRequest) -> Iterator[Sweep]:
    """The session's server and workers; rows accumulate on it until pytest_sessionfinish writes them.

    SIGTERM is turned into the same KeyboardInterrupt as Ctrl-C for the sweep's duration, so that a
    terminated sweep also stops its server and workers and writes what it measured.
    """
    config = request.config

    def terminate(signum: int, frame: FrameType | None) -> None:
        config.stash[INTERRUPTED_KEY] = "SIGTERM"
        raise KeyboardInterrupt

    # Before the server starts: a SIGTERM during its start (a --link namespace's setup) must unwind it too.
    previous = signal.signal(signal.SIGTERM, terminate)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")

    def say(line: str) -> None:
        """A line on the terminal now, from inside a test (whose output pytest captures meanwhile)."""
        if reporter is None:
            return
        with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
            reporter.write_line(line)

    try:
        try:
            session_sweep = Sweep(config.stash[PLAN_KEY], config.stash.get(CELLS_KEY, {}),
                                  config.stash.get(CHECK_KEY, None), config.stash.get(RESUMED_KEY, None),
                                  say=say)
        except (LinkError, TargetError) as exc:  # one line, like a bad option: nothing was measured
            link = config.stash[PLAN_KEY].link
            pytest.exit(f"--link {link}: {exc}" if link else str(exc), returncode=pytest.ExitCode.USAGE_ERROR)
        config.stash[SWEEP_KEY] = session_sweep
        try:
            yield session_sweep
        finally:
            session_sweep.close()
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item,
                              call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A sweep test's failure is kept (its row may be missing); after its call, a sweep that stopped itself
    stops the session once no row of a measured cell is left to record (before this test's teardown, so
    that the session's fixtures are torn down with it). Outermost (``tryfirst``): after pytest-benchmark's
    own report hook, which takes a failed test for one that should have been timed."""
    report: pytest.TestReport = yield
    row_id = _row_id(item)
    if row_id is None:
        return report
    session_sweep = item.config.stash.get(SWEEP_KEY, None)
    if report.failed:
        item.config.stash[FAILURES_KEY][row_id] = (report.longreprtext.strip().splitlines() or [report.outcome])[-1]
        benchmark = getattr(item, "funcargs", {}).get("benchmark")
        if benchmark is not None and not (session_sweep is not None and session_sweep.was_timed(row_id)):
            benchmark.skipped = True  # it failed before any round: nothing to time, nothing to warn about
    if call.when == "call" and session_sweep is not None and session_sweep.stop_reason and not session_sweep.pending():
        item.session.shouldfail = (f"the sweep stops, its server gone; to run the rest: pytest bench/ "
                                   f"--benchmark-only --resume {session_sweep.file.path}")
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session_sweep = session.config.stash.get(SWEEP_KEY, None)
    if session_sweep is None:
        return
    session_sweep.close()  # also when the session fixture's teardown never ran (an interrupt during setup)
    interrupted = None
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        interrupted = session.config.stash.get(INTERRUPTED_KEY, "SIGINT")
    if session_sweep.run["rows"]:
        cause: Cause
        if session_sweep.stop_reason:
            why, cause = f"the sweep stopped: {session_sweep.stop_reason}", "server"
        elif interrupted:
            why, cause = f"the sweep was interrupted ({interrupted}) before this row", "interrupted"
        else:
            stop = session.shouldfail or session.shouldstop
            why, cause = (f"the session stopped before this row (pytest: {stop})" if stop else
                          "the session ended before this row"), "interrupted"
        planned: list[tuple[str, Case]] = session.config.stash.get(PLANNED_KEY, [])
        session_sweep.record_unreached(planned, session.config.stash.get(FAILURES_KEY, {}), why, cause)
        path = session_sweep.finish(interrupted)
        results = session_sweep.plan.results_dir
        session.config.stash[OUTPUT_KEY] = path, make_report(results / "latest.json")
        write_index(results_root(results))  # index.html over every run of the results folder, this one too


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    output = config.stash.get(OUTPUT_KEY, None)
    session_sweep = config.stash.get(SWEEP_KEY, None)
    if output is None or session_sweep is None:
        return
    terminalreporter.section("concbench results")
    run = session_sweep.run
    for line in summary_lines(run):
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"results: {output[0]} (and latest.json); report: {output[1]}")
    resume = f"pytest bench/ --benchmark-only --resume {output[0]}"
    not_run = sum(row["status"] == "not_run" for row in run["rows"])
    if run["options"].get("stopped"):
        failed = sum(row["status"] == "failed" and row.get("cause") == "server" for row in run["rows"])
        terminalreporter.write_line(
            f"stopped: {run['options']['stopped']}; {failed} rows failed with the server, {not_run} not run, the "
            f"report is marked partial; to run them: {resume}")
    elif run["options"].get("interrupted"):
        terminalreporter.write_line(
            f"interrupted ({run['options']['interrupted']}): {len(run['rows']) - not_run} finished rows kept, "
            f"{not_run} not run, the report is marked partial; to run the missing rows: {resume}")


#: The statuses a row can end with, in the summary's order.
STATUSES = ("ok", "flagged", "failed", "skipped", "not_run")


def summary_lines(run: Run) -> list[str]:
    """The run in a few lines: every planned row counted by its status (ok and flagged are pytest's passed),
    the rows that are not clean with their first reason, and the server's restarts."""
    rows = run["rows"]
    counts = {status: sum(row["status"] == status for row in rows) for status in STATUSES}
    lines = [", ".join(f"{n} {status.replace('_', ' ')}" for status, n in counts.items())
             + f" of {len(rows)} planned rows"]
    for row in rows:
        if row["status"] in ("flagged", "failed"):
            lines.append(f"  {row['status']}: {row['id']}: {row['reason'].splitlines()[0]}")
    for restart in run.get("server_restarts", []):
        cell = restart["cell"]
        where = f"during {cell_text(MeasuredCell(**cell))}" if cell else "between cells"
        lines.append(f"  server restarted ({where}): {restart['why']}")
    return lines
