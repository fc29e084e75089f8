"""The claim's verdict: does "gevent+requests > twisted > tornado > asyncio" hold, cell by cell?

Rules this module keeps:
- a cell is one (workload, policy, concurrency); within it, strategies are ordered by their median req/s
  over the measured rounds, and two strategies are told apart only by a two-sided Mann-Whitney U test on
  their per-round req/s at level ``ALPHA``: "faster by its median but not significant" is reported as
  *not shown*, never as a win;
- the claim is a chain, so it implies the order of any subset: when a member cannot run in a cell (tornado
  has no keep-alive), the chain of the remaining members is judged and the cell is marked partial;
- "holds" needs every claimed adjacent step measured in the claimed direction, significant, and at least
  ``MIN_EFFECT`` apart; "contradicted" needs at least one step reversed in the same sense; anything else
  is "not shown";
- flagged rows take part (their numbers are real) but the cell lists their flags; failed and skipped rows
  do not take part;
- pure functions of the results JSON; no I/O.
"""

from __future__ import annotations

import itertools
import math
import statistics
from dataclasses import dataclass, field
from typing import Any

from scipy.stats import mannwhitneyu

#: The claim under test, fastest first, as registry names.
CLAIM = ("gevent", "twisted", "tornado", "asyncio")
#: Shown beside plain asyncio: the same event loop with a mature HTTP client on top.
COMPANION = "aiohttp"
#: Conventional significance level; with the sweep's few rounds the test has little power (see
#: ``min_attainable_p``), so "not shown" often means "not enough rounds", not "equal".
ALPHA = 0.05
#: Smallest difference of medians that counts as a difference (5 %): on a shared machine, pinning and
#: placement alone shift a model by a percent or two *consistently*, which the test would call significant.
#: A significant difference below this is reported as negligible, like a non-significant one.
MIN_EFFECT = 0.05

VERDICT_WORDS = {
    "holds": "the claimed order holds (every step significant and at least MIN_EFFECT apart)",
    "contradicted": "the claim is contradicted (at least one step decisively reversed)",
    "not shown": "the data does not show the claimed order (some step not significant or negligible)",
    "not evaluable": "fewer than two of the claim's strategies ran",
}


@dataclass(frozen=True)
class Comparison:
    """``a`` against ``b`` on per-round req/s."""

    a: str
    b: str
    median_a: float
    median_b: float
    p: float
    significant: bool

    @property
    def ratio(self) -> float:
        return self.median_a / self.median_b if self.median_b else math.inf

    @property
    def decisive(self) -> bool:
        """Significant and at least ``MIN_EFFECT`` apart: a difference worth stating."""
        return self.significant and abs(self.ratio - 1.0) >= MIN_EFFECT

    @property
    def outcome(self) -> str:
        """For a claimed step a > b: supported, reversed, negligible (significant but < MIN_EFFECT) or
        inconclusive (not significant)."""
        if not self.significant:
            return "inconclusive"
        if not self.decisive:
            return "negligible"
        return "supported" if self.median_a > self.median_b else "reversed"


@dataclass
class CellVerdict:
    workload: str
    policy: str
    concurrency: int
    #: Claim members that ran, fastest first by median req/s: (strategy, median req/s).
    order: list[tuple[str, float]]
    #: Adjacent pairs of ``order`` (faster first) with their test.
    links: list[Comparison]
    #: The claim's adjacent steps among the members that ran, in the claimed direction.
    steps: list[Comparison]
    verdict: str
    missing: dict[str, str] = field(default_factory=dict)
    companion: Comparison | None = None
    flagged: dict[str, list[str]] = field(default_factory=dict)

    @property
    def order_text(self) -> str:
        """E.g. ``asyncio > twisted ~ gevent``: '>' a decisive difference, '~' none (not significant, or
        less than ``MIN_EFFECT``)."""
        if not self.order:
            return "-"
        parts = [self.order[0][0]]
        for link in self.links:
            parts.append(">" if link.decisive else "~")
            parts.append(link.b)
        return " ".join(parts)


def min_attainable_p(n_a: int, n_b: int) -> float:
    """Smallest two-sided p the exact Mann-Whitney test can give for samples of these sizes."""
    if n_a < 1 or n_b < 1:
        return 1.0
    return min(1.0, 2.0 / math.comb(n_a + n_b, n_a))


def compare(a: str, values_a: list[float], b: str, values_b: list[float], alpha: float = ALPHA) -> Comparison:
    if len(set(values_a) | set(values_b)) <= 1:
        p = 1.0  # all rounds identical: nothing to tell apart (and the test's variance would be zero)
    else:
        p = float(mannwhitneyu(values_a, values_b, alternative="two-sided").pvalue)
    return Comparison(a, b, statistics.median(values_a), statistics.median(values_b), p, p < alpha)


def _rates(row: dict[str, Any]) -> list[float]:
    return [r["req_per_s"] for r in row["rounds"]]


def _usable(row: dict[str, Any]) -> bool:
    return row["status"] in ("ok", "flagged") and bool(row["rounds"])


def judge_cell(rows: list[dict[str, Any]], alpha: float = ALPHA) -> CellVerdict:
    """Verdict for the rows of one (workload, policy, concurrency) cell."""
    first = rows[0]
    by_name = {row["strategy"]: row for row in rows}
    ran = {name: by_name[name] for name in CLAIM if name in by_name and _usable(by_name[name])}
    missing = {name: (by_name[name]["reason"] or by_name[name]["status"]) if name in by_name else "not run"
               for name in CLAIM if name not in ran}
    order = sorted(((name, statistics.median(_rates(row))) for name, row in ran.items()),
                   key=lambda item: -item[1])
    links = [compare(a, _rates(ran[a]), b, _rates(ran[b]), alpha) for (a, _), (b, _) in itertools.pairwise(order)]
    chain = [name for name in CLAIM if name in ran]
    steps = [compare(a, _rates(ran[a]), b, _rates(ran[b]), alpha) for a, b in itertools.pairwise(chain)]
    if len(chain) < 2:
        verdict = "not evaluable"
    elif any(step.outcome == "reversed" for step in steps):
        verdict = "contradicted"
    elif all(step.outcome == "supported" for step in steps):
        verdict = "holds"
    else:
        verdict = "not shown"
    companion = None
    if COMPANION in by_name and _usable(by_name[COMPANION]) and "asyncio" in ran:
        companion = compare(COMPANION, _rates(by_name[COMPANION]), "asyncio", _rates(ran["asyncio"]), alpha)
    flagged = {name: [f["code"] for f in row["flags"]] for name, row in by_name.items()
               if row["status"] == "flagged" and (name in ran or name == COMPANION)}
    return CellVerdict(first["workload"], first["policy"], first["concurrency"], order, links, steps,
                       verdict, missing, companion, flagged)


def cells(run: dict[str, Any]) -> dict[tuple[str, str, int], list[dict[str, Any]]]:
    """Rows grouped by (workload, policy, concurrency), in the order the sweep ran them."""
    grouped: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for row in run["rows"]:
        grouped.setdefault((row["workload"], row["policy"], row["concurrency"]), []).append(row)
    return grouped


def judge_run(run: dict[str, Any], alpha: float = ALPHA) -> list[CellVerdict]:
    """One verdict per cell where at least one claim member was scheduled."""
    out = []
    for rows in cells(run).values():
        if any(row["strategy"] in CLAIM for row in rows):
            out.append(judge_cell(rows, alpha))
    return out


def summary_paragraph(verdicts: list[CellVerdict], n_rounds: int, alpha: float = ALPHA) -> str:
    """The headline in words, computed from the verdicts."""
    judged = [v for v in verdicts if v.verdict != "not evaluable"]
    if not judged:
        return "No cell had two or more of the claim's strategies measured, so the claim was not tested."
    counts = {word: sum(v.verdict == word for v in judged) for word in ("holds", "contradicted", "not shown")}
    winners: dict[str, int] = {}
    for v in judged:
        winners[v.order[0][0]] = winners.get(v.order[0][0], 0) + 1
    top = ", ".join(f"{name} in {n}" for name, n in sorted(winners.items(), key=lambda kv: -kv[1]))
    gevent_last = sum(v.order[-1][0] == "gevent" and len(v.order) > 1 for v in judged)
    reversed_steps: dict[str, int] = {}
    for v in judged:
        for step in v.steps:
            if step.outcome == "reversed":
                key = f"{step.b} > {step.a}"
                reversed_steps[key] = reversed_steps.get(key, 0) + 1
    text = (f"Across {len(judged)} measured cells (workload × connection policy × concurrency), the claim "
            f"\"gevent+requests > twisted > tornado > asyncio\" holds in {counts['holds']}, is contradicted "
            f"in {counts['contradicted']}, and is not shown either way in {counts['not shown']}. "
            f"The fastest of the four claimed strategies was {top} cells; gevent+requests, claimed the "
            f"fastest, ranked last of them by median in {gevent_last} cells.")
    if reversed_steps:
        common = ", ".join(f"{k} ({n} cells)" for k, n in sorted(reversed_steps.items(), key=lambda kv: -kv[1]))
        text += f" Claimed steps reversed (significant and at least {MIN_EFFECT:.0%} apart): {common}."
    text += (f" A step counts when a two-sided Mann-Whitney U test on per-round req/s gives p < {alpha} and "
             f"the medians differ by at least {MIN_EFFECT:.0%}; with {n_rounds} rounds per strategy the smallest "
             f"attainable p is {min_attainable_p(n_rounds, n_rounds):.3g}, so the test has limited power and "
             "small differences stay 'not shown'.")
    return text
