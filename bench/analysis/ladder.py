"""What the model ladder says: each codec strategy against its own rungs, the models' order, the targets.

Rules this module keeps:
- pure functions of a ladder (``bench.record.ladder``), typed; it measures, draws and prints nothing;
- a req/s ratio of two steps of one strategy and C is paired by round: the steps' rounds ran interleaved,
  so round k of each ran within a second or two of the others, under the same load from the rest of the
  machine; the ratio is the median of the rounds' ratios, its spread their range (not a confidence
  interval). A shared machine's load moves by more than a step's cost from one second to the next, and the
  pairing keeps that out of the ratio; a ratio of instructions needs no pairing (callgrind counts them);
- a target is met, missed, or not judged (a figure missing, or a step with errors: a failed request makes
  no step faster honestly), never guessed.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Literal

from bench.record.ladder import Ladder, StepName, find_step, ladder_levels, ladder_strategies

#: Each codec strategy must keep at least this share of its model's bare level in req/s (issue #17) ...
BARE_TARGET = 0.8
#: ... and of its codec rung, where the only difference is the codec's own: deadline and record.
CODEC_TARGET = 0.9
#: Where two bare levels differ by at least this share, the models' strategies must keep their order.
ORDER_MARGIN = 0.15
#: select and epoll against a raw client: the repo has no other raw client of the same shape than their bare
#: rung (C slots on one multiplexer, a bare request and a length parser: ``strategies.shared._codec``'s ``bare``
#: on the select client's own loop), so the bare rung is the reference: at most 1.1x the strategy's req/s.
REFERENCE_LIMIT = 1.1
REFERENCE_STRATEGIES = ("select", "epoll")


@dataclass(frozen=True)
class Ratio:
    """A strategy's step ``top`` over its step ``against``, at one C: req/s paired by round (median and range
    of the rounds' ratios) and instructions per request."""

    strategy: str
    concurrency: int
    against: StepName
    rate: float | None
    rate_low: float | None
    rate_high: float | None
    instructions: float | None
    clean: bool


def ratio(ladder: Ladder, strategy: str, concurrency: int, against: StepName,
          top: StepName = "strategy") -> Ratio:
    high, low = find_step(ladder, strategy, concurrency, top), find_step(ladder, strategy, concurrency, against)
    rate = rate_low = rate_high = instructions = None
    if high and low and high["rate"] and low["rate"] and high["rate"]["rounds"] \
            and len(high["rate"]["rounds"]) == len(low["rate"]["rounds"]) and min(low["rate"]["rounds"]) > 0:
        paired = sorted(a / b for a, b in zip(high["rate"]["rounds"], low["rate"]["rounds"], strict=True))
        rate, rate_low, rate_high = statistics.median(paired), paired[0], paired[-1]
    if high and low and high["instructions_per_request"] and low["instructions_per_request"]:
        instructions = high["instructions_per_request"] / low["instructions_per_request"]
    clean = bool(high and low and not high["errors"] and not low["errors"])
    return Ratio(strategy, concurrency, against, rate, rate_low, rate_high, instructions, clean)


def order(ladder: Ladder, concurrency: int, step: StepName) -> list[tuple[str, float]]:
    """(strategy, median req/s) of ``step`` at ``concurrency``, fastest first."""
    rated = [(s["strategy"], s["rate"]["median"]) for s in ladder["steps"]
             if s["concurrency"] == concurrency and s["step"] == step and s["rate"]]
    return sorted(rated, key=lambda pair: -pair[1])


def reordered(ladder: Ladder, concurrency: int, margin: float = ORDER_MARGIN) -> list[tuple[str, str]]:
    """Pairs (a, b) whose bare levels put a at least ``margin`` above b, while their strategies put b above a."""
    bare, top = dict(order(ladder, concurrency, "bare")), dict(order(ladder, concurrency, "strategy"))
    return [(a, b) for a, rate_a in bare.items() for b, rate_b in bare.items()
            if a in top and b in top and rate_a >= (1 + margin) * rate_b and top[b] > top[a]]


def order_pairs(ladder: Ladder, concurrency: int, margin: float = ORDER_MARGIN) -> int:
    """How many pairs of bare levels differ by at least ``margin``: the pairs the order target judges."""
    bare = dict(order(ladder, concurrency, "bare"))
    return sum(1 for a in bare.values() for b in bare.values() if a >= (1 + margin) * b)


@dataclass(frozen=True)
class Load:
    """What else ran on the pinned cores during the timed passes, in % of their time: the passes'
    length-weighted mean and their max (``None``: not measured)."""

    passes: int
    others_mean: float | None
    others_max: float | None
    steal_mean: float | None


def machine_load(ladder: Ladder) -> Load:
    noises = [p["noise"] for p in ladder["passes"]]

    def mean(key: Literal["others_cpu_pct", "steal_pct"]) -> float | None:
        known = [(n[key], n["interval_s"]) for n in noises if n[key] is not None]
        weight = sum(interval for _, interval in known)
        return sum((value or 0.0) * interval for value, interval in known) / weight if weight > 0 else None

    others = [n["others_cpu_pct"] for n in noises if n["others_cpu_pct"] is not None]
    return Load(len(noises), mean("others_cpu_pct"), max(others) if others else None, mean("steal_pct"))


@dataclass(frozen=True)
class Target:
    """One of issue #17's targets for one strategy at one C: the measured ratio against its ``limit``."""

    strategy: str
    concurrency: int
    text: str
    value: float | None
    limit: float
    #: True met, False missed, None not judged (a figure missing, or errors in a step).
    met: bool | None


def targets(ladder: Ladder) -> list[Target]:
    """Every strategy's req/s against its bare rung (>= ``BARE_TARGET``) and its codec rung (>=
    ``CODEC_TARGET``), and select's and epoll's bare rung against the strategy (<= ``REFERENCE_LIMIT``)."""
    out = []
    floors: tuple[tuple[StepName, float], ...] = (("bare", BARE_TARGET), ("codec", CODEC_TARGET))
    for strategy in ladder_strategies(ladder):
        for c in ladder_levels(ladder):
            for against, limit in floors:
                r = ratio(ladder, strategy, c, against)
                out.append(Target(strategy, c, f"÷ {against} >= {limit}", r.rate, limit,
                                  None if r.rate is None or not r.clean else r.rate >= limit))
            if strategy in REFERENCE_STRATEGIES:
                r = ratio(ladder, strategy, c, "strategy", top="bare")
                out.append(Target(strategy, c, f"bare ÷ strategy <= {REFERENCE_LIMIT}", r.rate, REFERENCE_LIMIT,
                                  None if r.rate is None or not r.clean else r.rate <= REFERENCE_LIMIT))
    return out
