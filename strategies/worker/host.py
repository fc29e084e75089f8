"""The worker process: ``python -m strategies.worker NAME`` hosts one strategy and runs rounds on command.

Protocol: JSON lines. The runner writes one command per line on stdin; the worker answers each with one
line on the protocol channel (the original stdout, duplicated; fd 1 itself is pointed at stderr so a chatty
library can never corrupt the channel). Every reply has ``"ok"``; failures carry ``"error"`` (a traceback).

    <- {"ok": true, "ready": true, "import_s": 0.21, "pid": 1234,       first line, unasked
        "python": "3.13.0", "free_threaded": false}
    -> {"cmd": "setup", "config": {ClientConfig fields}}   <- {"ok": true, "cold_start_s": 0.01,
                                                               "gil_enabled": true}
    -> {"cmd": "round", "workload": {Workload fields}}     <- {"ok": true, "result": {measurements}}
    -> {"cmd": "prepare", "workload": {Workload fields}}   <- {"ok": true}
    -> {"cmd": "fetch"}                                    <- {"ok": true, "wall_s": 0.52}
    -> {"cmd": "measure"}                                  <- {"ok": true, "result": {measurements}}
    -> {"cmd": "explain", "workload": {Workload fields}}   <- {"ok": true, "explain": {breakdown}}
    -> {"cmd": "teardown"}                                 <- {"ok": true}
    -> {"cmd": "exit"}                                     <- {"ok": true}, then the process exits

``gil_enabled`` is ``sys._is_gil_enabled()`` read after the strategy started (null before 3.13): an extension
imported by the strategy may turn a free-threaded build's GIL back on, and the row must show it
(``strategies.pythons``). ``setup`` may be sent again at any time (it tears the previous fetcher down first), so one worker serves
many configurations. A strategy exception in setup or round is an error reply; the worker lives on.
``round`` is ``prepare`` + ``fetch`` + ``measure`` in one exchange; a harness that times the round trip
itself (pytest-benchmark) sends the three apart, so that only ``fetch`` is inside its timer.
``serve`` and ``Host`` are this loop and this host, for another worker of the same protocol: the model
ladder's (``strategies.probes.ladder_worker``), which hosts a strategy's code with some of its features off.
``explain`` is never a timed round: the workload's fetch once unprofiled (a reference CPU), then once under
the profiler, measured like a round, and the CPU breakdown of ``strategies.probes.explain`` (which imports the
profiler only then); ``errors`` counts both fetches' failed requests.

Rules this module keeps:
- the strategy module is imported before anything that imports socket, threading or select (psutil does):
  gevent's ``patch_all()`` runs at the strategy's import and must come first. Until then only os, sys,
  json and time are loaded, none of which import those;
- the timed region is exactly ``fetcher.fetch(urls)``; URL generation, verification and measurement
  bookkeeping are outside it (``prepare`` before, ``measure`` after);
- CPU is user+sys of the whole process tree (this worker and every descendant: pool processes, fork
  servers), so models that spend CPU in children are not flattered;
- setup raises the soft RLIMIT_NOFILE to what C connections need (``local_server.fdlimit``), or fails
  with the numbers when the hard limit does not allow it; it never lowers the limit;
- peak RSS is the per-round high-water mark (VmHWM, reset before the round through
  ``/proc/PID/clear_refs``) summed over the tree. The sum counts pages shared between processes (forked
  children) once per process, so it overstates the processes model somewhat; it never understates.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from dataclasses import dataclass
from typing import IO, Any


def main(argv: list[str]) -> int:
    channel = claim_stdout()
    if len(argv) != 2:
        send(channel, {"ok": False, "error": "usage: python -m strategies.worker NAME"})
        return 2
    started = time.perf_counter()
    try:
        module = import_strategy(argv[1])
    except BaseException:  # noqa: BLE001 - any import failure is reported, then the worker exits
        send(channel, {"ok": False, "error": traceback.format_exc()})
        return 1
    return serve(channel, Host(module), time.perf_counter() - started)


def serve(channel: IO[str], host: Host, import_s: float) -> int:
    """Answer the runner's commands on ``channel`` with ``host`` until ``exit`` or the end of stdin."""
    import sysconfig  # after the strategy's import (gevent's patching first): it loads no socket module

    from strategies.base import ClientConfig
    from strategies.workload import Workload, config_from_dict

    send(channel, {"ok": True, "ready": True, "import_s": import_s, "pid": os.getpid(),
                   "python": ".".join(map(str, sys.version_info[:3])),
                   "free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED"))})
    for line in sys.stdin.buffer:
        command = None
        try:
            message = json.loads(line)
            command = message.get("cmd")
            if command == "setup":
                config: ClientConfig = config_from_dict(message["config"])
                reply: dict[str, Any] = {"cold_start_s": host.setup(config), "gil_enabled": gil_enabled()}
            elif command == "round":
                host.prepare(Workload.from_dict(message["workload"]))
                host.fetch()
                reply = {"result": host.measure()}
            elif command == "prepare":
                host.prepare(Workload.from_dict(message["workload"]))
                reply = {}
            elif command == "fetch":
                reply = {"wall_s": host.fetch()}
            elif command == "measure":
                reply = {"result": host.measure()}
            elif command == "explain":
                reply = {"explain": host.explain(Workload.from_dict(message["workload"]))}
            elif command in ("teardown", "exit"):
                host.teardown()
                reply = {}
            else:
                raise ValueError(f"unknown command {command!r}")
        except Exception:  # noqa: BLE001 - a strategy failure is a reply; the worker lives on
            send(channel, {"ok": False, "error": traceback.format_exc()})
            continue
        send(channel, {"ok": True, **reply})
        if command == "exit":
            return 0
    host.teardown()
    return 0


def gil_enabled() -> bool | None:
    """Whether the GIL is on now: always on before 3.13 (None: the interpreter cannot say)."""
    is_enabled = getattr(sys, "_is_gil_enabled", None)
    return bool(is_enabled()) if is_enabled is not None else None


def claim_stdout() -> IO[str]:
    """Keep the real stdout for the protocol and send everything else printed to fd 1 to stderr."""
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")  # os.dup: not inherited by child processes
    os.dup2(2, 1)
    return channel


def send(channel: IO[str], message: dict[str, Any]) -> None:
    channel.write(json.dumps(message) + "\n")
    channel.flush()


def import_strategy(name: str) -> Any:
    import importlib

    from strategies import REGISTRY

    if name not in REGISTRY:
        raise SystemExit(f"unknown strategy {name!r}; known: {', '.join(REGISTRY)}")
    return importlib.import_module(REGISTRY[name].module)


class Host:
    """One strategy module (anything with ``start(config)``) and its current fetcher. ``judge`` makes a
    round's verdict from its URLs and outcomes (``strategies.workload.judge`` unless another is given: the
    model ladder's rungs that check each response where it arrives, ``strategies.probes.ladder_worker``)."""

    def __init__(self, module: Any, judge: Any = None):
        self.module = module
        self.judge = judge
        self.fetcher: Any = None
        self.config: Any = None
        self.round_state: _Round | None = None

    def setup(self, config: Any) -> float:
        self.teardown()
        _open_files_for(config.concurrency)
        started = time.perf_counter()
        self.fetcher = self.module.start(config)
        self.config = config
        return time.perf_counter() - started

    def teardown(self) -> None:
        fetcher, self.fetcher, self.config, self.round_state = self.fetcher, None, None, None
        if fetcher is not None:
            fetcher.close()

    def prepare(self, workload: Any) -> None:
        """Everything a round needs before its timed region: URLs, a reset RSS peak, a CPU snapshot."""
        from strategies.worker import treestats

        if self.fetcher is None or self.config != workload.client_config():
            raise RuntimeError("round before a setup with this workload's client config")
        tree = treestats.ProcessTree()
        tree.reset_peak_rss()
        self.round_state = _Round(workload.urls(), tree, tree.cpu_times())

    def fetch(self) -> float:
        """The timed region: the strategy's fetch, nothing else."""
        state = self._state()
        if state.outcomes is not None:
            raise RuntimeError("fetch sent twice for one prepare")
        started = time.perf_counter()
        state.outcomes = self.fetcher.fetch(state.urls)
        state.wall_s = time.perf_counter() - started
        return state.wall_s

    def explain(self, workload: Any) -> dict[str, Any]:
        """Where a round's CPU goes (``strategies.probes.explain``): the workload's fetch once unprofiled, for this
        process's reference CPU, then once profiled, measured like a round."""
        from strategies.probes import explain
        from strategies.workload import verify

        self.prepare(workload)
        urls = self._state().urls
        started = time.process_time()
        outcomes = self.fetcher.fetch(urls)
        reference_s = time.process_time() - started
        errors = verify(urls, outcomes).errors
        started_at = time.time()
        self.prepare(workload)  # the profiled round's own CPU snapshot and peak
        state = self._state()
        own_s = time.process_time()
        with explain.profiled() as profile:
            started = time.perf_counter()
            state.outcomes = self.fetcher.fetch(state.urls)
            state.wall_s = time.perf_counter() - started
        own_s = time.process_time() - own_s
        measured = self.measure()
        measured["errors"] += errors
        # The tree's CPU less this process's: its children's (none without children: reading the tree costs
        # this process a little CPU outside the bracket, which must not pass for a child's).
        children_s = max(measured["cpu_s"] - own_s, 0.0) if state.tree.descendants else 0.0
        explained = explain.explanation(profile, measured, reference_s, children_s)
        return {**explained, "started_at": started_at}

    def measure(self) -> dict[str, Any]:
        """The round's figures, verification included. CPU is read here, after the fetch reply: the tree
        is idle between the two, so the few microseconds of writing that reply are all it adds."""
        from strategies.workload import judge

        judge = self.judge or judge
        state, self.round_state = self._state(), None
        if state.outcomes is None:
            raise RuntimeError("measure before fetch")
        state.tree.refresh()  # a process born during the round counts from zero
        cpu_s = state.tree.cpu_seconds_since(state.cpu_before)
        return {
            "requests": len(state.urls),
            "wall_s": state.wall_s,
            "cpu_s": cpu_s,
            "peak_rss_kb": state.tree.peak_rss_kb(),
            "pss_kb": state.tree.pss_kb(),
            **judge(state.urls, state.outcomes),
        }

    def _state(self) -> _Round:
        if self.round_state is None:
            raise RuntimeError("fetch or measure without a prepare")
        return self.round_state


def _open_files_for(concurrency: int) -> None:
    """Raise this process's soft RLIMIT_NOFILE to what C connections need (``local_server.fdlimit``), or
    fail the setup with the numbers: an EMFILE in the middle of a round would fail requests instead."""
    from local_server.fdlimit import needed, raise_soft_limit, shortfall

    reason = shortfall(concurrency)
    if reason:
        raise RuntimeError(reason)
    raise_soft_limit(needed(concurrency))


@dataclass
class _Round:
    """A round between ``prepare`` and ``measure``."""

    urls: list[str]
    tree: Any
    cpu_before: Any
    outcomes: list[Any] | None = None
    wall_s: float = 0.0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
