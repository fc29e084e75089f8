"""``model_ladder.png``: the model ladder (``bench.record.ladder``) as a chart, drawn from its JSON alone.

One row per C level, two panels each: instructions per request, one bar per model (its codec strategy),
stacked by step (the model alone at the bottom, then what the codec, the deadline, the outcome and the
rest of the strategy add); and req/s, a bar per step per model, the median with the range of its rounds.

Rules this module keeps:
- it reads only the ladder, so the chart can be remade without re-running;
- a step that adds less than the one below it (rounding, the garbage collector) is drawn as adding nothing,
  and the strategy's own total is marked on each bar, so the stack never hides a figure;
- a step with errors is hatched: never drawn as a clean figure.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from bench.record.ladder import STEP_NAMES, Ladder, find_step, ladder_levels, ladder_strategies

#: The chart's file name in a results folder (issue #17 names ``results/model_ladder.png``), beside the JSON.
LADDER_CHART = "model_ladder.png"
#: One colour per step, dark to light: the model at the bottom is the darkest, the strategy's rest orange.
COLOURS = {"bare": "#08306b", "codec": "#2171b5", "deadline": "#6baed6", "record": "#c6dbef", "strategy": "#fdae6b"}


def draw_ladder(ladder: Ladder, path: Path) -> Path:
    """Draw the ladder to ``path`` (PNG) and return it."""
    strategies, levels = ladder_strategies(ladder), ladder_levels(ladder)
    figure, axes = plt.subplots(len(levels), 2, figsize=(15, 4.2 * len(levels)), squeeze=False)
    width = 0.8 / len(STEP_NAMES)
    for row, c in enumerate(levels):
        stacked, rates = axes[row]
        for k, strategy in enumerate(strategies):
            below = 0.0
            for step in STEP_NAMES:
                found = find_step(ladder, strategy, c, step)
                if found is None or found["instructions_per_request"] is None:
                    continue
                value = found["instructions_per_request"]
                stacked.bar(k, max(value - below, 0.0) / 1000, bottom=below / 1000, color=COLOURS[step],
                            label=step if k == 0 else None, edgecolor="white", linewidth=0.5,
                            hatch="xx" if found["errors"] else None)
                below = max(below, value)
            top = find_step(ladder, strategy, c, "strategy")
            if top and top["instructions_per_request"]:
                total = top["instructions_per_request"] / 1000
                stacked.annotate(f"{total:.0f}k", (k, total), ha="center", va="bottom", fontsize=8)
            for j, step in enumerate(STEP_NAMES):
                found = find_step(ladder, strategy, c, step)
                if found is None or found["rate"] is None:
                    continue
                rate = found["rate"]
                rates.bar(k - 0.4 + (j + 0.5) * width, rate["median"] / 1000, width, color=COLOURS[step],
                          label=step if k == 0 else None, hatch="xx" if found["errors"] else None,
                          yerr=[[(rate["median"] - rate["low"]) / 1000], [(rate["high"] - rate["median"]) / 1000]],
                          error_kw={"elinewidth": 0.8, "capsize": 1.5})
        for axis in (stacked, rates):
            axis.set_xticks(range(len(strategies)), strategies, rotation=20, ha="right", fontsize=9)
            axis.grid(axis="y", alpha=0.3)
        stacked.set_ylabel("thousand instructions per request")
        stacked.set_title(f"C = {c}: instructions per request, stacked by step", fontsize=10)
        rates.set_ylabel("thousand requests per second")
        rates.set_title(f"C = {c}: req/s per step (median, range of the rounds)", fontsize=10)
    for axis, where, columns in ((axes[0][0], "upper left", 1), (axes[0][1], "upper right", len(STEP_NAMES))):
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=8, loc=where, ncol=columns)
        else:  # a run without this measure (--no-instructions, --no-rate)
            axis.text(0.5, 0.5, "not measured in this run", ha="center", va="center", transform=axis.transAxes)
    figure.suptitle(f"The model ladder: each model alone, then what each piece of its codec strategy adds "
                    f"(keep-alive, no delay, {ladder['workload']['size']}-byte bodies)", fontsize=11)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
