"""REPORT.md and the charts of a sweep, remade from its results JSON alone.

    python -m bench.report results/latest.json [--out DIR]

Rules this module keeps:
- every number and every sentence about results is computed from the JSON (``bench.verdict`` for the
  claim, ``bench.results`` for the flags); the only hand-written text explains definitions and methods;
- the report is written next to the charts (default: the JSON's directory, or its parent for a file in
  ``runs/``), and links them relatively, so the ``results/`` folder reads well on GitHub.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

from bench import charts, verdict
from bench.results import FLAG_TEXT, NOTE_TEXT, OVERHEAD_LIMIT_PCT, SATURATION_RATIO, load_run

_WORKLOAD_TEXT = {
    "latency": "each request waits `delay_ms` in the server: the I/O-wait workload the claim is about",
    "throughput": "no delay, small bodies: the per-request CPU cost of each model",
    "payload": "no delay, large bodies: the cost of moving bytes",
}


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def _table(header: list[str], lines: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in line) + " |" for line in lines]
    return out


def _rounds_in(run: dict[str, Any]) -> int:
    counts = [len(r["rounds"]) for r in run["rows"] if r["status"] in ("ok", "flagged")]
    return min(counts) if counts else 0


def _step_text(step: verdict.Comparison) -> str:
    word = {"supported": "yes", "reversed": "REVERSED", "inconclusive": "n.s.",
            "negligible": f"< {verdict.MIN_EFFECT:.0%}"}[step.outcome]
    return f"{step.a}/{step.b} {step.ratio:.2f}× p={step.p:.2g} {word}"


def _cell_words(v: verdict.CellVerdict) -> str:
    if v.verdict == "not evaluable":
        return "not enough of the claim's strategies ran"
    reversed_steps = [s for s in v.steps if s.outcome == "reversed"]
    if reversed_steps:
        s = reversed_steps[0]
        return f"{s.b} is significantly faster than {s.a} ({1 / s.ratio:.2f}×)"
    if v.verdict == "holds":
        return "every claimed step is significant"
    weak = [s for s in v.steps if s.outcome in ("inconclusive", "negligible")]
    if all(s.outcome == "negligible" or abs(s.ratio - 1) < verdict.MIN_EFFECT for s in weak):
        return f"all claimed steps within {verdict.MIN_EFFECT:.0%}: no practical difference"
    return f"{weak[0].a} vs {weak[0].b} cannot be told apart ({weak[0].ratio:.2f}×, p={weak[0].p:.2g})"


def verdict_section(run: dict[str, Any]) -> list[str]:
    verdicts = verdict.judge_run(run)
    n = _rounds_in(run)
    lines = ["## The claim's verdict", "",
             (f"**Claim:** \"gevent+requests > twisted > tornado > asyncio\" (faster first), judged on req/s. "
             f"**Method:** within each cell (workload, connection policy, concurrency C) the strategies are "
             f"ordered by median req/s over their rounds; each adjacent pair is tested with a two-sided "
             f"Mann-Whitney U test on per-round req/s at alpha = {verdict.ALPHA}, and a difference counts only if the "
             f"medians are also at least {verdict.MIN_EFFECT:.0%} apart (on a shared machine, a 1-2 % shift can be "
             f"consistent yet meaningless). In *measured order*, `>` means a difference that counts and `~` "
             f"means none. A claimed step is *yes* (in the claimed direction, and it counts), *REVERSED* (the "
             f"other way, and it counts), *< {verdict.MIN_EFFECT:.0%}* (significant but negligible) or *n.s.* "
             f"(not significant). With {n} rounds per strategy the smallest attainable p is "
             f"{verdict.min_attainable_p(n, n):.3g}: the test has limited power, so *n.s.* often means "
             f"\"too few rounds to tell\", not \"equal\". A claim member that could not run in a cell is "
             f"left out and the rest of the chain is judged (partial)."), "",
             "**Summary.** " + verdict.summary_paragraph(verdicts, n), ""]
    for workload in dict.fromkeys(v.workload for v in verdicts):
        lines += [f"### {workload}", ""]
        rows = []
        for v in (v for v in verdicts if v.workload == workload):
            claim = v.verdict + (" (partial: no " + ", ".join(v.missing) + ")" if v.missing else "")
            companion = (f"{v.companion.ratio:.2f}× asyncio, p={v.companion.p:.2g}"
                         f"{'' if v.companion.decisive else ' (no difference that counts)'}" if v.companion else "-")
            flagged = "; ".join(f"{k}: {', '.join(c)}" for k, c in v.flagged.items()) or "-"
            rows.append([v.policy, str(v.concurrency), v.order_text, claim, _cell_words(v),
                         "<br>".join(_step_text(s) for s in v.steps) or "-", companion, flagged])
        lines += _table(["policy", "C", "measured order", "claim", "in words", "claimed steps (ratio of medians)",
                         "aiohttp", "flagged rows"], rows)
        lines.append("")
    return lines


def _row_line(row: dict[str, Any]) -> list[str]:
    s = row.get("summary")
    base = [row["strategy"], row["policy"], str(row["concurrency"]), str(row["requests"]), row["status"]]
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


def tables_section(run: dict[str, Any]) -> list[str]:
    lines = ["## Results per workload", "",
             ("Medians over the measured rounds. *efficiency* = ideal time / measured time, with ideal = "
             "⌈N/C⌉ × delay (latency workload only). *peak in flight* = the smallest of the per-round peaks the "
             "server saw. *server CPU* = the server's CPU time / the rounds' wall time, summed over the rounds. *overhead* = "
             "how much longer pytest-benchmark's timing of a round was than the worker's own, in %. "
             "*cold start* = worker setup time for the cell (pools, sessions; not timed)."), ""]
    header = ["strategy", "policy", "C", "N", "status", "req/s median (min–max)", "efficiency", "CPU µs/req",
              "peak RSS MiB", "p50 ms", "p99 ms", "peak in flight", "server CPU", "overhead %", "cold start s"]
    for workload in dict.fromkeys(r["workload"] for r in run["rows"]):
        rows = [r for r in run["rows"] if r["workload"] == workload]
        first = rows[0]
        lines += [f"### {workload}", "",
                  f"{_WORKLOAD_TEXT.get(workload, '')}; delay {first['delay_ms']} ms, body {first['size']} bytes.",
                  ""]
        rows.sort(key=lambda r: (r["policy"], r["concurrency"], -_rate(r)))
        lines += _table(header, [_row_line(r) for r in rows if r["status"] != "skipped"])
        lines.append("")
    return lines


def _rate(row: dict[str, Any]) -> float:
    s = row.get("summary")
    return float(s["req_per_s"]["median"]) if s else 0.0


def problems_section(run: dict[str, Any]) -> list[str]:
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
                reasons.setdefault(r["reason"], []).append(f"{r['strategy']} {r['workload']}/{r['policy']} "
                                                           f"C={r['concurrency']}")
            lines += [f"- {reason}: {', '.join(which)}" for reason, which in reasons.items()]
        else:
            lines += [f"- {r['strategy']} {r['workload']}/{r['policy']} C={r['concurrency']}: {r['reason']}"
                      for r in rows]
        lines.append("")
    return lines


def overhead_section(run: dict[str, Any]) -> list[str]:
    values = [r["harness_overhead_pct"] for r in run["rows"] if r.get("harness_overhead_pct") is not None]
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


def machine_section(run: dict[str, Any]) -> list[str]:
    m, o, srv = run["machine"], run["options"], run.get("server", {})
    pin = m.get("pinning") or {}
    lines = ["## Machine and versions", "",
             (f"- CPU: {m.get('cpu_model')} × {m.get('cpu_count')}; Python {m.get('python')} "
             f"({m.get('implementation')}); {m.get('platform')}"),
             (f"- Pinning: server on CPUs {pin.get('server')}, workers on CPUs {pin.get('worker')} "
             f"({pin.get('note', '')})"),
             f"- Server: bundled local_server, backend `{srv.get('backend')}`",
             (f"- Sweep: rounds {o.get('rounds')} (+{o.get('warmup_rounds')} warm-up) per row, concurrency "
             f"{o.get('concurrency')}, workloads {o.get('workloads')}, policies {o.get('policies')}"
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
            "N / (⌈N/C⌉ × delay): a strategy on it spends no time of its own. `sequential` runs only at C=1; "
            f"its dotted line is that reference level. A server CPU ratio above {SATURATION_RATIO:.0%} means "
            "the server was the bottleneck. Every charted figure comes from the worker's own measurement of "
            "the fetch alone (wall time, CPU, RSS, latencies), never from pytest-benchmark's round-trip time."), ""]


def render(run: dict[str, Any], chart_files: list[Path], source: str) -> str:
    images = [f"![{p.stem}]({p.name})" for p in chart_files]
    head = [f"# concbench results — {run.get('created') or 'unfinished run'}", "",
            (f"Made by `python -m bench.report {source}` from that file alone; nothing below is hand-written "
            f"about the results. Charts: {', '.join(f'[{p.stem}]({p.name})' for p in chart_files)}."), ""]
    if images:
        head += [images[-1] if "headline" in chart_files[-1].name else images[0], ""]
    body = verdict_section(run) + machine_section(run) + tables_section(run) + problems_section(run)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__.splitlines()[0])
    parser.add_argument("json", type=Path, help="results JSON written by the sweep, e.g. results/latest.json")
    parser.add_argument("--out", type=Path, default=None, help="directory for REPORT.md and the PNGs")
    args = parser.parse_args(argv)
    try:
        report = make_report(args.json, args.out)
    except (OSError, ValueError, KeyError) as exc:
        print(f"bench.report: {exc}", file=sys.stderr)
        return 1
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
