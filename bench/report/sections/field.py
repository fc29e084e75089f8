"""REPORT.md's section on the choices of 2026 (``bench.analysis.field``): each new strategy beside the codec
row of its model and the library it would replace, and the caps its as-written recipe showed; ``summary``
is docs/results.md's generated copy of the headline cells.

Rules this module keeps: every figure is the analysis's; ratios are the new strategy ÷ the other with 95 %
intervals; the section is empty for a run without a new strategy beside an existing one.
"""

from __future__ import annotations

from bench.analysis.field import NEAREST, Beside, Cap, besides, caps
from bench.record.rows import CellKey
from bench.record.schema import Run
from bench.report.sections.markdown import fmt, paired_line, ratios_cells

#: The cells docs/results.md quotes: throughput, tuned, keep-alive, plain HTTP, at these C.
SUMMARY_LEVELS = (10, 100)


def section(run: Run) -> list[str]:
    found = besides(run)
    if not found:
        return []
    lines = ["## The choices of 2026", "",
             ("trio's codec row and today's fast clients, each beside the codec row of its model (our HTTP code "
              "on the same model: what the library costs) and the library it would replace there (which to "
              "pick): " + "; ".join(f"`{name}` beside {', '.join(f'`{o}`' for o in others)}"
                                    for name, others in NEAREST.items())
              + ". Ratios are the new strategy ÷ the other in one cell, measured interleaved, with 95 % "
              "intervals: req/s above 1 is faster, CPU µs per request above 1 is costlier. "
              "`bench/analysis/field.py`."), ""]
    lines += _per_pair(found) + _cells(found) + _caps(caps(run))
    return lines


def summary(run: Run) -> list[str]:
    """docs/results.md's table: every pair at throughput, tuned, keep-alive over HTTP, C = 10 and 100, and
    the as-written caps in one line; empty for a run without those cells."""
    cells = {level: CellKey("throughput", "tuned", "keepalive", level) for level in SUMMARY_LEVELS}
    found = [b for b in besides(run) if b.key in cells.values()]
    if not found:
        return []
    header = " | ".join(f"req/s ÷ C={c} | CPU ÷ C={c}" for c in SUMMARY_LEVELS)
    lines = [f"| strategy | beside | {header} |", "|---|---|" + "---|---|" * len(SUMMARY_LEVELS)]
    for name, other in dict.fromkeys((b.strategy, b.other) for b in found):
        figures = []
        for level in SUMMARY_LEVELS:
            pair = next((b for b in found if (b.strategy, b.other, b.key) == (name, other, cells[level])), None)
            figures += [pair.rate.interval_text, pair.cpu.interval_text] if pair else ["-", "-"]
        lines.append(f"| `{name}` | `{other}` | " + " | ".join(figures) + " |")
    return lines + _caps_line(caps(run))


def _caps_line(found: list[Cap]) -> list[str]:
    """One sentence: which as-written recipes held fewer than C in flight, where, and which never did."""
    if not found:
        return []
    capped = [cap for cap in found if cap.capped]
    held = sorted({cap.strategy for cap in found} - {cap.strategy for cap in capped})
    parts = [_capped_text(capped)] if capped else []
    if held:
        parts.append(f"{', '.join(f'`{n}`' for n in held)} held C in flight in every cell")
    return ["", "As written (the server's peak in flight, where requests wait in the server): " + "; ".join(parts) + "."]


def _per_pair(found: list[Beside]) -> list[str]:
    lines = [("**Per pair**, over the tuned cells holding both: median ratio (range over cells), and in how "
              "many cells it differed decisively (≥ 5 % and significant) either way:"), "",
             "| strategy | beside | cells | req/s ÷ | faster / slower | CPU µs ÷ | cheaper / costlier |",
             "|---|---|---|---|---|---|---|"]
    tuned = [b for b in found if b.key.profile == "tuned"]
    for name, other in dict.fromkeys((b.strategy, b.other) for b in tuned):
        mine = [b for b in tuned if (b.strategy, b.other) == (name, other)]
        cells = ratios_cells([b.rate for b in mine], [b.cpu for b in mine])
        lines.append(f"| `{name}` | `{other}` | {len(mine)} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _cells(found: list[Beside]) -> list[str]:
    lines = ["Every cell (medians over rounds; *peak*: the server's peak in flight, the highest round):", "",
             ("| cell | strategy | beside | req/s | req/s beside | ÷ | CPU µs | CPU µs beside | ÷ | "
              "peak / beside |"), "|---|---|---|---:|---:|---|---:|---:|---|---|"]
    lines += [paired_line(b.key, [f"`{b.strategy}`", f"`{b.other}`"], b.mine, b.theirs, b.rate, b.cpu)
              for b in found]
    return [*lines, ""]


def _caps(found: list[Cap]) -> list[str]:
    if not found:
        return []
    lines = [("**As written**: the most requests the server saw in flight at once (the highest round) at each "
              "C, **bold** where fewer than C, and its CPU cost beside tuned's: a peak below C at tuned's cost is "
              "a limit of the recipe's defaults; at many times tuned's, the recipe's cost per request:"), "",
             ("| strategy | workload | policy | peak in flight at C | CPU µs per request at C, as written "
              "(tuned) |"), "|---|---|---|---|---|"]
    for name, workload, policy in dict.fromkeys((c.strategy, c.key.workload, c.key.policy) for c in found):
        mine = [c for c in found if (c.strategy, c.key.workload, c.key.policy) == (name, workload, policy)]
        levels = " · ".join(f"C={c.key.concurrency}: " + (f"**{c.peak}**" if c.capped else str(c.peak))
                            for c in mine)
        costs = " · ".join(f"C={c.key.concurrency}: {fmt(c.cpu_us)}"
                           + (f" ({fmt(c.tuned_cpu_us)})" if c.tuned_cpu_us is not None else "") for c in mine)
        lines.append(f"| `{name}` | {workload} | {policy} | {levels} | {costs} |")
    return [*lines, ""]


def _capped_text(capped: list[Cap]) -> str:
    by_name: dict[str, list[Cap]] = {}
    for cap in capped:
        by_name.setdefault(cap.strategy, []).append(cap)
    return "; ".join(f"`{name}` held at most {max(c.peak or 0 for c in mine)} in flight at C="
                     + ", ".join(str(c) for c in sorted({c.key.concurrency for c in mine}))
                     + f" ({'; '.join(_where(c) for c in mine)})" for name, mine in by_name.items())


def _where(cap: Cap) -> str:
    tuned = f", tuned {fmt(cap.tuned_cpu_us)}" if cap.tuned_cpu_us is not None else ""
    return f"{cap.key.workload} {cap.key.policy}: {fmt(cap.cpu_us)} µs CPU per request{tuned}"
