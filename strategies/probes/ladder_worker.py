"""The model ladder's worker: ``python -m strategies.probes.ladder_worker NAME RUNG [SIZE]`` hosts a rung of a codec strategy.

It is ``strategies.worker`` (the same protocol, the same ``Host``, so rounds, CPU, RSS and instruction counts
are measured exactly as a strategy's are) hosting ``NAME``'s own code with some of its features off: its
module's ``start(config, RUNGS[RUNG])`` (``strategies.shared._codec``). The ladder (``python -m bench.ladder``) runs one
per rung below the strategy itself, beside the strategy's own worker.

Rules this module keeps:
- the strategy module is imported first, as the worker does (gevent patches at its import), then the rest;
- a rung that records outcomes (``record``) is judged by ``strategies.workload.judge``, the strategies' one
  verification, body byte for byte; a rung that does not has checked each response where it arrived (status
  200 and ``SIZE`` bytes of body, 64 by default: the ladder's workload), and ``judge_checked`` counts the
  slots that hold ``CHECKED`` as verified, every other one as an error of its kind. No rung goes unverified.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Sequence
from typing import Any

from strategies.worker import host


def main(argv: list[str]) -> int:
    channel = host.claim_stdout()
    if len(argv) not in (3, 4):
        host.send(channel, {"ok": False, "error": "usage: python -m strategies.probes.ladder_worker NAME RUNG [SIZE]"})
        return 2
    started = time.perf_counter()
    try:
        module = host.import_strategy(argv[1])
        from strategies.shared._codec import RUNGS

        if argv[2] not in RUNGS:
            raise SystemExit(f"unknown rung {argv[2]!r}; known: {', '.join(RUNGS)}")
        features = RUNGS[argv[2]]
        if len(argv) == 4:
            from dataclasses import replace

            features = replace(features, expected_size=int(argv[3]))
    except BaseException:  # noqa: BLE001 - any import failure is reported, then the worker exits
        host.send(channel, {"ok": False, "error": traceback.format_exc()})
        return 1
    rung_host = host.Host(_Rung(module, features), judge=None if features.record else judge_checked)
    return host.serve(channel, rung_host, time.perf_counter() - started)


class _Rung:
    """A codec strategy's module with its features fixed: ``start(config)`` as the worker calls it."""

    def __init__(self, module: Any, features: Any):
        self._module = module
        self._features = features

    def start(self, config: Any) -> Any:
        return self._module.start(config, self._features)


def judge_checked(urls: Sequence[str], outcomes: Sequence[Any]) -> dict[str, Any]:
    """``strategies.workload.judge``'s figures for a rung that checked its responses in place: a slot holding
    ``CHECKED`` passed; any other is an error of its kind (``Outcome.failed``'s), a missing or extra slot too."""
    from strategies.shared._codec import CHECKED
    from strategies.workload import ERROR_SAMPLES, latency_summary

    kinds: dict[str, int] = {}
    samples: list[str] = []
    ok = 0
    for url, outcome in zip(urls, outcomes, strict=False):  # a missing or extra slot is counted below
        if outcome is CHECKED:
            ok += 1
            continue
        error = outcome.error or f"CheckError: status {outcome.status} where CHECKED was due"
        kind = error.split(":", 1)[0].strip() or "error"
        kinds[kind] = kinds.get(kind, 0) + 1
        if len(samples) < ERROR_SAMPLES:
            samples.append(f"{url}: {error}")
    if len(urls) != len(outcomes):
        kind = "missing" if len(urls) > len(outcomes) else "extra"
        kinds[kind] = abs(len(urls) - len(outcomes))
    return {"ok": ok, "errors": sum(kinds.values()), "error_kinds": kinds, "error_samples": samples,
            "latency_ms": latency_summary([])}


if __name__ == "__main__":
    sys.exit(main(sys.argv))
