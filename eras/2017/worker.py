"""The 2017 era's worker: ``python3.6 worker.py MODULE`` hosts one recipe of this directory, on the old APIs.

Python 3.6 code (no dataclasses, no postponed annotations, no asyncio.run): it runs in the era's virtualenv,
spawned by today's runner (``strategies.eras.EraWorkerProcess``), and speaks the JSON lines of today's worker
(``strategies.worker``) with one difference: it never judges. It returns what each request gave and its own
raw measurements; today's code verifies every body and computes every figure.

    <- {"ok": true, "ready": true, "import_s": 0.3, "pid": 1234, "python": "3.6.15"}      first line, unasked
    -> {"cmd": "setup", "config": {ClientConfig fields}}   <- {"ok": true, "cold_start_s": 0.01}
    -> {"cmd": "prepare", "urls": [...]}                   <- {"ok": true}
    -> {"cmd": "fetch"}                                    <- {"ok": true, "wall_s": 0.52}
    -> {"cmd": "measure"}   <- {"ok": true, "wall_s", "cpu_s", "peak_rss_kb", "pss_kb",
                                "outcomes": [[status, body as base64, error, latency_s], ...]}
    -> {"cmd": "teardown"} / {"cmd": "exit"}               <- {"ok": true}

Rules this module keeps, those of today's worker:
- the recipe module is imported before anything that imports socket, threading or select: gevent's
  ``patch_all()`` is its first statement. Until then only os, sys, json and time are loaded;
- the timed region is exactly ``fetcher.fetch(urls)``;
- CPU is user+sys from ``getrusage`` (this process's every thread, and its reaped children: the recipes start
  no process), read at ``prepare`` and at ``measure`` before anything is encoded;
- peak RSS is the round's high-water mark (``VmHWM``, reset through ``/proc/self/clear_refs`` at
  ``prepare``); ``pss_kb`` the proportional set size at ``measure`` (None where the kernel has no
  ``smaps_rollup``);
- fd 1 is pointed at stderr, the protocol keeps a duplicate: a chatty library cannot corrupt it.
"""

import json
import os
import sys
import time
import traceback


def main(argv):
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    if len(argv) != 2:
        _send(channel, {"ok": False, "error": "usage: python worker.py MODULE"})
        return 2
    started = time.perf_counter()
    try:
        module = __import__(argv[1])
    except BaseException:  # noqa: BLE001 - any import failure is reported, then the worker exits
        _send(channel, {"ok": False, "error": traceback.format_exc()})
        return 1
    import_s = time.perf_counter() - started
    import _outcome

    host = _Host(module, _outcome)
    _send(channel, {"ok": True, "ready": True, "import_s": import_s, "pid": os.getpid(),
                    "python": ".".join(map(str, sys.version_info[:3]))})
    for line in sys.stdin.buffer:
        command = None
        try:
            message = json.loads(line.decode("utf-8"))
            command = message.get("cmd")
            if command == "setup":
                reply = {"cold_start_s": host.setup(_outcome.Config(message["config"]))}
            elif command == "prepare":
                host.prepare(message["urls"])
                reply = {}
            elif command == "fetch":
                reply = {"wall_s": host.fetch()}
            elif command == "measure":
                reply = host.measure()
            elif command in ("teardown", "exit"):
                host.teardown()
                reply = {}
            else:
                raise ValueError(f"unknown command {command!r}")
        except Exception:  # noqa: BLE001 - a recipe failure is a reply; the worker lives on
            _send(channel, {"ok": False, "error": traceback.format_exc()})
            continue
        reply["ok"] = True
        _send(channel, reply)
        if command == "exit":
            return 0
    host.teardown()
    return 0


def _send(channel, message):
    channel.write(json.dumps(message) + "\n")
    channel.flush()


class _Host:
    """One recipe module and its current fetcher; a round between ``prepare`` and ``measure``."""

    def __init__(self, module, outcome):
        self.module = module
        self.outcome = outcome
        self.fetcher = None
        self.urls = None
        self.outcomes = None
        self.cpu_before = 0.0
        self.wall_s = 0.0

    def setup(self, config):
        self.teardown()
        started = time.perf_counter()
        self.fetcher = self.module.start(config)
        return time.perf_counter() - started

    def teardown(self):
        fetcher, self.fetcher, self.urls, self.outcomes = self.fetcher, None, None, None
        if fetcher is not None:
            fetcher.close()

    def prepare(self, urls):
        if self.fetcher is None:
            raise RuntimeError("prepare before setup")
        self.urls, self.outcomes = urls, None
        _reset_peak_rss()
        self.cpu_before = _cpu_s()

    def fetch(self):
        if self.urls is None or self.outcomes is not None:
            raise RuntimeError("fetch without a prepare, or twice for one prepare")
        started = time.perf_counter()
        self.outcomes = self.fetcher.fetch(self.urls)
        self.wall_s = time.perf_counter() - started
        return self.wall_s

    def measure(self):
        if self.outcomes is None:
            raise RuntimeError("measure before fetch")
        cpu_s = _cpu_s() - self.cpu_before
        outcomes, self.urls, self.outcomes = self.outcomes, None, None
        return {"wall_s": self.wall_s, "cpu_s": cpu_s, "peak_rss_kb": _peak_rss_kb(),
                "pss_kb": _proc_kb("smaps_rollup", "Pss:"), "outcomes": [o.to_list() for o in outcomes]}


def _cpu_s():
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime


def _reset_peak_rss():
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass  # not Linux: VmHWM is then the lifetime peak, an overstatement


def _peak_rss_kb():
    import resource

    peak = _proc_kb("status", "VmHWM:")  # without /proc: the lifetime peak, an overstatement
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _proc_kb(name, key):
    try:
        with open("/proc/self/" + name) as handle:
            for line in handle:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


if __name__ == "__main__":
    sys.exit(main(sys.argv))
