"""The claim's verdict: does "gevent+requests > twisted > tornado > asyncio" hold, cell by cell, reading by
reading, and what explains each step?

Rules this module keeps:
- a *cell* is one (workload, profile, policy, concurrency); within it, strategies are ordered by their
  median req/s over the measured rounds, and two strategies are told apart only by a two-sided Mann-Whitney
  U test on their per-round req/s at level ``ALPHA``: "faster by its median but not significant" is
  reported as *not shown*, never as a win;
- the claim names four things, two of them ambiguous: "gevent" (gevent+requests, or grequests) and
  "asyncio" (raw streams, aiohttp, or requests in the default executor, all three in the tutorial). A
  *reading* picks one strategy per name (``READINGS``), and every reading is judged in every cell;
- the claim is a chain, so it implies the order of any subset: when a member cannot run in a cell (tornado
  has no keep-alive: a skipped row), the chain of the remaining members is judged and the cell is marked
  partial. A member the sweep did not schedule in the cell at all makes the reading *not evaluable* there:
  a reading is never judged without the strategy that makes it that reading;
- "holds" needs every claimed adjacent step measured in the claimed direction, significant, and at least
  ``MIN_EFFECT`` apart; "contradicted" needs at least one step reversed in the same sense; anything else
  is "not shown";
- a step's *mechanism* (``mechanism``) is read off measured fields only: the slower side's peak in flight
  at the server (a cap), its CPU per request and how busy its core was (a CPU bound), both sides'
  efficiency against the ideal. No sentence here names a library's default: the data does;
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

#: The claim under test, fastest first, in the tutorial's words.
CLAIM = ("gevent", "twisted", "tornado", "asyncio")
#: The strategies each of the claim's names can mean; the first is the reading the suite started with.
MEANINGS = {
    "gevent": ("gevent", "grequests"),
    "twisted": ("twisted",),
    "tornado": ("tornado",),
    "asyncio": ("asyncio", "aiohttp", "asyncio-executor"),
}
#: Every reading of the claim: one strategy per name, fastest first as claimed.
READINGS: tuple[tuple[str, ...], ...] = tuple(itertools.product(*(MEANINGS[name] for name in CLAIM)))
#: Every strategy any reading uses.
MEMBERS = tuple(dict.fromkeys(name for reading in READINGS for name in reading))

#: Conventional significance level; with the sweep's few rounds the test has little power (see
#: ``min_attainable_p``), so "not shown" often means "not enough rounds", not "equal".
ALPHA = 0.05
#: Smallest difference of medians that counts as a difference (5 %): on a shared machine, pinning and
#: placement alone shift a model by a percent or two *consistently*, which the test would call significant.
#: A significant difference below this is reported as negligible, like a non-significant one.
MIN_EFFECT = 0.05
#: A client whose CPU was busy this share of the round's wall time or more was CPU-bound: its worker is
#: pinned to one core, so it could not have gone faster by waiting less.
CPU_BOUND = 0.8
#: Efficiency (ideal / measured) above which a row lost no time of its own worth explaining.
NEAR_IDEAL = 0.9

VERDICT_WORDS = {
    "holds": "the claimed order holds (every step significant and at least MIN_EFFECT apart)",
    "contradicted": "the claim is contradicted (at least one step decisively reversed)",
    "not shown": "the data does not show the claimed order (some step not significant or negligible)",
    "not evaluable": "fewer than two of the reading's strategies ran",
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


@dataclass(frozen=True)
class Mechanism:
    """Why one row was slower than another in their cell. ``kind``: cap, cpu, near-ideal or unexplained."""

    kind: str
    text: str


@dataclass
class CellVerdict:
    """One reading of the claim judged in one cell."""

    workload: str
    profile: str
    policy: str
    concurrency: int
    reading: tuple[str, ...]
    #: The reading's members that ran, fastest first by median req/s: (strategy, median req/s).
    order: list[tuple[str, float]]
    #: Adjacent pairs of ``order`` (faster first) with their test.
    links: list[Comparison]
    #: The claim's adjacent steps among the members that ran, in the claimed direction.
    steps: list[Comparison]
    verdict: str
    missing: dict[str, str] = field(default_factory=dict)
    flagged: dict[str, list[str]] = field(default_factory=dict)
    #: (a, b) of a decisive step -> why the slower of the two was slower.
    mechanisms: dict[tuple[str, str], Mechanism] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str, int]:
        return (self.workload, self.profile, self.policy, self.concurrency)

    @property
    def order_text(self) -> str:
        """E.g. ``asyncio > twisted ~ gevent``: '>' a decisive difference, '~' none (not significant, or
        less than ``MIN_EFFECT``)."""
        if not self.order:
            return "-"
        parts = [self.order[0][0]]
        for link in self.links:
            parts += [">" if link.decisive else "~", link.b]
        return " ".join(parts)


def reading_name(reading: tuple[str, ...]) -> str:
    return " > ".join(reading)


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
    return row["status"] in ("ok", "flagged") and bool(row["rounds"]) and bool(row.get("summary"))


def mechanism(slow: dict[str, Any], fast: dict[str, Any]) -> Mechanism:
    """Why ``slow`` was slower than ``fast`` (two usable rows of one cell), from measured fields only."""
    s, f = slow["summary"], fast["summary"]
    name = slow["strategy"]
    wanted = min(slow["concurrency"], slow["requests"])
    peak = s.get("peak_in_flight_max")
    # In-flight counts mean something only when requests wait in the server (see FLAG_TEXT).
    if slow.get("delay_ms") and peak is not None and peak < wanted:
        return Mechanism("cap", f"{name} never had more than {peak} of its C={wanted} requests in flight at "
                                f"the server")
    cpu_s, cpu_f, busy = s.get("cpu_us_per_req"), f.get("cpu_us_per_req"), s.get("cpu_busy")
    if cpu_s and cpu_f and busy is not None and busy >= CPU_BOUND and cpu_s > cpu_f * (1 + MIN_EFFECT):
        return Mechanism("cpu", f"{name} is CPU-bound: {cpu_s:,.0f} µs of CPU per request against "
                                f"{cpu_f:,.0f} µs for {fast['strategy']}, its core busy {busy:.0%} of the round")
    eff_s, eff_f = s.get("efficiency"), f.get("efficiency")
    if eff_s is not None and eff_f is not None and eff_s >= NEAR_IDEAL:
        return Mechanism("near-ideal", f"both within {1 - NEAR_IDEAL:.0%} of the ideal ({name} {eff_s:.0%}, "
                                       f"{fast['strategy']} {eff_f:.0%}): waiting dominates")
    busy_text = f", its core busy {busy:.0%}" if busy is not None else ""
    return Mechanism("unexplained", f"{name} reached C in flight and was not CPU-bound{busy_text}: "
                                    "no cap or CPU bound explains it")


def judge_cell(rows: list[dict[str, Any]], reading: tuple[str, ...] = READINGS[0],
               alpha: float = ALPHA) -> CellVerdict:
    """Verdict of one reading for the rows of one cell."""
    first = rows[0]
    by_name = {row["strategy"]: row for row in rows}
    ran = {name: by_name[name] for name in reading if name in by_name and _usable(by_name[name])}
    missing = {name: (by_name[name]["reason"] or by_name[name]["status"]) if name in by_name else "not run"
               for name in reading if name not in ran}
    order = sorted(((name, statistics.median(_rates(row))) for name, row in ran.items()),
                   key=lambda item: -item[1])
    links = [compare(a, _rates(ran[a]), b, _rates(ran[b]), alpha) for (a, _), (b, _) in itertools.pairwise(order)]
    chain = [name for name in reading if name in ran]
    steps = [compare(a, _rates(ran[a]), b, _rates(ran[b]), alpha) for a, b in itertools.pairwise(chain)]
    if len(chain) < 2 or any(name not in by_name for name in reading):
        verdict = "not evaluable"
    elif any(step.outcome == "reversed" for step in steps):
        verdict = "contradicted"
    elif all(step.outcome == "supported" for step in steps):
        verdict = "holds"
    else:
        verdict = "not shown"
    mechanisms = {}
    for step in steps:
        if step.decisive:
            slow, fast = (step.b, step.a) if step.median_a > step.median_b else (step.a, step.b)
            mechanisms[(step.a, step.b)] = mechanism(ran[slow], ran[fast])
    flagged = {name: [f["code"] for f in row["flags"]] for name, row in ran.items() if row["status"] == "flagged"}
    return CellVerdict(first["workload"], first.get("profile", "tuned"), first["policy"], first["concurrency"],
                       reading, order, links, steps, verdict, missing, flagged, mechanisms)


def cells(run: dict[str, Any]) -> dict[tuple[str, str, str, int], list[dict[str, Any]]]:
    """Rows grouped by (workload, profile, policy, concurrency), in the order the sweep ran them."""
    grouped: dict[tuple[str, str, str, int], list[dict[str, Any]]] = {}
    for row in run["rows"]:
        key = (row["workload"], row.get("profile", "tuned"), row["policy"], row["concurrency"])
        grouped.setdefault(key, []).append(row)
    return grouped


def judge_run(run: dict[str, Any], alpha: float = ALPHA) -> list[CellVerdict]:
    """One verdict per reading and cell where at least one claim member was scheduled."""
    out = []
    for rows in cells(run).values():
        if any(row["strategy"] in MEMBERS for row in rows):
            out += [judge_cell(rows, reading, alpha) for reading in READINGS]
    return out


@dataclass
class StepRecord:
    """One claimed step (a > b) over the cells of a profile: how often each outcome, and why."""

    a: str
    b: str
    outcomes: dict[str, list[CellVerdict]] = field(default_factory=dict)

    def count(self, outcome: str) -> int:
        return len(self.outcomes.get(outcome, []))

    @property
    def judged(self) -> int:
        return sum(len(v) for v in self.outcomes.values())


def step_records(verdicts: list[CellVerdict], profile: str) -> list[StepRecord]:
    """Every distinct claimed step of every reading in ``profile``, each cell counted once per step."""
    records: dict[tuple[str, str], StepRecord] = {}
    seen: set[tuple[str, str, tuple[str, str, str, int]]] = set()
    for v in verdicts:
        if v.profile != profile:
            continue
        for step in v.steps:
            if (step.a, step.b, v.key) in seen:
                continue
            seen.add((step.a, step.b, v.key))
            record = records.setdefault((step.a, step.b), StepRecord(step.a, step.b))
            record.outcomes.setdefault(step.outcome, []).append(v)
    order = {name: i for i, name in enumerate(MEMBERS)}
    return sorted(records.values(), key=lambda r: (order.get(r.a, 99), order.get(r.b, 99)))


def explain_step(record: StepRecord, outcome: str) -> str | None:
    """The mechanism of the step's ``outcome`` in its most telling cell: the highest C, then longest delay."""
    cells_ = record.outcomes.get(outcome, [])
    if not cells_:
        return None
    v = max(cells_, key=lambda c: (c.concurrency, c.workload == "claim"))
    found = v.mechanisms.get((record.a, record.b))
    if found is None:
        return None
    return f"{found.text} ({v.workload}, {v.policy}, C={v.concurrency})"


def _levels(cells_: list[CellVerdict]) -> str:
    levels = sorted({v.concurrency for v in cells_})
    return ", ".join(map(str, levels))


def step_sentence(record: StepRecord) -> str:
    """E.g. "tornado > asyncio-executor: supported in 5 of 6 cells (C = 10, 100): asyncio-executor never
    had more than 6 ...". Computed from the record's cells alone."""
    parts = []
    for outcome, word in (("supported", "supported"), ("reversed", "reversed"),
                          ("inconclusive", "not shown"), ("negligible", f"within {MIN_EFFECT:.0%}")):
        n = record.count(outcome)
        if n:
            parts.append(f"{word} in {n} (C = {_levels(record.outcomes[outcome])})")
    text = f"**{record.a} > {record.b}**: of {record.judged} cells, " + "; ".join(parts) + "."
    for outcome, lead in (("supported", "Where it holds"), ("reversed", "Where it is reversed")):
        why = explain_step(record, outcome)
        if why:
            text += f" {lead}: {why}."
    return text


def summary_paragraph(verdicts: list[CellVerdict], n_rounds: int, alpha: float = ALPHA) -> str:
    """The headline in words, computed from the verdicts: per profile, the canonical reading's counts."""
    judged = [v for v in verdicts if v.verdict != "not evaluable"]
    if not judged:
        return "No cell had two or more of the claim's strategies measured, so the claim was not tested."
    sentences = []
    for profile in dict.fromkeys(v.profile for v in judged):
        mine = [v for v in judged if v.profile == profile]
        holding = {reading_name(r): sum(v.verdict == "holds" for v in mine if v.reading == r) for r in READINGS}
        cells_ = {v.key for v in mine}
        best = max(holding.items(), key=lambda kv: kv[1])
        canonical = [v for v in mine if v.reading == READINGS[0]]
        counts = {w: sum(v.verdict == w for v in canonical) for w in ("holds", "contradicted", "not shown")}
        sentences.append(
            f"*{profile}* ({len(cells_)} cells): read as \"{reading_name(READINGS[0])}\", the claim holds in "
            f"{counts['holds']}, is contradicted in {counts['contradicted']} and not shown in "
            f"{counts['not shown']} cells; the reading that holds most often is \"{best[0]}\" "
            f"({best[1]} cells).")
    sentences.append(
        f"A step counts when a two-sided Mann-Whitney U test on per-round req/s gives p < {alpha} and the "
        f"medians differ by at least {MIN_EFFECT:.0%}; with {n_rounds} rounds per strategy the smallest "
        f"attainable p is {min_attainable_p(n_rounds, n_rounds):.3g}, so small differences stay 'not shown'.")
    return " ".join(sentences)
