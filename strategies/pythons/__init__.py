"""Interpreters: today's recipes, today's worker and today's libraries on another CPython, beside today's.

``--python 3.12,3.13`` (the sweep) or ``python -m strategies run asyncio@py3.13`` runs strategy S's row
``S@py3.13``: today's worker (``python -m strategies.worker S``, the same code) under that interpreter, in a
virtualenv of its own with the project and its extras. This module is that virtualenv and that worker:

- ``tag_of``: a ``--python`` value (a pyenv version name such as ``3.13`` or ``3.13.0``, or an
  interpreter's path) as its rows' tag, ``py3.13`` (``py3.13t`` for a free-threaded build);
- ``prepare``: the tag's virtualenv, built on demand outside the checkout (``venv_dir``), reused while its
  marker holds the constraints' digest (``digest``), rebuilt when it does not; a missing interpreter or a
  failed build is a one-line reason, its rows' skip reason, never an exception;
- ``skip_reason``, ``row_python`` and ``PythonWorkerProcess``: what the sweep and the CLI ask of a row.

Rules this module keeps:
- an interpreter is found, never installed: a path given, else pyenv's ``versions/<X.Y>*`` (the highest
  patch release), else ``pythonX.Y`` on PATH; each candidate is asked its version and build
  (``sysconfig``'s ``Py_GIL_DISABLED``), and one that is not the X.Y (and build) asked for is passed over;
- the virtualenv lives in ``$CONCBENCH_CACHE`` under ``pythons/<tag>-<version>-<checkout>`` and is built
  under the lock of ``strategies.venvs`` (marker last: an interrupted build is redone, never used);
- the project is installed **editable** from this checkout (``pip install -e``): the row runs exactly the
  source today's row runs, and an edit to it needs no rebuild; a non-editable install would freeze a copy
  of the source that the digest (constraints, not code) cannot see go stale. An editable virtualenv is
  bound to one checkout, so the checkout's path is part of the digest and of the directory's name;
- the digest is that of what pip is asked to install: ``pyproject.toml``'s dependencies and the
  requirements of every extra of ``all``, the interpreter's version and build, the checkout;
- the base install (the project and its dependencies) failing makes the interpreter unavailable; each
  extra is one pip step of its own, allowed to fail: its failure (pip's last error line) is recorded in the
  marker and is the skip reason of exactly the strategies of that extra (``StrategySpec.extra``);
- a row records its interpreter (``row_python``): version, build, the digest, its libraries' versions in the
  virtualenv, and ``gil_enabled`` as the worker read it after starting the strategy
  (``sys._is_gil_enabled()`` where it exists): an extension that turns the GIL back on must show.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from strategies import REGISTRY
from strategies.eras import split
from strategies.venvs import (
    Interpreter,
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
from strategies.worker.runner import START_TIMEOUT_S, WorkerProcess

#: The checkout whose project the virtualenvs install (editable) and whose pyproject.toml they follow.
CHECKOUT = Path(__file__).resolve().parents[2]
#: The file a complete build writes last: the digest it was built from, what it installed, what failed.
MARKER = "concbench-python.json"
#: A row's tag: ``py`` and the interpreter's X.Y, ``t`` after it for a free-threaded build.
TAG = re.compile(r"py(\d+\.\d+t?)")
#: A ``--python`` value that names a version (pyenv's names: ``3.13``, ``3.13.0``, ``3.13t``).
VERSION = re.compile(r"(\d+)\.(\d+)(?:\.\d+)?(t?)")
#: The extra that gathers every library extra: each of its members is one pip step.
ALL_EXTRA = "all"



@dataclass(frozen=True)
class PythonEnv:
    """A built virtualenv of an interpreter: its python, what it is, what it holds, which extras failed."""

    tag: str
    python: Path
    interpreter: Interpreter
    digest: str
    libraries: dict[str, str]
    #: extra -> the one-line reason it did not install (pip's last error line).
    failed: dict[str, str] = field(default_factory=dict)


def is_tag(tag: str | None) -> bool:
    return tag is not None and TAG.fullmatch(tag) is not None


#: Interpreters given by path (``--python /opt/python3.13/bin/python3``): tag -> path.
_GIVEN: dict[str, Path] = {}


def tag_of(spec: str) -> str:
    """The rows' tag of a ``--python`` value; ValueError (one line) for a value that is neither a version
    name nor an interpreter that runs. A path is asked its version here, and remembered for its tag."""
    spec = spec.strip()
    if (version := VERSION.fullmatch(spec)) is not None:
        return f"py{version[1]}.{version[2]}{version[3]}"
    if "/" not in spec:
        raise ValueError(f"--python: {spec!r} is neither a version (3.12, 3.13.0, 3.13t) nor an interpreter's path")
    found = describe(Path(spec))
    if found is None:
        raise ValueError(f"--python: {spec} is not an interpreter that runs here")
    tag = f"py{found.short}"
    _GIVEN[tag] = Path(spec)
    return tag


def find_interpreter(tag: str) -> tuple[Path, Interpreter]:
    """The interpreter of ``tag``, or ``Unavailable`` saying how to get it."""
    match = TAG.fullmatch(tag)
    if match is None:
        raise ValueError(f"{tag!r} is not an interpreter's tag (py3.13, py3.13t)")
    short = match[1]
    if tag in _GIVEN:
        candidates = [_GIVEN[tag]]
    else:
        roots = [root for root in (_pyenv_root(), Path.home() / ".pyenv") if root is not None]
        versions = [path for root in roots for path in (root / "versions").glob(f"{short.rstrip('t')}*")
                    if _same_release(path.name, short)]
        versions.sort(key=lambda path: _release(path.name), reverse=True)
        candidates = [path / "bin" / "python" for path in versions]
        if (found := shutil.which(f"python{short}")) is not None:
            candidates.append(Path(found))
    for candidate in candidates:
        described = describe(candidate)
        if described is not None and described.short == short:
            return candidate, described
    build = " (a free-threaded build)" if short.endswith("t") else ""
    raise Unavailable(f"Python {short}{build} is not installed here (not in pyenv's versions, nor python{short} "
                      f"on PATH): pyenv install {short}")


def _pyenv_root() -> Path | None:
    root = os.environ.get("PYENV_ROOT")
    return Path(root) if root else None


def _same_release(name: str, short: str) -> bool:
    """pyenv's version directory ``name`` (3.13.0, 3.13.0t) is a release of X.Y[t] ``short``."""
    match = VERSION.fullmatch(name)
    return match is not None and f"{match[1]}.{match[2]}{match[3]}" == short


def _release(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name))


# -- the virtualenv --------------------------------------------------------------------------------------

def constraints() -> tuple[list[str], dict[str, list[str]]]:
    """What pip is asked for, from ``pyproject.toml``: the dependencies, and each extra of ``all`` with its
    requirements (references to the project's own extras expanded)."""
    project = tomllib.loads((CHECKOUT / "pyproject.toml").read_text())["project"]
    extras: dict[str, list[str]] = project["optional-dependencies"]

    def expanded(name: str) -> list[str]:
        out = []
        for requirement in extras[name]:
            own = re.fullmatch(rf"{project['name']}\[(.+)\]", requirement)
            out += [r for part in own[1].split(",") for r in expanded(part.strip())] if own else [requirement]
        return list(dict.fromkeys(out))

    members = re.fullmatch(rf"{project['name']}\[(.+)\]", extras[ALL_EXTRA][0])
    assert members is not None, "the `all` extra lists the project's extras"
    assert len(extras[ALL_EXTRA]) == 1, "the `all` extra lists the project's extras"
    return list(project["dependencies"]), {name.strip(): expanded(name.strip()) for name in members[1].split(",")}


def digest(interpreter: Interpreter) -> str:
    """The constraints' digest: a change to any of them rebuilds the virtualenv."""
    dependencies, extras = constraints()
    data = {"python": interpreter.version, "free_threaded": interpreter.free_threaded, "checkout": str(CHECKOUT),
            "dependencies": dependencies, "extras": extras}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def venv_dir(tag: str, interpreter: Interpreter) -> Path:
    checkout = hashlib.sha256(str(CHECKOUT).encode()).hexdigest()[:8]
    return cache_root() / "pythons" / f"{tag}-{interpreter.version}-{checkout}"


def _built(tag: str, interpreter: Interpreter, target: Path) -> PythonEnv | None:
    marker = read_marker(target, MARKER, digest(interpreter))
    if marker is None:
        return None
    return PythonEnv(tag, target / "bin" / "python", interpreter, marker["digest"], marker["libraries"],
                     marker["failed"])


def _build(tag: str, interpreter: Interpreter, source: Path, target: Path, say: Say) -> PythonEnv:
    say(f"{tag}: building its virtualenv in {target} with {source} (Python {interpreter.version}; one-time, "
        "a minute or two)")
    shutil.rmtree(target, ignore_errors=True)
    dependencies, extras = constraints()
    log = build_log(target)
    failed: dict[str, str] = {}
    with log.open("w") as out:
        run_step([str(source), "-m", "venv", str(target)], out, f"building {tag}'s virtualenv: python -m venv", log)
        python = target / "bin" / "python"
        pip_install(python, ["-e", str(CHECKOUT)], out,
                    f"installing concbench ({', '.join(dependencies)}) on Python {interpreter.version}", log)
        for extra, requirements in extras.items():
            failed.update(_install_extra(python, extra, requirements, interpreter, out, log))
        libraries = freeze(python)
    marker: dict[str, Any] = {"digest": digest(interpreter), "python": interpreter.version,
              "free_threaded": interpreter.free_threaded, "libraries": libraries, "failed": failed,
              "built": datetime.now(UTC).isoformat(timespec="seconds")}
    write_marker(target, MARKER, marker)  # last: the build is now complete
    return PythonEnv(tag, python, interpreter, marker["digest"], libraries, failed)


def _install_extra(python: Path, extra: str, requirements: list[str], interpreter: Interpreter, out: IO[str],
                   log: Path) -> dict[str, str]:
    """One extra's pip step: {} when it installed, else {extra: why, in one line}."""
    try:
        pip_install(python, requirements, out, f"pip install {' '.join(requirements)}", log)
    except Unavailable as exc:
        return {extra: f"concbench[{extra}] does not install on Python {interpreter.version}: {exc}"}
    return {}


_PREPARED: dict[str, PythonEnv | str] = {}


def prepare(tag: str, say: Say | None = None) -> PythonEnv | str:
    """The tag's built virtualenv, building it when needed; or the one-line reason it cannot run here.
    Once per process: later calls return the first answer. ``say`` gets one line of what is done."""

    def build(say: Say) -> tuple[PythonEnv, str]:
        source, interpreter = find_interpreter(tag)
        target = venv_dir(tag, interpreter)
        with locked(target):  # another sweep building the same virtualenv: wait for its build
            env = _built(tag, interpreter, target) or _build(tag, interpreter, source, target, say)
        failed = f"; not installed: {', '.join(env.failed)} (their strategies are skipped)" if env.failed else ""
        build_kind = " (free-threaded)" if interpreter.free_threaded else ""
        return env, f"Python {interpreter.version}{build_kind}, its virtualenv {target}{failed}"

    return prepare_once(_PREPARED, tag, tag, build, say)


def skip_reason(name: str, concurrency: int, policy: str, profile: str) -> str | None:
    """Why the row ``name`` (``S@py3.13``) cannot run at (C, policy, profile), or None."""
    strategy, tag = split(name)
    assert tag is not None
    spec = REGISTRY[strategy]
    limit = spec.limit_reason(concurrency, policy, profile)
    if limit:
        return limit
    prepared = prepare(tag)
    if isinstance(prepared, str):
        return prepared
    return prepared.failed.get(spec.extra) if spec.extra is not None else None


def row_python(name: str) -> dict[str, Any]:
    """The interpreter a row ran on, for the results (``bench.record.schema.PythonRecord``): ``{}`` for
    today's rows and an era's. ``gil_enabled`` is the worker's to say (``WorkerProcess.gil_enabled``)."""
    strategy, tag = split(name)
    if not is_tag(tag):
        return {}
    assert tag is not None
    prepared = prepare(tag)
    if isinstance(prepared, str):
        return {"python": {"tag": tag, "version": None, "free_threaded": tag.endswith("t"), "gil_enabled": None,
                           "digest": None, "libraries": {}}}
    by_key = {key.lower(): version for key, version in prepared.libraries.items()}
    libraries = {lib: by_key.get(lib.lower()) for lib in REGISTRY[strategy].libraries}
    return {"python": {"tag": tag, "version": prepared.interpreter.version,
                       "free_threaded": prepared.interpreter.free_threaded, "gil_enabled": None,
                       "digest": prepared.digest, "libraries": libraries}}


# -- the worker ------------------------------------------------------------------------------------------

class PythonWorkerProcess(WorkerProcess):
    """Today's ``WorkerProcess`` running today's worker under the virtualenv's interpreter: the same protocol,
    the same measurements and verification, in the worker."""

    def __init__(self, name: str, env: PythonEnv, cpus: set[int] | None = None,
                 start_timeout_s: float = START_TIMEOUT_S):
        strategy, _ = split(name)
        # -E -s -P: neither today's PYTHONPATH, nor the user site, nor the current directory reaches the
        # worker: it imports the project through the virtualenv's editable install of this checkout.
        command = [str(env.python), "-E", "-s", "-P", "-m", "strategies.worker", strategy]
        super().__init__(name, cpus, start_timeout_s, command=command)
