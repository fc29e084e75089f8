"""The sweep's plan from its command line: every option checked once, before anything runs.

Rules this module keeps:
- an option that is malformed, names nothing known or contradicts another is one line (``ValueError``),
  never a traceback; ``bench/conftest.py`` turns it into pytest's usage error;
- ``--resume RUN`` takes the whole plan from RUN's recorded options (``plan.plan_of_run``) and refuses any
  other plan option; the run keeps every row it finished and runs again the ones it did not: unfinished,
  not run, or failed with the server (their cells were cut short by the server, not their strategies);
- an external server (``--server-url``) is checked to be ours before the plan is final: its backend is the
  server's own, since the skip rules depend on it;
- no pytest import: the options come in through ``option``, pytest's ``config.getoption``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.record.runfile import json_path_of, load_run
from bench.record.schema import Run
from bench.record.upgrade import UNFINISHED
from bench.sweep import netns
from bench.sweep.plan import (
    DEFAULT_MAX_ROUNDS,
    DEFAULT_ROUNDS,
    DEFAULT_WARMUP,
    QUICK_MAX_ROUNDS,
    QUICK_ROUNDS,
    QUICK_WARMUP,
    SCHEMES,
    WORKLOADS,
    Plan,
    parse_levels,
    parse_list,
    parse_strategies,
    plan_of_run,
)
from bench.sweep.target import TargetError, check_server, parse_server_url
from strategies import eras, pythons
from strategies.base import POLICIES, PROFILES

#: pytest's ``config.getoption``: an option's value by its destination name (and a default).
Option = Callable[..., Any]

#: The options that define a plan: with --resume the plan is the recorded run's, so none may be given.
PLAN_OPTIONS = ("concurrency", "strategies", "workloads", "policies", "profiles", "requests", "rounds",
                "max_rounds", "quick", "server_backend", "schedule_seed", "instructions", "explain", "link",
                "era", "python", "schemes")


def plan_from_options(option: Option, rootpath: Path) -> tuple[Plan, tuple[Path, Run] | None]:
    """The plan the command line asks for, and with ``--resume`` the run it resumes (its JSON's path and its
    finished rows); ValueError (one line) for options that contradict each other or name nothing known."""
    resume = option("resume")
    results_dir = option("results_dir")
    if resume:
        given = [f"--{name.replace('_', '-')}" for name in PLAN_OPTIONS if option(name)]
        if given:
            raise ValueError(f"--resume takes the plan from the run it resumes: drop {', '.join(given)}")
        path = Path(resume)
        try:
            run = load_run(path)
        except (OSError, ValueError, KeyError) as exc:
            raise ValueError(f"--resume {resume}: {exc}") from None
        plan = plan_of_run(run["options"], Path(results_dir) if results_dir else path.parent.parent)
        resumed = (json_path_of(path), without_unfinished(run))
        return dataclasses.replace(plan, server_url=resumed_server_url(resume, plan.server_url,
                                                                       option("server_url"))), resumed
    quick = bool(option("quick"))
    levels = option("concurrency")
    rounds = option("rounds")
    max_rounds = option("max_rounds")
    requests = option("requests")
    strategies = option("strategies")
    workloads = option("workloads")
    if any(value is not None and value < 1 for value in (rounds, requests, max_rounds)):
        raise ValueError("--rounds, --max-rounds and --requests must be >= 1")
    server_url, link = option("server_url"), option("link")
    if server_url and link:
        raise ValueError("--link starts its own server behind the link: drop --server-url")
    if server_url and option("server_backend"):
        raise ValueError("--server-backend: an external server runs the backend it was started with "
                         "(python -m local_server --backend)")
    schemes = parse_list(option("schemes"), SCHEMES, "schemes") if option("schemes") else None
    if schemes is not None and "https" in schemes:
        other = ("--server-url" if server_url else "--link" if link else "--era" if option("era") else None)
        if other:
            raise ValueError(f"--schemes https: the HTTPS rows fetch from the bundled server's TLS twin; {other} "
                             f"measures plain HTTP only (give --schemes http, or drop {other})")
    rounds = rounds or (QUICK_ROUNDS if quick else DEFAULT_ROUNDS)
    seed = option("schedule_seed")
    era = option("era")
    if era is not None:
        eras.load(era)  # an unknown era is a usage error, here
        if option("instructions") or option("explain"):
            raise ValueError("--era: --instructions and --explain measure today's workers only; run them apart")
    python = option("python")
    specs = parse_list(python, None, "python") if python else ()
    if specs:
        if era is not None:
            raise ValueError("--python and --era: an era has its own interpreter; run them apart")
        if option("instructions") or option("explain"):
            raise ValueError("--python: --instructions and --explain measure today's workers only; run them apart")
        for spec in specs:
            pythons.tag_of(spec)  # a value that names no interpreter is a usage error, here
    return Plan(
        concurrency=parse_levels(levels) if levels else None,
        strategies=parse_strategies(strategies) if strategies else None,
        workloads=parse_list(workloads, tuple(WORKLOADS), "workloads") if workloads else None,
        policies=parse_list(option("policies") or ",".join(POLICIES), POLICIES, "policies"),
        profiles=parse_list(option("profiles") or ",".join(PROFILES), PROFILES, "profiles"),
        rounds=rounds,
        max_rounds=max(rounds, max_rounds or (QUICK_MAX_ROUNDS if quick else DEFAULT_MAX_ROUNDS)),
        warmup_rounds=QUICK_WARMUP if quick else DEFAULT_WARMUP,
        requests=requests,
        quick=quick,
        benchmark_disabled=bool(option("benchmark_disable", False)),
        server_backend=option("server_backend") or "epoll",
        results_dir=Path(results_dir) if results_dir else rootpath / "results",
        schedule_seed=seed if seed is not None else int.from_bytes(os.urandom(4), "big"),
        instructions=bool(option("instructions")),
        explain=bool(option("explain")),
        server_url=parse_server_url(server_url) if server_url else None,
        link=_link(link) if link else None,
        era=era,
        schemes=tuple(dict.fromkeys(schemes)) if schemes else None,
        pythons=specs,
    ), None


def _link(text: str) -> str:
    """--link as recorded: checked by parsing (one line on garbage), kept in tc's words ("10mbit")."""
    netns.parse_rate(text)
    return text.strip().lower()


def resumed_server_url(resume: str, recorded: str | None, given: str | None) -> str | None:
    """--resume with --server-url: required when the run was measured against an external server (its URL
    may have changed: the server restarted), refused when it was not (one run, one kind of server)."""
    if recorded and not given:
        raise ValueError(f"--resume {resume}: it was measured against an external server ({recorded}): "
                         f"give --server-url with that server's URL now")
    if given and not recorded:
        raise ValueError(f"--resume {resume}: it was measured against the sweep's own server; --server-url "
                         f"would mix two servers in one run")
    return parse_server_url(given) if given else None


def without_unfinished(run: Run) -> Run:
    """The rows a resumed run keeps: every finished one (ok, flagged, failed, skipped) as recorded, but
    those the sweep did not finish, did not run, or failed with its server: those are run again."""
    run["rows"] = [row for row in run["rows"] if row["reason"] != UNFINISHED and row["status"] != "not_run"
                   and row.get("cause") not in ("server", "interrupted")]
    run.pop("partial", None)
    return run


def with_external_backend(plan: Plan, resumed: bool) -> Plan:
    """The plan against an external server, once it is known to be ours: its backend is the server's own
    (the skip rules depend on it). A resumed run must find the backend it was measured with."""
    assert plan.server_url is not None
    try:
        stats, _ = check_server(plan.server_url, samples=1)
    except TargetError as exc:
        raise ValueError(f"--server-url {exc}") from None
    if resumed and stats["backend"] != plan.server_backend:
        raise ValueError(f"--server-url {plan.server_url} runs the {stats['backend']} backend; the resumed run "
                         f"was measured with {plan.server_backend}")
    return dataclasses.replace(plan, server_backend=stats["backend"])
