"""REPORT.md and the charts of a sweep, remade from its results JSON alone.

    python -m bench.report results/latest.json [--out DIR] [--readme README.md]

Rules this module keeps:
- every number and every sentence about results is computed from the JSON (``bench.verdict`` for the
  claim, ``bench.results`` for the flags); the only hand-written text explains definitions and methods;
- ``--readme`` writes the generated "why" section (``why_section``) between the README's ``WHY_MARKERS``,
  so the README quotes the committed run and cannot drift from it (a test compares the two);
- the report is written next to the charts (default: the JSON's directory, or its parent for a file in
  ``runs/``), and links them relatively, so the ``results/`` folder reads well on GitHub.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

from bench import c10k, charts, costs, eras, models, ranking, target, verdict
from bench.cells import EXTRA_SHARE, HALF_WIDTH
from bench.cpu_sections import explain_section, instructions_section
from bench.markdown import fmt as _fmt
from bench.markdown import table as _table
from bench.markdown import where as _where
from bench.noise import OTHERS_PCT_MAX, STEAL_PCT_MAX, noise_summary, system_check_text
from bench.record.rows import (
    FLAG_TEXT,
    NOTE_TEXT,
    OVERHEAD_LIMIT_PCT,
    SATURATION_RATIO,
    CellKey,
    peak_below_c,
    rows_by_cell,
)
from bench.record.runfile import load_run
from bench.record.schema import Row, Run
from bench.record.upgrade import UNFINISHED

_WORKLOAD_TEXT = {
    "latency": "each request waits `delay_ms` in the server: the I/O-wait workload the claim is about",
    "claim": "the tutorials' conditions: C URLs fetched at once (N = C, one wave), each waiting `delay_ms`, "
             "the recipes as written",
    "throughput": "no delay, small bodies: the per-request CPU cost of each model",
    "payload": "no delay, large bodies: the cost of moving bytes",
    "c10k": "C connections all in flight at once (N = C), each waiting C × 0.5 ms: the same offered rate at every "
            "level, carried by more connections (the C10k level)",
    "web": "web-shaped: each request's delay and body size drawn from heavy-tailed distributions (a function of "
           "its id and the seed), identical for every strategy",
    "slow-link": "many slow bodies at once: every body paced by the server like a slow link",
}


def _workload_detail(rows: list[Row]) -> str:
    """What every request of a workload's rows asks of the server, from the rows alone (its delays: one, or
    one per level where it grows with C)."""
    row = rows[0]
    if row.get("seed") is not None:
        return (f"delays and sizes drawn per request (seed {row['seed']}; medians {row['delay_ms']} ms and "
                f"{row['size']} bytes, `bench/shapes.py`)")
    pace = f", paced at {row['rate_kbps']} kbit/s" if row.get("rate_kbps") else ""
    delays = "/".join(f"{d:,}" for d in sorted({r["delay_ms"] for r in rows}))
    return f"delay {delays} ms, body {row['size']} bytes{pace}"


def _rounds_in(run: Run) -> int:
    counts = [len(r["rounds"]) for r in run["rows"] if r["status"] in ("ok", "flagged")]
    return min(counts) if counts else 0


_OUTCOME_WORD = {"supported": "yes", "reversed": "REVERSED", "inconclusive": "n.s.",
                 "negligible": f"< {verdict.MIN_EFFECT:.0%}"}


def _step_text(step: verdict.Comparison) -> str:
    return f"{step.a}/{step.b} {step.interval_text} p={step.p:.2g} {_OUTCOME_WORD[step.outcome]}"


def _short(reading: tuple[str, ...]) -> str:
    """A reading by its two ambiguous choices, e.g. ``grequests/aiohttp``."""
    return f"{reading[0]}/{reading[-1]}"


def method_paragraph(n: int) -> str:
    return (f"**Claim:** \"gevent+requests > twisted > tornado > asyncio\" (faster first), judged on req/s. "
            f"Two of its names are ambiguous, so every *reading* is judged: gevent as "
            f"{' or '.join(verdict.MEANINGS['gevent'])}, asyncio as {' or '.join(verdict.MEANINGS['asyncio'])} "
            f"(all of them in the tutorial). Each reading is judged in both *profiles*: *as-written* (the "
            f"tutorials' recipes with the libraries' defaults) and *tuned* (every hidden cap set to C). "
            f"**Rule:** {verdict.RULE} Within each cell (workload, profile, connection policy, concurrency C) "
            f"the strategies are ordered by median req/s ({n} rounds each, at the fewest). In *measured "
            f"order*, `>` means a difference that counts and `~` means none. A claimed step is *yes* (claimed "
            f"direction, and it counts), *REVERSED* (the other way, and it counts), *< "
            f"{verdict.MIN_EFFECT:.0%}* (significant but negligible) or *n.s.* (not significant). A member "
            f"that could not run in a cell is left out and the rest of the chain is judged (partial). "
            f"{verdict.MECHANISM_RULE}")


def verdict_section(run: Run, verdicts: list[verdict.CellVerdict]) -> list[str]:
    n = _rounds_in(run)
    lines = ["## The claim's verdict", "", method_paragraph(n), "",
             "**Summary.** " + verdict.summary_paragraph(verdicts), "",
             "### Every reading in every profile", "",
             ("Cells in which each reading holds, is contradicted or is not shown (all workloads, policies "
              "and levels of that profile)."), ""]
    profiles = list(dict.fromkeys(v.profile for v in verdicts))
    table = []
    for profile in profiles:
        for reading in verdict.READINGS:
            mine = [v for v in verdicts if v.profile == profile and v.reading == reading]
            counts = [str(sum(v.verdict == w for v in mine))
                      for w in ("holds", "contradicted", "not shown", "not evaluable")]
            table.append([profile, verdict.reading_name(reading), *counts])
    lines += _table(["profile", "reading", "holds", "contradicted", "not shown", "not evaluable"], table)
    lines += ["", "### What explains each step", ""]
    for profile in profiles:
        lines += [f"*{profile}:*", ""]
        lines += [f"- {verdict.step_sentence(record)}" for record in verdict.step_records(verdicts, profile)]
        lines.append("")
    lines += cell_tables(run, verdicts)
    return lines


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
        if row["strategy"] in verdict.MEMBERS and s:
            facts.append(f"{row['strategy']} {_fmt(s['req_per_s']['median'])} req/s, peak "
                         f"{s['peak_in_flight_max']} in flight, {_fmt(s['cpu_us_per_req'])} µs CPU/request")
        elif row["strategy"] in verdict.MEMBERS and row["status"] == "failed":
            facts.append(f"{row['strategy']} failed ({row['reason'].splitlines()[0][:80]})")
    return "; ".join(facts)


def why_section(run: Run, verdicts: list[verdict.CellVerdict]) -> list[str]:
    """The claim's mechanism in generated sentences: the as-written cell where the recipes differ most,
    the same level tuned, and each as-written step with what explains it. The README quotes this section."""
    judged = [v for v in verdicts if v.verdict != "not evaluable"]
    as_written = [v for v in judged if v.profile == "as-written"]
    if not as_written:
        return []
    rows_of = rows_by_cell(run)
    key = max({v.key for v in as_written}, key=verdict.telling)
    written = verdict.judge_cell(rows_of[key], verdict.MEMBERS)
    lines = [f"## {WHY_TITLE}", "",
             (f"**As written** (the tutorials' recipes, library defaults), {_cell_text(rows_of[key])}: "
              f"measured order **{written.order_text}** ({_member_facts(rows_of[key])})."), ""]
    tuned_key = key._replace(workload="latency", profile="tuned")
    if tuned_key in rows_of:
        tuned = verdict.judge_cell(rows_of[tuned_key], verdict.MEMBERS)
        lines += [(f"**Tuned** (every cap set to C), {_cell_text(rows_of[tuned_key])}: measured order "
                   f"**{tuned.order_text}** ({_member_facts(rows_of[tuned_key])})."), ""]
    profiles = [p for p in ("as-written", "tuned") if any(v.profile == p for v in judged)]
    lifted = _caps_lifted(rows_of, key[2], key[3])
    if lifted:
        lines += [lifted, ""]
    holding = []
    for reading in verdict.READINGS:
        counts = []
        for profile in profiles:
            mine = [v for v in judged if v.profile == profile and v.reading == reading]
            counts.append(f"{sum(v.verdict == 'holds' for v in mine)} of {len(mine)}")
        holding.append([verdict.reading_name(reading), *counts])
    short = [text for record in verdict.step_records(verdicts, "as-written")
             if (text := verdict.step_in_short(record))]
    if short:
        lines += ["**In short, as written:** " + "; ".join(short) + ".", ""]
    lines += ["Cells in which the whole chain holds, per reading:", ""]
    lines += _table(["reading", *profiles], holding)
    lines += ["", "Step by step, as written:", ""]
    lines += [f"- {verdict.step_sentence(record)}" for record in verdict.step_records(verdicts, "as-written")]
    return lines + [""]


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


def cell_tables(run: Run, verdicts: list[verdict.CellVerdict]) -> list[str]:
    """Per workload, one line per cell: the measured order of every member and each reading's verdict."""
    lines: list[str] = []
    by_cell: dict[CellKey, list[verdict.CellVerdict]] = {}
    for v in verdicts:
        by_cell.setdefault(v.key, []).append(v)
    rows_of = rows_by_cell(run)
    header = ["profile", "policy", "C", "measured order", *(_short(r) for r in verdict.READINGS),
              "claimed steps (ratio [95 % CI], Holm-adjusted p)", "flagged rows"]
    for workload in dict.fromkeys(key[0] for key in by_cell):
        rows = []
        for key, group in by_cell.items():
            if key[0] != workload:
                continue
            everyone = verdict.judge_cell(rows_of[key], verdict.MEMBERS).order_text
            steps = {(s.a, s.b): s for v in group for s in v.steps}
            flagged = {name: codes for v in group for name, codes in v.flagged.items()}
            rows.append([key[1], key[2], str(key[3]), everyone,
                         *(_cell_word(v) for v in group),
                         "<br>".join(_step_text(s) for s in steps.values()) or "-",
                         "; ".join(f"{k}: {', '.join(c)}" for k, c in flagged.items()) or "-"])
        lines += [f"### Cell by cell: {workload}", ""] + _table(header, rows) + [""]
    return lines


def _cell_word(v: verdict.CellVerdict) -> str:
    word = {"holds": "**holds**", "contradicted": "contradicted", "not shown": "not shown",
            "not evaluable": "-"}[v.verdict]
    return word + (" (partial)" if v.missing and v.verdict != "not evaluable" else "")


def _row_line(row: Row) -> list[str]:
    s = row.get("summary")
    base = [row["strategy"], row["profile"], row["policy"], str(row["concurrency"]),
            str(row["requests"]), str(row["status"])]
    if not s:
        return base + ["-"] * 10
    rps = s["req_per_s"]
    ratio = s["server_cpu_ratio"]
    return base + [
        f"{_fmt(rps['median'])} ({_fmt(rps['min'])}–{_fmt(rps['max'])})",
        f"{s['efficiency']:.0%}" if s["efficiency"] is not None else "-",
        _fmt(s["cpu_us_per_req"]),
        _fmt(s["peak_rss_kb"] / 1024 if s["peak_rss_kb"] else None),
        _fmt(s["latency_ms"]["p50"]), _fmt(s["latency_ms"]["p99"]),
        f"{s['peak_in_flight_min']}" if s["peak_in_flight_min"] is not None else "-",
        f"{ratio:.0%}" if ratio is not None else "-",
        f"{s['overhead_pct']:.2f}" if s["overhead_pct"] is not None else "-",
        _fmt(row.get("cold_start_s")),
    ]


def tables_section(run: Run) -> list[str]:
    lines = ["## Results per workload", "",
             ("Medians over the measured rounds. *efficiency* = ideal time / measured time, with ideal = "
             "⌈N/C⌉ × delay (workloads with a delay; with per-request delays or paced bodies, the least time of "
             "the requests admitted in id order into C slots, `bench/shapes.py`). *peak in flight* = the smallest of the per-round peaks "
             "the server saw. *server CPU* = the server's CPU time / the rounds' wall time, summed over the rounds. *overhead* = "
             "how much longer pytest-benchmark's timing of a round was than the worker's own, in %. "
             "*cold start* = worker setup time for the row (pools, sessions; not timed)."), ""]
    header = ["strategy", "profile", "policy", "C", "N", "status", "req/s median (min–max)", "efficiency", "CPU µs/req",
              "peak RSS MiB", "p50 ms", "p99 ms", "peak in flight", "server CPU", "overhead %", "cold start s"]
    for workload in dict.fromkeys(r["workload"] for r in run["rows"]):
        rows = [r for r in run["rows"] if r["workload"] == workload]
        lines += [f"### {workload}", "",
                  f"{_WORKLOAD_TEXT.get(workload, '')}; {_workload_detail(rows)}.",
                  ""]
        rows.sort(key=lambda r: (r["profile"], r["policy"], r["concurrency"], -_rate(r)))
        lines += _table(header, [_row_line(r) for r in rows if r["status"] != "skipped"])
        lines.append("")
    return lines


def _rate(row: Row) -> float:
    s = row.get("summary")
    return float(s["req_per_s"]["median"]) if s else 0.0


def ranking_section(run: Run) -> list[str]:
    """The opt-in workloads (``bench.ranking``): every strategy of each cell in order; empty without them."""
    found = ranking.tables(run)
    if not found:
        return []
    lines = ["## The opt-in workloads, strategy by strategy", "", ranking.INTRO, ""]
    for workload, table in found.items():
        lines += [f"### Ranking: {workload}", ""] + _table(ranking.HEADER, table) + [""]
    return lines


def problems_section(run: Run) -> list[str]:
    lines = ["## Flagged, failed and skipped rows", "",
             "A flagged row's numbers are real but not clean; charts draw them with hollow markers. Flags:", ""]
    lines += [f"- `{code}`: {text}." for code, text in FLAG_TEXT.items()]
    lines.append("")
    for status, title in (("flagged", "Flagged"), ("failed", ("Failed (no clean result; the worker died or "
                                                             "errored)")), ("skipped", "Skipped")):
        rows = [r for r in run["rows"] if r["status"] == status]
        lines += [f"**{title}: {len(rows)} rows.**", ""]
        if status == "skipped":
            reasons: dict[str, list[str]] = {}
            for r in rows:
                reasons.setdefault(r["reason"], []).append(_where(r))
            lines += [f"- {reason}: {', '.join(which)}" for reason, which in reasons.items()]
        else:
            lines += [f"- {_where(r)}: {r['reason']}" for r in rows]
        lines.append("")
    return lines


def overhead_section(run: Run) -> list[str]:
    values = [value for r in run["rows"] if (value := r.get("harness_overhead_pct")) is not None]
    if not values:
        return []
    noted = [r for r in run["rows"] if r.get("notes")]
    worst = max(run["rows"], key=lambda r: r.get("harness_overhead_pct") or -1.0)
    return ["## Harness overhead", "",
            (f"Overhead = (pytest-benchmark's time for a round − the worker's own time of the fetch) / "
            f"pytest-benchmark's time, median over a row's rounds. Over {len(values)} measured rows: median "
            f"{statistics.median(values):.2f} %, largest {max(values):.2f} % ({worst['id']}); {len(noted)} rows "
            f"above the {OVERHEAD_LIMIT_PCT:g} % goal. `harness_overhead`: {NOTE_TEXT['harness_overhead']}. "
            "Only the worker's fetch step is inside pytest-benchmark's timer (URL building, verification and "
            "the CPU/memory readings are untimed steps before and after it), so the difference is the pipe "
            "round trip and JSON of one command: it matters only for the shortest rounds."), ""]


def noise_section(run: Run) -> list[str]:
    """What else ran on the machine: the check before the sweep, the rounds' noise, and the rounds run."""
    rounds = [r for row in run["rows"] for r in row["rounds"]]
    noise = noise_summary([dict(noise) for r in rounds if (noise := r.get("noise"))])
    lines = ["## The machine's noise and the rounds it cost", ""]
    check = run.get("system_check")
    if check:
        lines += ["Before the sweep (`bench.noise.system_check`):", "", "```", system_check_text(check), "```", ""]
    if noise["rounds"]:
        lines.append(
            f"During it, over {noise['rounds']} measured rounds: other processes used "
            f"{_pct(noise['others_cpu_pct_mean'])} of the two cores' time on average (median round "
            f"{_pct(noise['others_cpu_pct_median'])}, worst {_pct(noise['others_cpu_pct_max'])}), the hypervisor "
            f"stole {_pct(noise['steal_pct_mean'])} (worst {_pct(noise['steal_pct_max'])}); "
            f"**{noise['disturbed']} rounds were disturbed** beyond {STEAL_PCT_MAX:g} % steal or "
            f"{OTHERS_PCT_MAX:g} % other processes (after allowing each round's one-tick resolution). A row with "
            f"most of its rounds disturbed is flagged `noisy`; with some, it carries the note `noisy_rounds`.")
        lines.append("")
    measured = [row for row in run["rows"] if row.get("rounds_stopped")]
    if measured:
        o = run["options"]
        stops = {why: sum(row["rounds_stopped"] == why for row in measured)
                 for why in ("precise", "max_rounds", "budget", "failed")}
        lines.append(
            f"Rounds: each cell's strategies took turns, one round each per pass, in an order drawn per pass "
            f"(seed {o.get('schedule_seed')}); every row ran {o.get('rounds')} rounds, and up to "
            f"{o.get('max_rounds')} while its 95 % interval on req/s was wider than ±{HALF_WIDTH * 100:g} %, within "
            f"{EXTRA_SHARE * 100:g} % more time per cell. {stops['precise']} rows stopped precise, {stops['max_rounds']} at the round cap, "
            f"{stops['budget']} when the cell's budget was spent; {len(rounds)} rounds in all.")
        lines.append("")
    return lines


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} %"


def machine_section(run: Run) -> list[str]:
    m, o, srv = run["machine"], run["options"], run.get("server", {})
    pin = m.get("pinning") or {}
    lines = ["## Machine and versions", "",
             (f"- CPU: {m.get('cpu_model')} × {m.get('cpu_count')}; Python {m.get('python')} "
             f"({m.get('implementation')}); {m.get('platform')}"),
             (f"- Pinning: server on CPUs {pin.get('server')}, workers on CPUs {pin.get('worker')} "
             f"({pin.get('note', '')})"),
             f"- Server: {target.describe(srv)}",
             (f"- Sweep: rounds {o.get('rounds')} (+{o.get('warmup_rounds')} warm-up) per row, concurrency "
             f"{o.get('concurrency') or 'per profile and workload (defaults)'}, workloads {o.get('workloads')}, "
             f"policies {o.get('policies')}, profiles {o.get('profiles')}"
             f"{', quick' if o.get('quick') else ''}"
             f"{', benchmark disabled (one round per row)' if o.get('benchmark_disabled') else ''}; "
             f"sweep wall time {_fmt(o.get('wall_s'))} s"),
             "- Libraries: " + ", ".join(f"{k} {v}" for k, v in run["libraries"].items() if v), ""]
    return lines


def how_to_read() -> list[str]:
    return ["## How to read the charts", "",
            ("Each chart has one panel per workload (rows) and connection policy (columns); x is the concurrency "
            "C on a log scale, one line per strategy with the same colour and marker in every chart. "
            "Filled markers are clean rows; **hollow markers are flagged rows** (see above) — read them as "
            "\"this number is not clean\". Failed and skipped rows are not drawn. On throughput, bars span the "
            "slowest to the fastest round; on the latency workload the dashed black line is the ideal "
            "N / (⌈N/C⌉ × delay) (on web and slow-link, N / the round's ideal): a strategy on it spends no time "
            "of its own. `web_p99.png` (web workload) sets each p99 above its dotted floor, the p99 of the "
            "drawn delays. `sequential` runs only at C=1; "
            f"its dotted line is that reference level. A server CPU ratio above {SATURATION_RATIO:.0%} means "
            "the server was the bottleneck. Every charted figure comes from the worker's own measurement of "
            "the fetch alone (wall time, CPU, RSS, latencies), never from pytest-benchmark's round-trip time."), ""]


def render(run: Run, chart_files: list[Path], source: str) -> str:
    images = [f"![{p.stem}]({p.name})" for p in chart_files]
    partial = [r for r in run["rows"] if r["reason"] == UNFINISHED]
    head = [f"# concbench results — {run.get('created') or 'unfinished run'}", "",
            *([(f"**Partial run:** the sweep stopped before it finished ({len(partial)} row(s) unfinished, "
                f"{len(run['rows'])} rows recorded); rows it never reached are not listed."), ""]
              if run.get("partial") else []),
            (f"Made by `python -m bench.report {source}` from that file alone; nothing below is hand-written "
            f"about the results. Charts: {', '.join(f'[{p.stem}]({p.name})' for p in chart_files)}."), "",
            f"**Server:** {target.describe(run.get('server') or {})}.", ""]
    if images:
        head += [images[-1] if "headline" in chart_files[-1].name else images[0], ""]
    verdicts = verdict.judge_run(run)
    body = why_section(run, verdicts) + verdict_section(run, verdicts) + eras.section(run) + machine_section(run)
    body += ranking_section(run) + c10k.section(run) + models.section(run) + costs.section(run)
    body += noise_section(run) + instructions_section(run) + explain_section(run) + tables_section(run)
    body += problems_section(run)
    body += overhead_section(run)
    body += how_to_read() + ["## All charts", ""] + [line for img in images for line in (img, "")]
    return "\n".join(head + body)


def make_report(json_path: Path, out_dir: Path | None = None) -> Path:
    """Charts and REPORT.md for ``json_path``; returns the report's path."""
    run = load_run(json_path)
    if out_dir is None:
        out_dir = json_path.parent.parent if json_path.parent.name == "runs" else json_path.parent
    files = charts.draw_all(run, out_dir)
    report = out_dir / "REPORT.md"
    report.write_text(render(run, files, _shown_path(json_path)) + "\n")
    return report


def _shown_path(path: Path) -> str:
    """The JSON's path as a reader would type it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


#: The README's generated section lies between these two lines.
WHY_MARKERS = ("<!-- generated by python -m bench.report --readme: begin -->",
               "<!-- generated by python -m bench.report --readme: end -->")


def readme_why(run: Run, chart: str) -> str:
    """The README's copy of ``why_section``: one heading level down, with the claim chart above it."""
    lines = why_section(run, verdict.judge_run(run))[2:]  # its own heading is the README's
    return "\n".join([f"![the claim's members as written and tuned]({chart})", "", *lines]).strip()


#: The generated section's first line names the run it quotes, so that a later sweep (which rewrites
#: results/latest.json) does not make the README look stale: ``<!-- source: results/runs/NAME.json -->``.
SOURCE_LINE = "<!-- source: {} -->"


def update_readme(readme: Path, run: Run, chart: str, source: str) -> None:
    """Rewrite ``readme``'s generated section from ``run``, naming ``source`` (the run's path from the
    README's directory) in its first line."""
    text = readme.read_text()
    begin, end = WHY_MARKERS
    if begin not in text or end not in text:
        raise ValueError(f"{readme}: no generated section (the lines {begin!r} and {end!r})")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{begin}\n{SOURCE_LINE.format(source)}\n{readme_why(run, chart)}\n{end}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__.splitlines()[0])
    parser.add_argument("json", type=Path, help="results JSON written by the sweep, e.g. results/latest.json")
    parser.add_argument("--out", type=Path, default=None, help="directory for REPORT.md and the PNGs")
    parser.add_argument("--readme", type=Path, default=None,
                        help="also rewrite this README's generated section from the run")
    args = parser.parse_args(argv)
    try:
        report = make_report(args.json, args.out)
        if args.readme is not None:
            home = args.readme.resolve().parent
            chart = os.path.relpath(report.resolve().parent / "claim.png", home)
            update_readme(args.readme, load_run(args.json), chart, os.path.relpath(args.json.resolve(), home))
    except (OSError, ValueError, KeyError) as exc:
        print(f"bench.report: {exc}", file=sys.stderr)
        return 1
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
