"""Eras: today's recipes on another interpreter and its period libraries, measured by today's harness.

An *era* is a committed constraints set, ``eras/<name>/era.toml``: the interpreter version, the pip steps
(exact pins) that install its libraries, and its recipes, each a module of ``eras/<name>/`` that makes one
of today's strategies on the old APIs, run by that directory's ``worker.py`` under the old interpreter. The
era's row of strategy S is named ``S@<era>`` (``twin``). This module is today's side of it:

- ``load``: the constraints set, as data;
- ``prepare``: the era's virtualenv, built on demand outside the checkout (``venv_dir``), reused while its
  marker holds the constraints' digest and rebuilt when it does not. It says in one line what it does; a
  missing interpreter or a failed build (no network) gives a reason, the rows' skip reason, never an
  exception;
- ``EraWorkerProcess``: today's ``WorkerProcess`` (its deadlines, stderr tail and kill) running the era's
  worker. That worker returns each request's status, body, error and latency and its own raw timing, CPU and
  peak memory; today's code verifies every body and computes every figure (``strategies.workload.judge``),
  so there is one definition of both.

Rules this module keeps:
- the era's interpreter is found, never installed: pyenv's ``versions/<version>``, then ``pythonX.Y`` on
  PATH, or ``CONCBENCH_ERA_PYTHON``; the exact version is required, since it is part of the era;
- the virtualenv lives in ``$CONCBENCH_CACHE`` (default ``~/.cache/concbench``) under ``eras/<name>-py<version>``;
  a build is made in place under a lock and counts only once its marker is written last, so an interrupted
  build is redone, never used, and two sweeps never build one era at once (``strategies.venvs``, shared
  with ``strategies.pythons``);
- an era's row runs where today's strategy of that name could run (its ``StrategySpec.limit_reason``), in
  the profiles its recipe has, with the era's interpreter and libraries recorded in the row (``row_era``).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import shutil
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from strategies import REGISTRY
from strategies.base import Outcome
from strategies.venvs import (
    Say,
    Unavailable,
    build_log,
    cache_root,
    describe,
    freeze,
    locked,
    pip_install,
    prepare_once,
    read_marker,
    run_step,
    write_marker,
)
from strategies.worker.runner import START_TIMEOUT_S, WorkerError, WorkerProcess
from strategies.workload import Workload, judge

#: Where the committed eras are: ``eras/<name>/era.toml`` and that era's worker and recipes.
ERAS_DIR = Path(__file__).resolve().parents[2] / "eras"
#: ``gevent@2017``: today's strategy, then its era.
SEPARATOR = "@"
#: The file a complete build writes last; holds the digest it was built from and what it installed.
MARKER = "concbench-era.json"



@dataclass(frozen=True)
class Step:
    packages: tuple[str, ...]
    options: tuple[str, ...]
    why: str


@dataclass(frozen=True)
class Recipe:
    module: str
    profiles: tuple[str, ...]


@dataclass(frozen=True)
class Era:
    name: str
    python: str
    steps: tuple[Step, ...]
    recipes: dict[str, Recipe]
    directory: Path

    @property
    def digest(self) -> str:
        """What the virtualenv is built from (the interpreter and the steps): a change rebuilds it."""
        data = {"python": self.python, "steps": [[s.options, s.packages] for s in self.steps]}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    @property
    def pyenv_hint(self) -> str:
        return f"pyenv install {self.python}"


@dataclass(frozen=True)
class EraEnv:
    """A built era: its virtualenv's interpreter and what the build installed (read from the venv)."""

    era: Era
    python: Path
    version: str
    libraries: dict[str, str]


def names() -> list[str]:
    return sorted(path.parent.name for path in ERAS_DIR.glob("*/era.toml"))


@functools.cache
def load(name: str) -> Era:
    path = ERAS_DIR / name / "era.toml"
    if not path.is_file():
        raise ValueError(f"unknown era {name!r}; known: {', '.join(names()) or 'none'}")
    data = tomllib.loads(path.read_text())
    steps = tuple(Step(tuple(s["packages"]), tuple(s.get("options", ())), " ".join(s.get("why", "").split()))
                  for s in data["steps"])
    recipes = {strategy: Recipe(r["module"], tuple(r["profiles"])) for strategy, r in data["recipes"].items()}
    unknown = [strategy for strategy in recipes if strategy not in REGISTRY]
    if unknown:
        raise ValueError(f"{path}: recipes for strategies that do not exist today: {', '.join(unknown)}")
    return Era(data["name"], data["python"], steps, recipes, path.parent)


def twin(strategy: str, era: str) -> str:
    return f"{strategy}{SEPARATOR}{era}"


def split(name: str) -> tuple[str, str | None]:
    """``gevent@2017`` -> ("gevent", "2017"); ``gevent`` -> ("gevent", None)."""
    strategy, _, era = name.partition(SEPARATOR)
    return strategy, era or None


def twins(strategies: Sequence[str], era: str) -> tuple[str, ...]:
    """The era's rows for ``strategies``: those it has a recipe for."""
    recipes = load(era).recipes
    return tuple(twin(name, era) for name in strategies if name in recipes)


# -- the virtualenv --------------------------------------------------------------------------------------

def venv_dir(era: Era) -> Path:
    return cache_root() / "eras" / f"{era.name}-py{era.python}"


def find_interpreter(era: Era) -> Path:
    """The era's interpreter, or ``Unavailable`` saying how to get it."""
    override = os.environ.get("CONCBENCH_ERA_PYTHON")
    short = ".".join(era.python.split(".")[:2])
    candidates = [Path(override)] if override else [
        *(Path(root) / "versions" / era.python / "bin" / f"python{short}"
          for root in (os.environ.get("PYENV_ROOT"), Path.home() / ".pyenv") if root),
        *([Path(found)] if (found := shutil.which(f"python{short}")) else []),
    ]
    for candidate in candidates:
        if _version(candidate) == era.python:
            return candidate
    where = f"CONCBENCH_ERA_PYTHON={override} is not it" if override else "not in pyenv's versions nor on PATH"
    raise Unavailable(f"the {era.name} era needs Python {era.python} ({where}): {era.pyenv_hint}")


def _version(python: Path) -> str | None:
    found = describe(python)
    return found.version if found else None


def _built(era: Era, target: Path) -> EraEnv | None:
    """The venv at ``target`` when a complete build of these constraints is there."""
    marker = read_marker(target, MARKER, era.digest)
    if marker is None:
        return None
    return EraEnv(era, target / "bin" / "python", marker["python"], marker["libraries"])


def _build(era: Era, interpreter: Path, target: Path, say: Say) -> EraEnv:
    say(f"era {era.name}: building its virtualenv in {target} with {interpreter} (one-time, about a minute)")
    shutil.rmtree(target, ignore_errors=True)
    log = build_log(target)
    with log.open("w") as out:
        run_step([str(interpreter), "-m", "venv", str(target)], out, "building the era: python -m venv", log)
        python = target / "bin" / "python"
        for number, step in enumerate(era.steps, 1):
            pip_install(python, [*step.options, *step.packages], out,
                        f"building the era: pip step {number} of {len(era.steps)} ({', '.join(step.packages[:3])}…)",
                        log)
        libraries = freeze(python)
    version = _version(python) or era.python
    marker = {"digest": era.digest, "python": version, "libraries": libraries,
              "built": datetime.now(UTC).isoformat(timespec="seconds")}
    write_marker(target, MARKER, marker)  # last: the build is now complete
    return EraEnv(era, python, version, libraries)


_PREPARED: dict[str, EraEnv | str] = {}


def prepare(name: str, say: Say | None = None) -> EraEnv | str:
    """The era's built virtualenv, building it when needed; or the one-line reason it cannot run here.
    Once per process: later calls return the first answer. ``say`` gets one line of what is done."""

    def build(say: Say) -> tuple[EraEnv, str]:
        era = load(name)
        target = venv_dir(era)
        with locked(target):  # another sweep building the same era: wait for its build
            env = _built(era, target) or _build(era, find_interpreter(era), target, say)
        return env, f"Python {env.version}, its virtualenv {target}"

    return prepare_once(_PREPARED, name, f"era {name}", build, say)


def skip_reason(name: str, concurrency: int, policy: str, profile: str) -> str | None:
    """Why the era row ``name`` (``S@era``) cannot run at (C, policy, profile), or None."""
    strategy, era_name = split(name)
    assert era_name is not None
    limit = REGISTRY[strategy].limit_reason(concurrency, policy, profile)
    if limit:
        return limit
    recipe = load(era_name).recipes.get(strategy)
    if recipe is None or profile not in recipe.profiles:
        return f"the {era_name} era has no {profile} recipe for {strategy}"
    prepared = prepare(era_name)
    return prepared if isinstance(prepared, str) else None


def row_era(name: str) -> dict[str, Any]:
    """The era a row ran in, for the results (``bench.schema.EraRecord``): ``{}`` for today's rows."""
    strategy, era_name = split(name)
    if era_name is None:
        return {}
    prepared = prepare(era_name)
    if isinstance(prepared, str):
        return {"era": {"name": era_name, "python": load(era_name).python, "digest": load(era_name).digest,
                        "libraries": {}}}
    by_key = {key.lower(): version for key, version in prepared.libraries.items()}
    libraries = {lib: by_key.get(lib.lower()) for lib in REGISTRY[strategy].libraries}
    return {"era": {"name": era_name, "python": prepared.version, "digest": prepared.era.digest,
                    "libraries": libraries}}


# -- the worker ------------------------------------------------------------------------------------------

class EraWorkerProcess(WorkerProcess):
    """A ``WorkerProcess`` for ``S@era``: the era's ``worker.py`` under the era's interpreter, speaking the
    same protocol, except that ``prepare`` sends the URLs (built here, by ``Workload.urls``) and ``measure``
    answers with raw outcomes, which ``measurements`` verifies and summarises here."""

    def __init__(self, name: str, env: EraEnv, cpus: set[int] | None = None,
                 start_timeout_s: float = START_TIMEOUT_S):
        strategy, _ = split(name)
        recipe = env.era.recipes[strategy]
        # -E -s: today's PYTHONPATH and user site must not reach the old interpreter.
        command = [str(env.python), "-E", "-s", str(env.era.directory / "worker.py"), recipe.module]
        self._urls: list[str] = []
        super().__init__(name, cpus, start_timeout_s, command=command)

    def prepare_message(self, workload: Workload) -> dict[str, Any]:
        self._urls = workload.urls()
        return {"cmd": "prepare", "urls": self._urls}

    def measurements(self, reply: dict[str, Any], workload: Workload) -> dict[str, Any]:
        outcomes = [Outcome(status, None if body is None else base64.b64decode(body), error, latency_s)
                    for status, body, error, latency_s in reply["outcomes"]]
        return {"requests": len(self._urls), "wall_s": reply["wall_s"], "cpu_s": reply["cpu_s"],
                "peak_rss_kb": reply["peak_rss_kb"], "pss_kb": reply["pss_kb"], **judge(self._urls, outcomes)}

    def explain_round(self, workload: Workload, deadline_s: float | None = None) -> dict[str, Any]:
        raise WorkerError(f"{self.name}: an era's worker has no profiler (--explain is for today's rows)",
                          alive=True)


def worker_process(name: str, cpus: set[int] | None = None) -> WorkerProcess:
    """The worker for a row's strategy: today's, or its era's for ``S@era`` (prepared first)."""
    _, era_name = split(name)
    if era_name is None:
        return WorkerProcess(name, cpus=cpus)
    prepared = prepare(era_name)
    if isinstance(prepared, str):
        raise WorkerError(f"{name}: {prepared}")
    return EraWorkerProcess(name, prepared, cpus=cpus)
