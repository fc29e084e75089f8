"""A row's strategy and where it runs: today's (``S``), an era's (``S@2017``) or another interpreter's
(``S@py3.13``). What the sweep and the CLI ask of a row name goes through here, to the module of its kind.

Rules this module keeps:
- a name is split on ``@`` once (``strategies.eras.split``); the tag after it is an interpreter's when it
  reads ``py<X.Y>[t]`` (``strategies.pythons.TAG``), else an era's name (no era may be named ``py…``);
- each question (the skip reason, the row's record, the worker) is answered by that kind's module alone.
"""

from __future__ import annotations

from typing import Any, Literal

from strategies import REGISTRY, eras, pythons
from strategies.worker.runner import WorkerError, WorkerProcess

Kind = Literal["today", "era", "python"]


def kind(name: str) -> Kind:
    tag = eras.split(name)[1]
    return "today" if tag is None else "python" if pythons.is_tag(tag) else "era"


def skip_reason(name: str, concurrency: int, policy: str, profile: str) -> str | None:
    """Why the row ``name`` cannot run at (C, policy, profile), or None. ValueError for an unknown era."""
    found = kind(name)
    if found == "era":
        return eras.skip_reason(name, concurrency, policy, profile)
    if found == "python":
        return pythons.skip_reason(name, concurrency, policy, profile)
    return REGISTRY[name].skip_reason(concurrency, policy, profile)


def record(name: str) -> dict[str, Any]:
    """What a row records of where it ran: ``{"era": ...}``, ``{"python": ...}`` or ``{}`` for today's."""
    found = kind(name)
    return eras.row_era(name) if found == "era" else pythons.row_python(name) if found == "python" else {}


def worker_process(name: str, cpus: set[int] | None = None) -> WorkerProcess:
    """The worker for a row: today's, its era's for ``S@era``, today's on the tag's interpreter for ``S@pyX.Y``."""
    if kind(name) != "python":
        return eras.worker_process(name, cpus=cpus)
    prepared = pythons.prepare(eras.split(name)[1] or "")
    if isinstance(prepared, str):
        raise WorkerError(f"{name}: {prepared}")
    return pythons.PythonWorkerProcess(name, prepared, cpus=cpus)
