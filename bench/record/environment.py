"""What a run records of where and with what it ran: the machine, the libraries' versions, the commit.

Rules this module keeps:
- a run's header is made once, when the sweep starts (``new_run``); every figure a reader needs to judge the
  numbers (CPU, pinning, Python, every strategy's library versions and the harness's own) is in it;
- it reads the machine and the installed packages, never the network; a missing figure is recorded as
  unknown (``None``, "unknown"), never guessed.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.record.schema import SCHEMA_VERSION, CommitInfo, Machine, Options, Pinning, Run, ServerRecord
from strategies import REGISTRY

#: The harness's own libraries: they measure (psutil), time (pytest-benchmark) and judge (scipy).
HARNESS_LIBRARIES = ("httptools", "psutil", "pytest", "pytest-benchmark", "matplotlib", "scipy", "numpy")
#: The libraries whose versions decide the result, recorded in every run: each strategy's (its registry
#: entry names them) and the harness's.
LIBRARIES = tuple(dict.fromkeys(
    [lib for spec in REGISTRY.values() for lib in spec.libraries] + list(HARNESS_LIBRARIES)))

#: The checkout whose commit made the numbers (``commit_info``): bench/record/ is two levels below it.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def machine_info(pinning: Pinning) -> Machine:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    return {
        "hostname": socket.gethostname(),
        "cpu_count": os.cpu_count(),
        "cpu_model": model or platform.processor() or "unknown",
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "pinning": pinning,
    }


def library_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def new_run(machine: Machine, options: Options, server: ServerRecord,
            system_check: dict[str, Any] | None) -> Run:
    return {
        "schema_version": SCHEMA_VERSION,
        "created": None,
        "machine": machine,
        "commit_info": commit_info(),
        "libraries": library_versions(),
        "options": options,
        "server": server,
        "system_check": system_check,
        "rows": [],
    }


def commit_info() -> CommitInfo | None:
    """The project's git commit (as pytest-benchmark's ``commit_info``): which code made the numbers."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10,
                              check=True).stdout.strip()

    try:
        branch = git("rev-parse", "--abbrev-ref", "HEAD")
        return {"id": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
                "branch": None if branch == "HEAD" else branch}
    except (OSError, subprocess.SubprocessError):
        return None
