"""Virtualenvs built once outside the checkout and reused while their constraints hold: what an era's
(``strategies.eras``) and an interpreter's (``strategies.pythons``) rows both run in.

Rules this module keeps:
- every virtualenv lives under ``cache_root()`` (``$CONCBENCH_CACHE``, default ``~/.cache/concbench``), never
  in the checkout;
- a build happens under an exclusive lock beside its directory (``locked``), so two sweeps never build one
  virtualenv at once: the second waits, then finds the first's build;
- a build counts only once its marker (a JSON file holding the constraints' digest) is written, last
  (``write_marker``): an interrupted build has no marker and is redone, never used; a marker of another
  digest means the constraints changed, and the directory is rebuilt from scratch;
- a virtualenv is prepared once per process (``prepare_once``): its first answer, the built virtualenv or
  the one line why its rows cannot run, is every later caller's; that line is said once, never raised;
- a build step that fails is ``Unavailable`` with one line: the step, pip's last ``ERROR`` line and the
  log's path; every step is bounded (``STEP_TIMEOUT_S``) and pip gives up within a minute offline
  (``PIP_NETWORK``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

#: Bound on one pip step: the first era build took 40 s here; ten minutes means the network is stuck.
STEP_TIMEOUT_S = 600.0
#: pip's own per-connection timeout and retries for a build: fail within a minute when offline, rather
#: than after pip's default of five retries.
PIP_NETWORK = ("--timeout", "30", "--retries", "1")


Say = Callable[[str], None]
Env = TypeVar("Env")

#: What ``prepare_once`` says before the reason a virtualenv's rows cannot run.
SKIPPED = "its rows are skipped"


class Unavailable(Exception):
    """Why a virtualenv (or the interpreter it needs) cannot be had here: one line, its rows' skip reason."""


@dataclass(frozen=True)
class Interpreter:
    """What an interpreter says of itself: its version and whether it is a free-threaded build."""

    version: str
    free_threaded: bool

    @property
    def short(self) -> str:
        """``3.13`` (``3.13t`` for a free-threaded build): the X.Y an interpreter's rows are named by."""
        return ".".join(self.version.split(".")[:2]) + ("t" if self.free_threaded else "")


#: One subprocess: the version, and ``Py_GIL_DISABLED`` (1 on a free-threaded build, 0 or None otherwise).
_DESCRIBE = ("import sys, sysconfig; print('%d.%d.%d' % sys.version_info[:3], "
             "int(bool(sysconfig.get_config_var('Py_GIL_DISABLED'))))")


def cache_root() -> Path:
    return Path(os.environ.get("CONCBENCH_CACHE") or Path.home() / ".cache" / "concbench")


def describe(python: Path) -> Interpreter | None:
    """The interpreter at ``python``, or None when it is not one that runs."""
    try:
        done = subprocess.run([str(python), "-E", "-s", "-c", _DESCRIBE], capture_output=True, text=True,
                              timeout=30, check=True)
        version, free = done.stdout.split()
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return Interpreter(version, free == "1")


@contextlib.contextmanager
def locked(target: Path) -> Iterator[None]:
    """Hold the build lock of the virtualenv ``target`` (another sweep building it: wait for its build)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / f"{target.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def read_marker(target: Path, name: str, digest: str) -> dict[str, Any] | None:
    """The marker of a complete build of ``digest`` at ``target``, or None (none, another digest, no python)."""
    try:
        marker: dict[str, Any] = json.loads((target / name).read_text())
    except (OSError, ValueError):
        return None
    if marker.get("digest") != digest or not (target / "bin" / "python").exists():
        return None
    return marker


def write_marker(target: Path, name: str, marker: dict[str, Any]) -> None:
    """Write the marker: the build's last act, after which it counts."""
    (target / name).write_text(json.dumps(marker, indent=1) + "\n")


def build_log(target: Path) -> Path:
    return target.parent / f"{target.name}.log"


def run_step(command: list[str], out: IO[str], what: str, log: Path) -> None:
    """One build command, its output appended to ``log``; its failure is ``Unavailable`` naming ``what`` and
    pip's last error line."""
    out.write(f"$ {' '.join(command)}\n")
    out.flush()
    start = out.tell()
    try:
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, timeout=STEP_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise Unavailable(f"{what} took over {STEP_TIMEOUT_S:.0f} s (log: {log})") from None
    if done.returncode:
        raise Unavailable(f"{what} failed: {last_error(log, start)} (log: {log})")


def last_error(log: Path, start: int = 0) -> str:
    """pip's last ``ERROR`` line in ``log`` from byte ``start`` on (a step's own output), or its last line."""
    with log.open("rb") as stream:
        stream.seek(start)
        text = stream.read().decode(errors="replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")]
    return (errors or lines or ["no output"])[-1][:200]


def pip_install(python: Path, arguments: list[str], out: IO[str], what: str, log: Path) -> None:
    run_step([str(python), "-m", "pip", "install", "--no-input", *PIP_NETWORK, *arguments], out, what, log)


def freeze(python: Path) -> dict[str, str]:
    """Every distribution installed in the virtualenv of ``python``, with its version."""
    text = subprocess.run([str(python), "-m", "pip", "freeze", "--all"], capture_output=True, text=True,
                          timeout=STEP_TIMEOUT_S, check=True).stdout
    return dict(line.split("==", 1) for line in text.split() if "==" in line)


def prepare_once(prepared: dict[str, Env | str], key: str, who: str, build: Callable[[Say], tuple[Env, str]],
                 say: Say | None = None) -> Env | str:
    """``key``'s virtualenv from ``build`` (which returns it and the line saying what it is), or the one-line
    reason it cannot run here; once per process through ``prepared``: later calls return the first answer.
    ``say`` (default: standard error) gets ``who: `` and one line of what was done."""
    if key in prepared:
        return prepared[key]
    say = say or (lambda line: print(line, file=sys.stderr))
    try:
        env, line = build(say)
        say(f"{who}: {line}")
        prepared[key] = env
    except (Unavailable, OSError, subprocess.SubprocessError) as exc:
        reason = str(exc) if isinstance(exc, Unavailable) else f"building {who}'s virtualenv failed: {exc}"
        say(f"{who}: {SKIPPED}: {reason}")
        prepared[key] = reason
    return prepared[key]
