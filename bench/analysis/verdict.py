"""The claim's verdict: does "gevent+requests > twisted > tornado > asyncio" hold, cell by cell, reading by
reading, and what explains each step?

Rules this module keeps:
- a *cell* is one (workload, profile, policy, concurrency, scheme) (``bench.record.rows.CellKey``): the claim
  is judged over HTTP and over HTTPS apart, reading by reading, never across the two; within a cell,
  strategies are ordered by their median req/s over the measured rounds. Two strategies are compared on
  the ratio of their req/s (``bench.analysis.comparison``: Welch on the logarithms of their per-round
  req/s); the p-values of the steps of one chain are Holm-adjusted together (a chain is several
  comparisons, and "the claim holds" needs all of them). "Faster, but not significant after Holm" is
  reported as *not shown*, never as a win;
- the claim names four things, two of them ambiguous (``bench.analysis.claim``): a *reading* picks one
  strategy per name (``READINGS``), and every reading is judged in every cell;
- the claim is a chain, so it implies the order of any subset: when a member cannot run in a cell (tornado
  has no keep-alive: a skipped row), the chain of the remaining members is judged and the cell is marked
  partial. A member the sweep did not schedule in the cell at all makes the reading *not evaluable* there:
  a reading is never judged without the strategy that makes it that reading. A member that failed or was
  not run (its worker died, the server went, the sweep stopped) makes it *not judged* there: the rest of
  the chain is not judged silently in its absence (its steps are kept for the cell's table, and counted
  nowhere else);
- "holds" needs every claimed adjacent step measured in the claimed direction, significant, and at least
  ``MIN_EFFECT`` apart; "contradicted" needs at least one step reversed in the same sense; anything else
  is "not shown";
- a step's *mechanism* (``mechanism``) is read off measured fields only: the slower side's peak in flight
  at the server (a cap), its CPU per request and how busy its core was (a CPU bound), both sides'
  efficiency against the ideal. No sentence here names a library's default: the data does;
- flagged rows take part (their numbers are real) but the cell lists their flags; failed and skipped rows
  do not take part (``bench.record.rows.is_measured``);
- pure functions of the results JSON; no I/O.
"""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass, field

from bench.analysis.claim import MEMBERS, READINGS, reading_name
from bench.analysis.comparison import ALPHA, MIN_EFFECT, Comparison, compare, holm
from bench.record.rows import (
    CellKey,
    is_measured,
    measured_summary,
    peak_below_c,
    round_rates,
    row_scheme,
    rows_by_cell,
)
from bench.record.schema import Row, Run

#: A client whose CPU was busy this share of the round's wall time or more was CPU-bound: its worker is
#: pinned to one core, so it could not have gone faster by waiting less.
CPU_BOUND = 0.8
#: Efficiency (ideal / measured) above which a row lost no time of its own worth explaining.
NEAR_IDEAL = 0.9

#: The verdicts of a cell that judged nothing: a member not scheduled, or one that failed or was not run.
UNJUDGED = ("not evaluable", "not judged")

#: How ``mechanism`` decides, in the words the report prints.
MECHANISM_RULE = (
    f"*Why* a step went the way it did is read off the slower row's measured fields: *CPU-bound* when it "
    f"spent more CPU per request than the faster one and that CPU covers at least half the time its round "
    f"lost to the ideal (or kept its pinned core ≥ {CPU_BOUND:.0%} busy); otherwise *a cap* when the server "
    f"never saw C of its requests in flight; *near ideal* when both rows are within {1 - NEAR_IDEAL:.0%} of "
    f"the ideal; else *unexplained*.")

#: The decision rule, in the two sentences the report and the README print.
RULE = (f"A claimed step counts when Welch's t-test on the logarithms of the two strategies' per-round req/s, "
        f"Holm-adjusted over the steps of the chain, gives p < {ALPHA} and the ratio of their geometric means "
        f"is at least {MIN_EFFECT:.0%} away from 1. Every ratio is printed with its "
        f"{1 - ALPHA:.0%} confidence interval, e.g. `2.80× [2.51, 3.12]`.")


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
    scheme: str = "http"

    @property
    def key(self) -> CellKey:
        return CellKey(self.workload, self.profile, self.policy, self.concurrency, self.scheme)

    @property
    def judged(self) -> bool:
        return self.verdict not in UNJUDGED

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


def mechanism(slow: Row, fast: Row) -> Mechanism:
    """Why ``slow`` was slower than ``fast`` (two usable rows of one cell), from measured fields only.

    The time ``slow`` lost is its round's wall time beyond the ideal (the whole round without a delay). Its
    own CPU explains that loss when it spent more CPU per request than ``fast`` and its CPU for the round
    covers at least half of the loss (a client issues a wave of requests one after another, so its CPU adds
    to the wait), or kept its pinned core busy ``CPU_BOUND`` of the round. Otherwise a peak in flight below
    C at the server is a cap: the requests were handed over but not sent.
    """
    s, f = measured_summary(slow), measured_summary(fast)
    name = slow["strategy"]
    wanted = min(slow["concurrency"], slow["requests"])
    peak = peak_below_c(slow)
    cpu_s, cpu_f, busy, wall = s["cpu_us_per_req"], f["cpu_us_per_req"], s["cpu_busy"], s["wall_s"]
    if cpu_s and cpu_f and wall and cpu_s > cpu_f * (1 + MIN_EFFECT):
        cpu_round = cpu_s * slow["requests"] / 1e6
        lost = wall - (s["ideal_s"] or 0.0)
        if cpu_round >= 0.5 * lost or (busy is not None and busy >= CPU_BOUND):
            text = (f"{name} is CPU-bound: {cpu_s:,.0f} µs of CPU per request against {cpu_f:,.0f} µs for "
                    f"{fast['strategy']}, {cpu_round:.2f} s of CPU in a {wall:.2f} s round")
            text += f" whose ideal is {s['ideal_s']:.2f} s" if s["ideal_s"] else ""
            if peak is not None:
                text += f" (so it never had more than {peak} of its C={wanted} requests in flight)"
            return Mechanism("cpu", text)
    if peak is not None:
        return Mechanism("cap", f"{name} never had more than {peak} of its C={wanted} requests in flight at "
                                f"the server")
    eff_s, eff_f = s["efficiency"], f["efficiency"]
    if eff_s is not None and eff_f is not None and eff_s >= NEAR_IDEAL:
        return Mechanism("near-ideal", f"both within {1 - NEAR_IDEAL:.0%} of the ideal ({name} {eff_s:.0%}, "
                                       f"{fast['strategy']} {eff_f:.0%}): waiting dominates")
    busy_text = f", its core busy {busy:.0%}" if busy is not None else ""
    return Mechanism("unexplained", f"{name} reached C in flight and its CPU does not account for the time it "
                                    f"lost{busy_text}: no cap or CPU bound explains it")


def judge_cell(rows: list[Row], reading: tuple[str, ...] = READINGS[0]) -> CellVerdict:
    """Verdict of one reading for the rows of one cell."""
    first = rows[0]
    by_name = {row["strategy"]: row for row in rows}
    ran = {name: by_name[name] for name in reading if name in by_name and is_measured(by_name[name])}
    missing = {name: (by_name[name]["reason"] or by_name[name]["status"] or "failed") if name in by_name else "not run"
               for name in reading if name not in ran}
    order = sorted(((name, statistics.median(round_rates(row))) for name, row in ran.items()),
                   key=lambda item: -item[1])
    links = holm([compare(a, round_rates(ran[a]), b, round_rates(ran[b]))
                  for (a, _), (b, _) in itertools.pairwise(order)])
    chain = [name for name in reading if name in ran]
    steps = holm([compare(a, round_rates(ran[a]), b, round_rates(ran[b])) for a, b in itertools.pairwise(chain)])
    if any(name not in by_name for name in reading):
        verdict = "not evaluable"
    elif any(by_name[name]["status"] in ("failed", "not_run") for name in reading):
        verdict = "not judged"
    elif len(chain) < 2:
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
            slow, fast = (step.b, step.a) if step.ratio > 1 else (step.a, step.b)
            mechanisms[(step.a, step.b)] = mechanism(ran[slow], ran[fast])
    flagged = {name: [f["code"] for f in row["flags"]] for name, row in ran.items() if row["status"] == "flagged"}
    return CellVerdict(first["workload"], first["profile"], first["policy"], first["concurrency"],
                       reading, order, links, steps, verdict, missing, flagged, mechanisms, row_scheme(first))


def judge_run(run: Run, scheme: str | None = None) -> list[CellVerdict]:
    """One verdict per reading and cell where at least one claim member ran, failed or was not run; of the
    cells of one ``scheme`` when given."""
    out = []
    for key, rows in rows_by_cell(run).items():
        if scheme is not None and key.scheme != scheme:
            continue
        if any(row["strategy"] in MEMBERS and (is_measured(row) or row["status"] in ("failed", "not_run"))
               for row in rows):
            out += [judge_cell(rows, reading) for reading in READINGS]
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
    seen: set[tuple[str, str, CellKey]] = set()
    for v in verdicts:
        if v.profile != profile or not v.judged:
            continue
        for step in v.steps:
            if (step.a, step.b, v.key) in seen:
                continue
            seen.add((step.a, step.b, v.key))
            record = records.setdefault((step.a, step.b), StepRecord(step.a, step.b))
            record.outcomes.setdefault(step.outcome, []).append(v)
    order = {name: i for i, name in enumerate(MEMBERS)}
    return sorted(records.values(), key=lambda r: (order.get(r.a, 99), order.get(r.b, 99)))


def how_telling(key: CellKey) -> tuple[int, bool]:
    """How telling a cell is, to sort by: the higher C, then the claim's longer delay, shows more."""
    return key.concurrency, key.workload == "claim"


def most_telling(record: StepRecord, outcome: str) -> tuple[CellVerdict, Mechanism] | None:
    """The step's ``outcome`` in its most telling cell (``how_telling``), and the mechanism measured there;
    None when no cell had that outcome decisively."""
    cells_ = record.outcomes.get(outcome, [])
    if not cells_:
        return None
    v = max(cells_, key=lambda c: how_telling(c.key))
    found = v.mechanisms.get((record.a, record.b))
    return (v, found) if found is not None else None


def step_mechanism(record: StepRecord, outcome: str) -> str | None:
    """The mechanism of the step's ``outcome``, in words, with the cell it was measured in (not
    ``strategies.probes.explain``'s profiled breakdown: this is read off the rows' measured fields)."""
    found = most_telling(record, outcome)
    if found is None:
        return None
    v, mechanism_ = found
    return f"{mechanism_.text} ({v.workload}, {v.policy}, C={v.concurrency})"


#: How a mechanism's kind reads in a sentence.
KIND_WORDS = {"cap": "a cap on requests in flight", "cpu": "CPU per request",
              "near-ideal": "both near the ideal", "unexplained": "not explained"}


def step_in_short(record: StepRecord) -> str | None:
    """The step's decisive outcome in the most cells, and what explains it there, e.g. "tornado >
    asyncio-executor holds in 4 of 5 cells (a cap on requests in flight)"; None when no cell decided it."""
    counts = {outcome: record.count(outcome) for outcome in ("supported", "reversed")}
    outcome = max(counts, key=lambda o: counts[o])
    if not counts[outcome]:
        return None
    found = most_telling(record, outcome)
    why = f" ({KIND_WORDS[found[1].kind]})" if found else ""
    word = "holds" if outcome == "supported" else "is reversed"
    return f"{record.a} > {record.b} {word} in {counts[outcome]} of {record.judged} cells{why}"


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
        why = step_mechanism(record, outcome)
        if why:
            text += f" {lead}: {why}."
    return text


def headline(verdicts: list[CellVerdict]) -> str:
    """The verdict in a paragraph, computed from the verdicts: per profile, the canonical reading's counts
    (REPORT.md's "Summary."; not a row's ``summary``, its figures across rounds)."""
    judged = [v for v in verdicts if v.judged]
    if not judged:
        return "No cell had two or more of the claim's strategies measured, so the claim was not tested."
    sentences = []
    for profile in dict.fromkeys(v.profile for v in judged):
        mine = [v for v in judged if v.profile == profile]
        unjudged = {v.key for v in verdicts if v.profile == profile and v.verdict == "not judged"}
        holding = {reading_name(r): sum(v.verdict == "holds" for v in mine if v.reading == r) for r in READINGS}
        cells_ = {v.key for v in mine}
        best = max(holding.items(), key=lambda kv: kv[1])
        canonical = [v for v in mine if v.reading == READINGS[0]]
        counts = {w: sum(v.verdict == w for v in canonical) for w in ("holds", "contradicted", "not shown")}
        best_text = (f"the reading that holds most often is \"{best[0]}\" ({best[1]} cells)" if best[1]
                     else "no reading holds in any cell")
        unjudged_text = (f"; {len(unjudged)} more {'cell is' if len(unjudged) == 1 else 'cells are'} not judged, "
                         f"a member having failed or not run there" if unjudged else "")
        sentences.append(
            f"*{profile}* ({len(cells_)} cells): read as \"{reading_name(READINGS[0])}\", the claim holds in "
            f"{counts['holds']}, is contradicted in {counts['contradicted']} and not shown in "
            f"{counts['not shown']} cells; {best_text}{unjudged_text}.")
    sentences.append(RULE)
    return " ".join(sentences)
