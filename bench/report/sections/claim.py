"""REPORT.md's sections on the claim: why the tutorial saw its order (the README quotes it), the verdict of
every reading in every profile, what explains each step, and every cell's order and verdicts.

Rules this module keeps: every number and sentence about results comes from ``bench.analysis.verdict``; the
hand-written text here only defines the terms and the rule.
"""

from __future__ import annotations

from bench.analysis import verdict
from bench.analysis.claim import MEANINGS, MEMBERS, READINGS, reading_name
from bench.analysis.comparison import MIN_EFFECT, Comparison
from bench.record.rows import CellKey, is_measured, peak_below_c, rows_by_cell
from bench.record.schema import Row, Run
from bench.report.sections.markdown import fmt as _fmt
from bench.report.sections.markdown import table as _table


def _rounds_in(run: Run) -> int:
    counts = [len(r["rounds"]) for r in run["rows"] if is_measured(r)]
    return min(counts) if counts else 0


_OUTCOME_WORD = {"supported": "yes", "reversed": "REVERSED", "inconclusive": "n.s.",
                 "negligible": f"< {MIN_EFFECT:.0%}"}


def _step_text(step: Comparison) -> str:
    return f"{step.a}/{step.b} {step.interval_text} p={step.p:.2g} {_OUTCOME_WORD[step.outcome]}"


def _short(reading: tuple[str, ...]) -> str:
    """A reading by its two ambiguous choices, e.g. ``grequests/aiohttp``."""
    return f"{reading[0]}/{reading[-1]}"


def method_paragraph(n: int) -> str:
    return (f"**Claim:** \"gevent+requests > twisted > tornado > asyncio\" (faster first), judged on req/s. "
            f"Two of its names are ambiguous, so every *reading* is judged: gevent as "
            f"{' or '.join(MEANINGS['gevent'])}, asyncio as {' or '.join(MEANINGS['asyncio'])} "
            f"(all of them in the tutorial). Each reading is judged in both *profiles*: *as-written* (the "
            f"tutorials' recipes with the libraries' defaults) and *tuned* (every hidden cap set to C). "
            f"**Rule:** {verdict.RULE} Within each cell (workload, profile, connection policy, concurrency C) "
            f"the strategies are ordered by median req/s ({n} rounds each, at the fewest). In *measured "
            f"order*, `>` means a difference that counts and `~` means none. A claimed step is *yes* (claimed "
            f"direction, and it counts), *REVERSED* (the other way, and it counts), *< "
            f"{MIN_EFFECT:.0%}* (significant but negligible) or *n.s.* (not significant). A member "
            f"that could not run in a cell is left out and the rest of the chain is judged (partial). "
            f"{verdict.MECHANISM_RULE}")


def verdict_section(run: Run, verdicts: list[verdict.CellVerdict]) -> list[str]:
    n = _rounds_in(run)
    lines = ["## The claim's verdict", "", method_paragraph(n), "",
             "**Summary.** " + verdict.headline(verdicts), "",
             "### Every reading in every profile", "",
             ("Cells in which each reading holds, is contradicted or is not shown (all workloads, policies "
              "and levels of that profile)."), ""]
    profiles = list(dict.fromkeys(v.profile for v in verdicts))
    lines += _table(*reading_table(verdicts))
    lines += ["", "### What explains each step", ""]
    for profile in profiles:
        lines += [f"*{profile}:*", ""]
        lines += [f"- {verdict.step_sentence(record)}" for record in verdict.step_records(verdicts, profile)]
        lines.append("")
    lines += cell_tables(run, verdicts)
    return lines


def reading_table(verdicts: list[verdict.CellVerdict]) -> tuple[list[str], list[list[str]]]:
    """Header and lines of "Every reading in every profile": per profile and reading, the cells in which it
    holds, is contradicted, is not shown or is not evaluable, and in a run with faults, is not judged
    (REPORT.md and the results page)."""
    words = ["holds", "contradicted", "not shown", "not evaluable"]
    if any(v.verdict == "not judged" for v in verdicts):  # a run with faults: its cells said apart
        words.append("not judged")
    table = []
    for profile in dict.fromkeys(v.profile for v in verdicts):
        for reading in READINGS:
            mine = [v for v in verdicts if v.profile == profile and v.reading == reading]
            table.append([profile, reading_name(reading), *(str(sum(v.verdict == w for v in mine)) for w in words)])
    return ["profile", "reading", *words], table


WHY_TITLE = "Why the tutorial saw gevent > twisted > tornado > asyncio"


def _cell_text(rows: list[Row]) -> str:
    r = rows[0]
    return (f"{r['workload']} workload ({r['delay_ms']} ms per request, {r['policy']}), C={r['concurrency']}, "
            f"N={r['requests']}")


def _member_facts(rows: list[Row]) -> str:
    """Each member's req/s, peak in flight and CPU per request in one cell, as measured."""
    facts = []
    for row in rows:
        s = row.get("summary")
        if row["strategy"] in MEMBERS and s:
            facts.append(f"{row['strategy']} {_fmt(s['req_per_s']['median'])} req/s, peak "
                         f"{s['peak_in_flight_max']} in flight, {_fmt(s['cpu_us_per_req'])} µs CPU/request")
        elif row["strategy"] in MEMBERS and row["status"] == "failed":
            facts.append(f"{row['strategy']} failed ({row['reason'].splitlines()[0][:80]})")
    return "; ".join(facts)


def why_section(run: Run, verdicts: list[verdict.CellVerdict]) -> list[str]:
    """The claim's mechanism in generated sentences: the as-written cell where the recipes differ most,
    the same level tuned, and each as-written step with what explains it. The README quotes this section."""
    judged = [v for v in verdicts if v.judged]
    as_written = [v for v in judged if v.profile == "as-written"]
    if not as_written:
        return []
    rows_of = rows_by_cell(run)
    key = max({v.key for v in as_written}, key=verdict.how_telling)
    written = verdict.judge_cell(rows_of[key], MEMBERS)
    lines = [f"## {WHY_TITLE}", "",
             (f"**As written** (the tutorials' recipes, library defaults), {_cell_text(rows_of[key])}: "
              f"measured order **{written.order_text}** ({_member_facts(rows_of[key])})."), ""]
    tuned_key = key._replace(workload="latency", profile="tuned")
    if tuned_key in rows_of:
        tuned = verdict.judge_cell(rows_of[tuned_key], MEMBERS)
        lines += [(f"**Tuned** (every cap set to C), {_cell_text(rows_of[tuned_key])}: measured order "
                   f"**{tuned.order_text}** ({_member_facts(rows_of[tuned_key])})."), ""]
    profiles = [p for p in ("as-written", "tuned") if any(v.profile == p for v in judged)]
    lifted = _caps_lifted(rows_of, key[2], key[3])
    if lifted:
        lines += [lifted, ""]
    holding = []
    for reading in READINGS:
        counts = []
        for profile in profiles:
            mine = [v for v in judged if v.profile == profile and v.reading == reading]
            counts.append(f"{sum(v.verdict == 'holds' for v in mine)} of {len(mine)}")
        holding.append([reading_name(reading), *counts])
    short = [text for record in verdict.step_records(verdicts, "as-written")
             if (text := verdict.step_in_short(record))]
    if short:
        lines += ["**In short, as written:** " + "; ".join(short) + ".", ""]
    lines += ["Cells in which the whole chain holds, per reading:", ""]
    lines += _table(["reading", *profiles], holding)
    lines += ["", "Step by step, as written:", ""]
    lines += [f"- {verdict.step_sentence(record)}" for record in verdict.step_records(verdicts, "as-written")]
    return [*lines, ""]


def _caps_lifted(rows_of: dict[CellKey, list[Row]], policy: str,
                 concurrency: int) -> str | None:
    """For every member capped as written (peak in flight below C), the same latency cell tuned."""
    written = {r["strategy"]: r for r in rows_of.get(CellKey("latency", "as-written", policy, concurrency), [])}
    tuned = {r["strategy"]: r for r in rows_of.get(CellKey("latency", "tuned", policy, concurrency), [])}
    parts = []
    for name, row in written.items():
        peak, twin = peak_below_c(row), tuned.get(name)
        s, t = row["summary"], twin["summary"] if twin else None
        if peak is None or not s or not t:
            continue
        a, b = s["req_per_s"]["median"], t["req_per_s"]["median"]
        parts.append(f"{name} {_fmt(a)} → {_fmt(b)} req/s ({b / a:.1f}×; peak in flight "
                     f"{peak} → {t['peak_in_flight_max']})")
    if not parts:
        return None
    return (f"**Caps lifted** (latency workload, {policy}, C={concurrency}, as written → tuned): "
            + "; ".join(parts) + ".")


#: The columns of a cell's line (``cell_lines``): the cell, the measured order of every member, each
#: reading's verdict, the claimed steps and the flagged rows.
CELL_HEADER = ["profile", "policy", "C", "measured order", *(_short(r) for r in READINGS),
               "claimed steps (ratio [95 % CI], Holm-adjusted p)", "flagged rows"]


def cell_lines(run: Run, verdicts: list[verdict.CellVerdict]) -> dict[CellKey, list[str]]:
    """Per judged cell, its line of the cell-by-cell tables (``CELL_HEADER``'s columns, in Markdown: REPORT.md
    and the results page), in the verdicts' order."""
    by_cell: dict[CellKey, list[verdict.CellVerdict]] = {}
    for v in verdicts:
        by_cell.setdefault(v.key, []).append(v)
    rows_of = rows_by_cell(run)
    out = {}
    for key, group in by_cell.items():
        everyone = verdict.judge_cell(rows_of[key], MEMBERS).order_text
        steps = {(s.a, s.b): s for v in group for s in v.steps}
        flagged = {name: codes for v in group for name, codes in v.flagged.items()}
        out[key] = [key.profile, key.policy, str(key.concurrency), everyone,
                    *(_cell_word(v) for v in group),
                    "<br>".join(_step_text(s) for s in steps.values()) or "-",
                    "; ".join(f"{k}: {', '.join(c)}" for k, c in flagged.items()) or "-"]
    return out


def cell_tables(run: Run, verdicts: list[verdict.CellVerdict]) -> list[str]:
    """Per workload, one line per cell: the measured order of every member and each reading's verdict."""
    lines: list[str] = []
    by_cell = cell_lines(run, verdicts)
    for workload in dict.fromkeys(key.workload for key in by_cell):
        rows = [line for key, line in by_cell.items() if key.workload == workload]
        lines += [f"### Cell by cell: {workload}", "", *_table(CELL_HEADER, rows), ""]
    return lines


def _cell_word(v: verdict.CellVerdict) -> str:
    word = {"holds": "**holds**", "contradicted": "contradicted", "not shown": "not shown",
            "not evaluable": "-", "not judged": "not judged"}[v.verdict]
    return word + (" (partial)" if v.missing and v.judged else "")
