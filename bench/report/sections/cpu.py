"""The report's sections on where a request's CPU goes: callgrind's instruction counts (``--instructions``)
and the profiled breakdown by category (``--explain``).

Rules this module keeps: each section is empty when the run has no such rows; a row whose pass failed is
listed with its error, never dropped; figures come from the rows alone.
"""

from __future__ import annotations

from bench.analysis import cpu
from bench.record.schema import Run
from bench.report.sections.markdown import fmt as _fmt
from bench.report.sections.markdown import table as _table
from bench.report.sections.markdown import where as _where
from strategies.probes import explain


def instructions_section(run: Run) -> list[str]:
    """``--instructions``: the callgrind counts per cell, and the CPU-cost order they establish."""
    cells = cpu.instruction_rows(run)
    failed = [(r, error) for r in run["rows"] if (error := cpu.instruction_error(r))]
    if not cells and not failed:
        return []
    lines = ["## Instructions per request (callgrind)", "",
             ("User-space instructions per request, counted by callgrind in an untimed pass after each row's "
              "rounds (`strategies/probes/instructions.py`: a warm-up round of N, then the fetch of N and of 3N "
              "counted over the worker's whole process tree; the figure is the difference over 2N). They move "
              "far less than CPU seconds with the machine's neighbours: single-threaded clients repeat to "
              "within 0.5 % on a quiet or a loaded machine, while clients with threads (threads, the executor, "
              "Twisted's resolver pool) or greenlets counted a few per cent more under load, because how much "
              "work one wake-up or loop turn batches depends on timing. Orders that differ by more than that "
              "hold on any machine of this architecture and Python build. They do not count time blocked, the "
              "kernel's work beyond the system call, or the server."), "",
             "![instructions_per_request](instructions_per_request.png)", ""]
    for (workload, profile, policy, c, _), rows in cells.items():
        cheapest = rows[0][1]["instructions_per_request"]
        lines += [f"**{workload}, {profile}, {policy}, C={c}** (N={rows[0][1]['requests']}):", ""]
        table = []
        for r, count in rows:
            summary = r["summary"]
            table.append([r["strategy"], f"{count['instructions_per_request']:,.0f}",
                          f"{count['instructions_per_request'] / cheapest:.1f}×",
                          _fmt(summary["cpu_us_per_req"] if summary else None), f"{count['seconds']:.0f}"])
        lines += _table(["strategy", "instructions / request", "× cheapest", "CPU µs / request (timed rounds)",
                         "pass s"], table)
        order = " < ".join(f"{r['strategy']}" for r, _ in rows)
        lines += ["", f"CPU-cost order by instructions: {order}.", ""]
    if failed:
        lines += [f"- no count for {_where(r)}: {error}" for r, error in failed] + [""]
    return lines


def explain_section(run: Run) -> list[str]:
    """``--explain``: where a request's CPU goes, by category, in the charted cell; failed breakdowns listed."""
    found = cpu.explained_cell(run)
    failed = [(r, error) for r in run["rows"] if (error := cpu.explain_error(r))]
    if found is None and not failed:
        return []
    lines = ["## Where a request's CPU goes (profiled round)", "",
             ("One extra round per row, after its timed rounds and untimed, under the yappi profiler (CPU clock, "
              "every thread, greenlet-aware; `strategies/probes/explain.py`), each function's self CPU mapped to a "
              "category by module and function: *event loop / scheduling* (asyncio, selectors, gevent, "
              "Twisted's reactor, Tornado's IOLoop, threading and queue locks, the process pool's messages), "
              "*HTTP parse and build* (our codec, httptools, http.client, URL parsing, the libraries' parsers "
              "and writers), *socket system calls* (the socket methods and socket.py), *library glue* (the "
              "rest of the HTTP libraries), *harness* (our strategy and outcome code), *other*; builtins and "
              "generic standard-library helpers count for their caller. The figures are CPU *as profiled*: "
              "every call costs the profiler about 2 µs, so a stack of many small calls (requests: ~3,500 per "
              "request) is inflated more than one of few costly ones; *×* is the profiled CPU over the same "
              "worker's unprofiled round, and *calls/req* (exact) says where the inflation lands. Child "
              "processes (`processes`) are not profiled: their CPU is shown whole."), ""]
    if found is not None:
        key, rows = found
        title = f"**{key[0]} workload, {key[1]}, {key[2]}, C={key[3]}** (N={rows[0][1]['requests']}):"
        lines += [title, "", "![cpu_breakdown](cpu_breakdown.png)", ""]
        table = []
        for r, e in rows:
            summary = r["summary"]
            shares = [f"{e['categories'][c]:,.0f} ({e['categories'][c] / e['cpu_us_per_req']:.0%}, "
                      f"{e['calls'][c]:,.0f})" if e["cpu_us_per_req"] else "-" for c in explain.CATEGORIES]
            table.append([r["strategy"], _fmt(summary["cpu_us_per_req"] if summary else None),
                          _fmt(e["reference_cpu_us_per_req"]), _fmt(e["cpu_us_per_req"]),
                          f"×{e['overhead']:.1f}" if e["overhead"] else "-", f"{e['calls_per_req']:,.0f}",
                          *shares, _fmt(e["children_us_per_req"])])
        lines += _table(["strategy", "CPU µs/req (timed rounds)", "unprofiled", "profiled", "×", "calls/req",
                         *(f"{c}: µs (share, calls)" for c in explain.CATEGORIES), "children µs"], table)
        lines.append("")
    if failed:
        lines += [f"- no breakdown for {_where(r)}: {error.splitlines()[-1]}" for r, error in failed]
        lines.append("")
    return lines
