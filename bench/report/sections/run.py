"""REPORT.md's sections on the run itself: the warning a run with faults opens with, the server, the machine
and versions, the machine's noise and the rounds it cost, the harness's overhead, the flagged, failed,
skipped and not-run rows, every row per workload, and how to read the charts.

Rules this module keeps: every figure comes from the run (the flags' definitions from
``bench.record.rows``, the noise's thresholds from ``bench.sweep.noise`` that judged it); a row that could not
run is listed with its reason, never dropped; what only a run of schema 4 records (causes, restarts, the
server's loop lag) is printed only where the run recorded it, so an older run's report reads as before.
"""

from __future__ import annotations

import statistics

from bench.record.rows import (
    FLAG_TEXT,
    FLAGS_NEEDING,
    NOTE_TEXT,
    OVERHEAD_LIMIT_PCT,
    SATURATION_RATIO,
    CellKey,
    cell_of,
)
from bench.record.schema import Row, Run, ServerRecord
from bench.report.sections.markdown import fmt as _fmt
from bench.report.sections.markdown import table as _table
from bench.report.sections.markdown import where as _where
from bench.sweep.cells import EXTRA_SHARE, HALF_WIDTH
from bench.sweep.noise import (
    OTHERS_PCT_MAX,
    STALL_MIN_S,
    STALL_SHARE,
    STEAL_PCT_MAX,
    noise_summary,
    system_check_text,
)

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
                f"{row['size']} bytes, `bench/record/shapes.py`)")
    pace = f", paced at {row['rate_kbps']} kbit/s" if row.get("rate_kbps") else ""
    delays = "/".join(f"{d:,}" for d in sorted({r["delay_ms"] for r in rows}))
    return f"delay {delays} ms, body {row['size']} bytes{pace}"


def _row_line(row: Row) -> list[str]:
    s = row.get("summary")
    base = [row["strategy"], row["profile"], row["policy"], str(row["concurrency"]),
            str(row["requests"]), str(row["status"])]
    if not s:
        return base + ["-"] * 10
    rps = s["req_per_s"]
    ratio = s["server_cpu_ratio"]
    return [
        *base,
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
             "the requests admitted in id order into C slots, `bench/record/shapes.py`). *peak in flight* = the smallest of the per-round peaks "
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
        lines += _table(header, [_row_line(r) for r in rows if r["status"] not in ("skipped", "not_run")])
        lines.append("")
    return lines


def _rate(row: Row) -> float:
    s = row.get("summary")
    return float(s["req_per_s"]["median"]) if s else 0.0


#: The causes (``bench.record.schema.Cause``) that are not the strategy's own: a row failed of one of them
#: (or of a cause not recorded, before schema 4), or not run, is named in the warning REPORT.md opens with.
_NOT_THE_STRATEGY = {"worker": "its worker died", "server": "the server went", "harness": "the sweep failed it",
                     "interrupted": "the sweep was interrupted", None: "cause not recorded"}


def _faulted(run: Run) -> list[Row]:
    return [r for r in run["rows"] if r["status"] == "not_run"
            or (r["status"] == "failed" and r.get("cause") != "strategy")]


def faults_warning(run: Run) -> list[str]:
    """What REPORT.md opens with when rows failed or were not run for a reason outside their strategies (the
    server, the sweep, the machine): which, grouped by cell and reason, and the server's restarts; nothing
    for a run without such rows."""
    rows = _faulted(run)
    restarts = run.get("server_restarts") or []
    if not rows and not restarts:
        return []
    failed = sum(r["status"] == "failed" for r in rows)
    lines = [(f"> **Warning: {failed} rows failed and {len(rows) - failed} were not run for a reason outside "
              f"their strategies** (the server, the sweep or the machine); a reading with such a member is "
              f"*not judged* in that cell. Their figures are missing, not zero:"), ">"]
    groups: dict[tuple[str | None, str | None, str], list[Row]] = {}
    for r in rows:
        groups.setdefault((r["status"], r.get("cause"), r["reason"].splitlines()[0]), []).append(r)
    for (status, cause, reason), members in groups.items():
        cells: dict[str, list[str]] = {}
        for r in members:
            cells.setdefault(_cell_words(cell_of(r)), []).append(r["strategy"])
        which = "; ".join(f"{cell} ({', '.join(names)})" for cell, names in cells.items())
        what = "not run" if status == "not_run" else f"failed ({_NOT_THE_STRATEGY.get(cause, cause)})"
        lines.append(f"> - {len(members)} {what}: {which}: {reason}")
    if restarts:  # why, once: a death during a cell is its rows' reason above
        lines.append(f"> - the server was restarted {len(restarts)} times (`server_restarts`): " + "; ".join(
            f"after its death during {_cell_words(CellKey(**cell))} (new pid {restart['pid']})"
            if (cell := restart["cell"]) else f"between cells: {restart['why']}" for restart in restarts))
    return [*lines, ""]


def _cell_words(cell: CellKey) -> str:
    return f"{cell.workload}/{cell.profile}/{cell.policy} C={cell.concurrency}"


def problems_section(run: Run) -> list[str]:
    lines = ["## Flagged, failed and skipped rows", "",
             "A flagged row's numbers are real but not clean; charts draw them with hollow markers. Flags:", ""]
    recorded = {key for row in run["rows"] for r in row["rounds"] for key in r}
    lines += [f"- `{code}`: {text}." for code, text in FLAG_TEXT.items()
              if FLAGS_NEEDING.get(code, "id") in recorded | {"id"}]
    lines.append("")
    for status, title in (("flagged", "Flagged"), ("failed", ("Failed (no clean result; the worker died or "
                                                             "errored)")), ("skipped", "Skipped"),
                          ("not_run", "Not run (the sweep stopped before it reached them)")):
        rows = [r for r in run["rows"] if r["status"] == status]
        if status == "not_run" and not rows:
            continue
        lines += [f"**{title}: {len(rows)} rows.**", ""]
        if status in ("skipped", "not_run"):
            reasons: dict[str, list[str]] = {}
            for r in rows:
                reasons.setdefault(r["reason"], []).append(_where(r))
            lines += [f"- {reason}: {', '.join(which)}" for reason, which in reasons.items()]
        else:
            lines += [f"- {_where(r)}: {f'({cause}) ' if (cause := r.get('cause')) else ''}{r['reason']}"
                      for r in rows]
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
        lines += ["Before the sweep (`bench.sweep.noise.system_check`):", "", "```", system_check_text(check), "```", ""]
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
    lags = [(lag, r) for r in rounds if (lag := r.get("server_loop_lag_s")) is not None]
    if lags:
        stalled = [r for _, r in lags if r.get("server_stalled")]
        ordered = sorted(lag for lag, _ in lags)
        lines.append(
            f"The server measured its own loop (`loop_lag_max_s`: its longest turn, or wait past the wait's "
            f"timeout, in each round): the longest gap was {ordered[len(ordered) // 2] * 1e3:.1f} ms in the "
            f"median round and {ordered[-1] * 1e3:,.1f} ms in the worst; **{len(stalled)} rounds ran on a stalled "
            f"server** (a gap over {STALL_SHARE:.0%} of the round and at least {STALL_MIN_S * 1e3:g} ms), each "
            f"flagging its row `server_stalled`.")
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
             f"- Server: {server_text(srv)}",
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


def server_text(server: ServerRecord) -> str:
    """One line for REPORT.md: which server, where, and the round trip to it (from a run's ``server``)."""
    kind = server.get("kind", "bundled")
    where = {"bundled": "the bundled local_server (started by the sweep)",
             "external": f"an external local_server at {server.get('url')} (`--server-url`)",
             "link": f"the bundled local_server at {server.get('url')}, in a network namespace"}[kind]
    text = f"{where}, backend `{server.get('backend')}`"
    link = server.get("link")
    if link:
        text += (f", behind a {link['rate_bit_s'] / 1e6:g} Mbit/s link (`--link`: tbf on both ends of a veth "
                 f"pair, burst {link['burst_bytes']:,} B, queue {link['limit_bytes']:,} B)")
    rtt = server.get("rtt")
    if rtt:
        request, connect = rtt["request_ms"], rtt["connect_ms"]
        text += (f"; round trip {request['median']:.3g} ms (p90 {request['p90']:.3g}) per keep-alive GET /stats, "
                 f"{connect['median']:.3g} ms (p90 {connect['p90']:.3g}) per TCP connect, {rtt['samples']} each")
    if kind == "external":
        text += ("; server-side: its CPU time is its own (/stats), its pinning and its machine's noise are not "
                 "known to the sweep")
    return text
