"""The model ladder's results read back and judged: ``model_ladder.json``'s data model, the ratios the
ladder is for, the models' order, and the Markdown tables.

Pure: it reads the JSON ``strategies.ladder`` writes (``load``) and renders text from it; it measures
nothing and draws nothing (``strategies.ladder_chart`` draws), so a report can be remade from the JSON
alone. ``markdown(data)`` is the one call a report needs.

The JSON (``SCHEMA``)::

    {"schema": "concbench.model-ladder/1", "created": "...Z", "command": "python -m ...",
     "machine": {"platform", "python", "cpus", "server_cpus", "worker_cpus"},
     "workload": {"policy", "delay_ms", "size", "requests", "rounds", "instructions_requests", "levels"},
     "adds": {step: what it adds},
     "steps": [{"strategy", "model", "concurrency", "step", "instructions_per_request" (or null),
                "rate": {"median", "low", "high", "rounds": [req/s of each round]} (or null),
                "errors", "error_kinds"}]}

Rules this module keeps:
- a step with errors is shown with them (``!``), never as a clean figure; a missing figure is ``-``;
- a req/s ratio of two steps of one strategy and C is paired by round: the steps' rounds were run
  interleaved, so round k of each ran within a second of the others, under the same load from the rest of
  the machine; the ratio is the median of the rounds' ratios, its spread their range (not a confidence
  interval). A shared machine's load moves by more than a step's cost from one second to the next, and the
  pairing keeps that out of the ratio;
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA = "concbench.model-ladder/1"
#: The ladder's steps, cheapest first: the four rungs of ``strategies._codec.RUNGS``, then the strategy.
STEP_NAMES = ("bare", "codec", "deadline", "record", "strategy")
#: Where two bare levels differ by at least this share, the strategies of the two models must keep their order.
ORDER_MARGIN = 0.15


@dataclass
class Rate:
    """Requests per second over a step's rounds."""

    median: float
    low: float
    high: float
    rounds: list[float] = field(default_factory=list)


@dataclass
class Step:
    strategy: str
    model: str
    concurrency: int
    step: str
    instructions_per_request: float | None
    rate: Rate | None
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)


@dataclass
class Ladder:
    schema: str
    created: str
    command: str
    machine: dict[str, Any]
    workload: dict[str, Any]
    adds: dict[str, str]
    steps: list[Step]

    def step(self, strategy: str, concurrency: int, step: str) -> Step | None:
        return next((s for s in self.steps if (s.strategy, s.concurrency, s.step) == (strategy, concurrency, step)),
                    None)

    def strategies(self) -> list[str]:
        return list(dict.fromkeys(s.strategy for s in self.steps))

    def levels(self) -> list[int]:
        return sorted({s.concurrency for s in self.steps})


def load(data: dict[str, Any] | str | Path) -> Ladder:
    """A ``Ladder`` from the JSON's data or its file; ValueError for anything else."""
    loaded: dict[str, Any] = data if isinstance(data, dict) else json.loads(Path(data).read_text(encoding="utf-8"))
    if loaded.get("schema") != SCHEMA:
        raise ValueError(f"not a model ladder ({SCHEMA}): schema {loaded.get('schema')!r}")
    steps = [Step(**{**s, "rate": Rate(**s["rate"]) if s.get("rate") else None}) for s in loaded["steps"]]
    return Ladder(**{**loaded, "steps": steps})


@dataclass(frozen=True)
class Ratio:
    """A strategy against one of its own rungs, at one C, in req/s (medians) and instructions."""

    strategy: str
    concurrency: int
    against: str
    rate: float | None
    rate_low: float | None
    rate_high: float | None
    instructions: float | None


def ratio(ladder: Ladder, strategy: str, concurrency: int, against: str) -> Ratio:
    top, base = ladder.step(strategy, concurrency, "strategy"), ladder.step(strategy, concurrency, against)
    rate = low = high = instructions = None
    if top and base and top.rate and base.rate and base.rate.low > 0 and top.rate.rounds \
            and len(top.rate.rounds) == len(base.rate.rounds):
        paired = sorted(a / b for a, b in zip(top.rate.rounds, base.rate.rounds))
        rate, low, high = statistics.median(paired), paired[0], paired[-1]
    if top and base and top.instructions_per_request and base.instructions_per_request:
        instructions = top.instructions_per_request / base.instructions_per_request
    return Ratio(strategy, concurrency, against, rate, low, high, instructions)


def order(ladder: Ladder, concurrency: int, step: str) -> list[tuple[str, float]]:
    """(strategy, median req/s) of ``step`` at ``concurrency``, fastest first."""
    rated = [(s.strategy, s.rate.median) for s in ladder.steps
             if s.concurrency == concurrency and s.step == step and s.rate]
    return sorted(rated, key=lambda pair: -pair[1])


def reordered(ladder: Ladder, concurrency: int, margin: float = ORDER_MARGIN) -> list[tuple[str, str]]:
    """Pairs (a, b) whose bare levels put a at least ``margin`` above b, while their strategies put b above a."""
    bare = dict(order(ladder, concurrency, "bare"))
    top = dict(order(ladder, concurrency, "strategy"))
    return [(a, b) for a, rate_a in bare.items() for b, rate_b in bare.items()
            if a in top and b in top and rate_a >= (1 + margin) * rate_b and top[b] > top[a]]


def markdown(data: dict[str, Any] | Ladder) -> str:
    """The ladder's tables: instructions per request, req/s, the strategy against its bare and codec rungs,
    and the models' order; from the JSON's data alone."""
    ladder = data if isinstance(data, Ladder) else load(data)
    counted = ladder.workload["instructions_requests"]
    lines = [(f"Model ladder: keep-alive, no delay, {ladder.workload['size']}-byte bodies; req/s the median "
              f"[min-max] of {ladder.workload['rounds']} interleaved rounds of {ladder.workload['requests']:,} "
              f"requests, server and client on a CPU each; instructions per request from callgrind "
              f"({f'N = {counted}' if counted else 'not counted in this run'}). `!`: the step had errors."), ""]
    head = "| model | strategy | C | " + " | ".join(_label(step) for step in STEP_NAMES)
    lines += ["Instructions per request:", "", head + " |", "|---" * (3 + len(STEP_NAMES)) + "|"]
    for strategy in ladder.strategies():
        for c in ladder.levels():
            cells = [_cell(ladder.step(strategy, c, step), _instructions) for step in STEP_NAMES]
            lines.append(f"| {_model(ladder, strategy)} | `{strategy}` | {c} | " + " | ".join(cells) + " |")
    lines += ["", ("Requests per second, and the strategy against its own bare and codec rungs (the median and range "
              "of the ratios of rounds run side by side):"), "",
              head + " | ÷ bare | ÷ codec |", "|---" * (5 + len(STEP_NAMES)) + "|"]
    for strategy in ladder.strategies():
        for c in ladder.levels():
            cells = [_cell(ladder.step(strategy, c, step), _rate) for step in STEP_NAMES]
            cells += [_ratio(ratio(ladder, strategy, c, against)) for against in ("bare", "codec")]
            lines.append(f"| {_model(ladder, strategy)} | `{strategy}` | {c} | " + " | ".join(cells) + " |")
    lines.append("")
    for c in ladder.levels():
        bare = " > ".join(f"{name} {value:,.0f}" for name, value in order(ladder, c, "bare"))
        top = " > ".join(f"{name} {value:,.0f}" for name, value in order(ladder, c, "strategy"))
        pairs = reordered(ladder, c)
        lines.append(f"- C={c}, by bare level: {bare or '-'}; by strategy: {top or '-'}; "
                     f"pairs whose bare levels differ by >= {ORDER_MARGIN:.0%} and whose strategies are "
                     f"ordered otherwise: {', '.join(f'{a} > {b}' for a, b in pairs) or 'none'}.")
    return "\n".join(lines) + "\n"


def _label(step: str) -> str:
    return step if step in ("bare", "strategy") else f"+ {step}"


def _model(ladder: Ladder, strategy: str) -> str:
    return next(s.model for s in ladder.steps if s.strategy == strategy)


def _cell(step: Step | None, show: Any) -> str:
    if step is None:
        return "-"
    text = show(step)
    return f"{text} !{step.errors}" if step.errors else text


def _instructions(step: Step) -> str:
    value = step.instructions_per_request
    return "-" if value is None else f"{value / 1000:,.1f}k"


def _rate(step: Step) -> str:
    rate = step.rate
    return "-" if rate is None else f"{rate.median:,.0f} [{rate.low:,.0f}-{rate.high:,.0f}]"


def _ratio(r: Ratio) -> str:
    if r.rate is None or r.rate_low is None or r.rate_high is None:
        return "-"
    return f"{r.rate:.2f} [{r.rate_low:.2f}-{r.rate_high:.2f}]"
