"""REPORT.md's "What each feature costs per model": the model ladder's tables (``bench.analysis.ladder``).

Rules this module keeps: every figure is the ladder JSON's or the analysis's; a step with errors shows them
(``!``), never as a clean figure; a missing figure is ``-``; the section says which run it quotes (the
ladder is a run of its own, ``python -m bench.ladder``, not the sweep's) and how loaded the machine was.
"""

from __future__ import annotations

from collections.abc import Callable

from bench.analysis.ladder import (
    ORDER_MARGIN,
    Ratio,
    machine_load,
    order,
    order_pairs,
    ratio,
    reordered,
    targets,
)
from bench.record.ladder import (
    STEP_NAMES,
    Ladder,
    LadderStep,
    find_step,
    ladder_levels,
    ladder_strategies,
    model_of,
)

TITLE = "What each feature costs per model"


def section(ladder: Ladder | None, chart: str = "model_ladder.png") -> list[str]:
    """The section with its heading and chart, or nothing without a ladder."""
    if ladder is None:
        return []
    return [f"## {TITLE}", "", f"![model_ladder]({chart})", "", *tables(ladder)]


def tables(ladder: Ladder) -> list[str]:
    """What the section says below its chart: the run, both tables, the targets and the orders."""
    work = ladder["workload"]
    counted = work["instructions_requests"]
    lines = [
        (f"From `{ladder['command']}` ({ladder['created']}, {ladder['machine']['cpu_count']} CPUs; "
         f"{_load(ladder)}). Each codec strategy's own code, climbed a step at a time: "
         + "; ".join(f"*{_label(step)}*: {ladder['adds'].get(step, '')}" for step in STEP_NAMES) + "."), "",
        (f"Keep-alive, no delay, {work['size']}-byte bodies. Instructions per request from callgrind "
         f"({f'N = {counted}' if counted else 'not counted in this run'}); req/s the median [min-max] of "
         f"{work['rounds']} rounds of {work['requests']:,} requests per step, the steps' rounds interleaved, "
         "server and client pinned to a CPU each; the ratios pair the rounds that ran side by side (the median "
         "and range of the rounds' ratios), which keeps the machine's changing load out of them. `!`: the step "
         "had errors."), "",
    ]
    head = "| model | strategy | C | " + " | ".join(_label(step) for step in STEP_NAMES)
    lines += ["Instructions per request:", "", head + " |", "|---" * (3 + len(STEP_NAMES)) + "|"]
    for strategy in ladder_strategies(ladder):
        for c in ladder_levels(ladder):
            cells = [_cell(find_step(ladder, strategy, c, step), _instructions) for step in STEP_NAMES]
            lines.append(f"| {model_of(ladder, strategy)} | `{strategy}` | {c} | " + " | ".join(cells) + " |")
    lines += ["", "Requests per second, and the strategy over its own bare and codec rungs:", "",
              head + " | ÷ bare | ÷ codec |", "|---" * (5 + len(STEP_NAMES)) + "|"]
    for strategy in ladder_strategies(ladder):
        for c in ladder_levels(ladder):
            cells = [_cell(find_step(ladder, strategy, c, step), _rate) for step in STEP_NAMES]
            cells += [_ratio(ratio(ladder, strategy, c, against)) for against in ("bare", "codec")]
            lines.append(f"| {model_of(ladder, strategy)} | `{strategy}` | {c} | " + " | ".join(cells) + " |")
    return [*lines, "", *_targets(ladder), "", *_orders(ladder)]


def _load(ladder: Ladder) -> str:
    start, end = ladder["load_average"]["start"], ladder["load_average"]["end"]
    text = f"load average {start[0]:.1f} at the start" + (f", {end[0]:.1f} at the end" if end else "")
    load = machine_load(ladder)
    if load.others_mean is not None and load.others_max is not None:
        text += (f"; during the {load.passes} timed passes other processes used {load.others_mean:.0f} % of the "
                 f"pinned cores' time (at most {load.others_max:.0f} % in a pass)")
    if load.steal_mean is not None:
        text += f", steal {load.steal_mean:.0f} %"
    return text


def _targets(ladder: Ladder) -> list[str]:
    found = targets(ladder)
    missed = [t for t in found if t.met is False]
    unjudged = [t for t in found if t.met is None]
    judged = len(found) - len(unjudged)
    text = (f"**Targets** (issue #17: each strategy's req/s at least 0.8 of its bare rung and 0.9 of its codec "
            f"rung; `select` and `epoll` within 1.1× of their bare rung, the nearest thing to a raw client of "
            f"their shape): {judged - len(missed)} of {judged} met")
    text += (": missed " + "; ".join(f"`{t.strategy}` C={t.concurrency} {t.text} ({t.value:.2f})" for t in missed)
             if missed else "")
    text += f"; {len(unjudged)} not judged (a figure missing, or errors)" if unjudged else ""
    return [text + "."]


def _orders(ladder: Ladder) -> list[str]:
    lines = []
    for c in ladder_levels(ladder):
        bare = " > ".join(f"{name} {value:,.0f}" for name, value in order(ladder, c, "bare"))
        top = " > ".join(f"{name} {value:,.0f}" for name, value in order(ladder, c, "strategy"))
        pairs = reordered(ladder, c)
        lines.append(f"- C={c}, by bare level: {bare or '-'}; by strategy: {top or '-'}. Of the "
                     f"{order_pairs(ladder, c)} pairs whose bare levels differ by at least {ORDER_MARGIN:.0%}, "
                     f"the strategies order otherwise: {', '.join(f'{a} > {b}' for a, b in pairs) or 'none'}.")
    return lines


def _label(step: str) -> str:
    return step if step in ("bare", "strategy") else f"+ {step}"


def _cell(step: LadderStep | None, show: Callable[[LadderStep], str]) -> str:
    if step is None:
        return "-"
    text = show(step)
    return f"{text} !{step['errors']}" if step["errors"] else text


def _instructions(step: LadderStep) -> str:
    value = step["instructions_per_request"]
    return "-" if value is None else f"{value / 1000:,.1f}k"


def _rate(step: LadderStep) -> str:
    rate = step["rate"]
    return "-" if rate is None else f"{rate['median']:,.0f} [{rate['low']:,.0f}-{rate['high']:,.0f}]"


def _ratio(r: Ratio) -> str:
    if r.rate is None or r.rate_low is None or r.rate_high is None:
        return "-"
    return f"{r.rate:.2f} [{r.rate_low:.2f}-{r.rate_high:.2f}]"
