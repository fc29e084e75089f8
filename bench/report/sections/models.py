"""REPORT.md's model × stack section: per throughput cell, each model's codec row and its library rows
(``bench.analysis.models``), with the ratios of CPU per request and req/s.

Rules this module keeps: every figure is the analysis's; the section is empty without such cells.
"""

from __future__ import annotations

from bench.analysis.claim import CLAIM
from bench.analysis.cpu import explained_cell, instruction_rows
from bench.analysis.models import model_cells
from bench.record.rows import CellKey
from bench.record.schema import Explain, InstructionCount, Row, Run
from strategies import CODEC, MODELS, REGISTRY
from strategies.probes.explain import GLUE as LIBRARY_GLUE
from strategies.probes.explain import HTTP as HTTP_CODE


def section(run: Run) -> list[str]:
    """REPORT.md's model × stack section: one table per cell."""
    cells = model_cells(run)
    if not cells:
        return []
    lines = ["## The model apart from its HTTP library", "",
             ("Each model runs with our sans-IO codec (`strategies/http1.py` over the model's own sockets: the "
              "*codec* rows) and with the library its users reach for. On the throughput workload (no delay) "
              "CPU per request is all a round costs, so the codec row measures the model and the difference is "
              "the library's own cost. Ratios are the library row over the model's codec row in the same cell, "
              "with 95 % intervals (Welch on log per-round values). `bench/analysis/models.py`."), "",
             "![model_vs_library](model_vs_library.png)", ""]
    for (_, _, policy, c, _), stacks in cells.items():
        lines += [f"**{policy}, C={c}:**", "",
                  ("| model | stack | strategy | CPU µs / request | req/s | library's own µs / request | "
                   "CPU × codec | req/s × codec |"), "|---|---|---|---:|---:|---:|---|---|"]
        for s in stacks:
            own = f"{s.library_us:,.0f}" if s.library_us is not None else ""
            lines.append(f"| {s.model} | {s.stack} | `{s.strategy}` | {s.cpu_us_per_req:,.0f} | "
                         f"{s.req_per_s:,.0f} | {own} | {s.cpu_ratio.interval_text if s.cpu_ratio else ''} | "
                         f"{s.rate_ratio.interval_text if s.rate_ratio else ''} |")
        lines.append("")
    return lines


#: docs/results.md's summary quotes this level of the model × stack cells: ten in flight interleave every
#: model, and every strategy but ``sequential`` runs there (``bench.analysis.cpu.EXPLAIN_CELL`` alike).
SUMMARY_LEVEL = 10
#: The summary's two policies, in the order its cells print them (``A · B``).
SUMMARY_POLICIES = ("keepalive", "close")


def summary(run: Run) -> list[str]:
    """docs/results.md's table of the model apart from its library: per model, each codec row's and each
    library row's CPU µs per request at ``SUMMARY_LEVEL`` under keep-alive · close (the library's own µs in
    brackets), then the spans they show and what the profiled rounds found in requests. Empty without cells,
    and for a run without profiled rounds (``--explain``): the section quotes the models run, whose
    breakdowns it cites, not any run that happens to hold a throughput cell (the instructions run does)."""
    explained = explained_cell(run)
    if explained is None:
        return []
    # Plain HTTP only: a cell's HTTPS twin has the same policy and level, and would overwrite it here.
    cells = {key.policy: {s.strategy: s for s in stacks} for key, stacks in model_cells(run).items()
             if key.concurrency == SUMMARY_LEVEL and key.scheme == "http"}
    if not cells:
        return []
    policies = [p for p in SUMMARY_POLICIES if p in cells]
    names = list(dict.fromkeys(name for p in policies for name in cells[p]))
    first = cells[policies[0]]

    def figures(name: str, own: bool) -> str:
        texts = []
        for policy in policies:
            s = cells[policy].get(name)
            extra = f" ({s.library_us:+,.0f})" if own and s is not None and s.library_us is not None else ""
            texts.append(f"{s.cpu_us_per_req:,.0f}{extra}" if s is not None else "–")
        return " · ".join(texts)

    lines = ["| model | our codec | its libraries (the library's own µs) |", "|---|---|---|"]
    for model in MODELS:
        members = [n for n in names if REGISTRY[n].model == model]
        codecs = [f"`{n}` {figures(n, False)}" for n in members if REGISTRY[n].stack == CODEC]
        libraries = [f"{REGISTRY[n].stack} {figures(n, True)}" for n in members if REGISTRY[n].stack != CODEC]
        if codecs or libraries:
            lines.append(f"| {model} | {', '.join(codecs) or '—'} | {'; '.join(libraries) or '—'} |")
    label = " · ".join("keep-alive" if p == "keepalive" else p for p in policies)
    lines += ["", f"(C = {SUMMARY_LEVEL}; {label}; medians of the interleaved rounds of one cell.)"]
    codec_us = {n: s.cpu_us_per_req for n, s in first.items() if REGISTRY[n].stack == CODEC}
    multiples = {n: s.cpu_ratio.ratio for n, s in first.items() if s.cpu_ratio is not None}
    if len(codec_us) > 1 and multiples:
        cheap, dear = min(codec_us, key=codec_us.__getitem__), max(codec_us, key=codec_us.__getitem__)
        low, high = min(multiples, key=multiples.__getitem__), max(multiples, key=multiples.__getitem__)
        lines += ["", (f"Under {label.split(' · ')[0]}, with the same codec the models cost "
                       f"{codec_us[cheap]:,.0f} (`{cheap}`) to {codec_us[dear]:,.0f} µs per request (`{dear}`), "
                       f"within {codec_us[dear] / codec_us[cheap]:.1f}× of each other; their libraries multiply "
                       f"their model's cost by {multiples[low]:.1f}× (`{low}`) to {multiples[high]:.1f}× "
                       f"(`{high}`).")]
    return lines + _requests_explained(explained)


def _requests_explained(found: tuple[CellKey, list[tuple[Row, Explain]]]) -> list[str]:
    """What the profiled round (``--explain``) found in requests' rows of ``found`` (``explained_cell``):
    calls per request, the share of the profiled CPU in the library's own code, and its costliest function."""
    key, rows = found
    texts = []
    for row, explained in rows:
        spec = REGISTRY.get(row["strategy"])
        # The profiler sees one process: a row whose requests ran in children (``processes``) has no
        # library code in its profile to speak of.
        if spec is None or spec.stack != "requests" or explained["children_us_per_req"] > 0:
            continue
        categories = explained["categories"]
        total = sum(categories.values())
        own = categories.get(LIBRARY_GLUE, 0.0) + categories.get(HTTP_CODE, 0.0)
        top = max(explained["top"].get(LIBRARY_GLUE, []), key=lambda f: f["us_per_req"], default=None)
        costliest = (f"; its costliest function `{top['function']}` ({top['calls_per_req']:,.0f} calls per "
                     f"request)") if top else ""
        if total > 0:
            texts.append(f"`{row['strategy']}` ({spec.model}) {explained['calls_per_req']:,.0f} calls per "
                         f"request, {own / total:.0%} of its profiled CPU in {LIBRARY_GLUE} and {HTTP_CODE}"
                         f"{costliest}")
    if not texts:
        return []
    policy = "keep-alive" if key.policy == "keepalive" else key.policy
    return ["", (f"The profiled round (`--explain`, {key.workload}, {policy}, C = {key.concurrency}; "
                 f"[cpu_breakdown.png](../results/models/cpu_breakdown.png)) of requests' rows: "
                 + "; ".join(texts) + ".")]


def instructions_summary(run: Run) -> list[str]:
    """docs/results.md's line of instructions per request (``--instructions``): the codec rows, cheapest
    first, then the library rows, in the cell with the most counted rows; the models' span and the most a
    library adds over its model's codec row. Empty without counts."""
    counted = instruction_rows(run)
    if not counted:
        return []
    # The plain-HTTP cell with the most counted rows; its HTTPS twin, when counted too, follows it.
    key = max(counted, key=lambda k: (k.scheme == "http", len(counted[k])))
    rows = [(r["strategy"], c["instructions_per_request"]) for r, c in counted[key] if r["strategy"] in REGISTRY]
    codecs = [(n, i) for n, i in rows if REGISTRY[n].stack == CODEC]
    libraries = [(n, i) for n, i in rows if REGISTRY[n].stack != CODEC]
    if not codecs:
        return []
    per_model: dict[str, float] = {}
    for name, count in codecs:
        per_model.setdefault(REGISTRY[name].model, count)  # the cheapest codec row of its model
    over = [(n, i / per_model[REGISTRY[n].model]) for n, i in libraries if REGISTRY[n].model in per_model]
    policy = "keep-alive" if key.policy == "keepalive" else key.policy
    text = (f"Instructions per request (callgrind, {key.workload}, {policy}, C = {key.concurrency}): with our "
            f"codec, " + ", ".join(f"`{n}` {_count(i)}" for n, i in codecs))
    if libraries:
        text += "; with their libraries, " + ", ".join(
            f"{REGISTRY[n].stack} on {REGISTRY[n].model} (`{n}`) {_count(i)}" for n, i in libraries)
    text += f". The models span {codecs[-1][1] / codecs[0][1]:.1f}×"
    if over:
        name, most = max(over, key=lambda o: o[1])
        text += f"; a library adds up to {most:.0f}× its model's codec row (`{name}`)"
    return [text + ".", *_over_tls(counted, key, dict(rows)), *_first_step(dict(rows), per_model)]


def _over_tls(counted: dict[CellKey, list[tuple[Row, InstructionCount]]], key: CellKey,
              plain: dict[str, float]) -> list[str]:
    """The same cell's counts over HTTPS, each ÷ its HTTP count, cheapest first; empty without them."""
    twin = counted.get(key._replace(scheme="https"))
    if not twin:
        return []
    over = [(r["strategy"], c["instructions_per_request"]) for r, c in twin if r["strategy"] in plain]
    if not over:
        return []
    return ["", ("Over HTTPS (the same cell, TLS 1.3; keep-alive, so a handshake per connection, not per request): "
                 + ", ".join(f"`{n}` {_count(i)} ({i / plain[n]:.2f}× its HTTP count)" for n, i in over) + ".")]


def _first_step(counts: dict[str, float], per_model: dict[str, float]) -> list[str]:
    """The claim's first step in instructions: how much of gevent+requests' and Twisted's Agent's count per
    request their models account for (each model's cheapest codec row), and how much their stacks."""
    first, second = CLAIM[:2]
    shares = []
    for name in (first, second):
        model = REGISTRY[name].model
        if name not in counts or model not in per_model:
            return []
        shares.append((name, model, counts[name], per_model[model]))
    (a, a_model, a_all, a_model_n), (b, b_model, b_all, b_model_n) = shares
    return ["", (f"The claim's first step, {a} > {b}, in these counts: {a} ({REGISTRY[a].stack} on {a_model}) "
                 f"costs {_count(a_all)} per request, of which its model with our codec {_count(a_model_n)} "
                 f"({a_model_n / a_all:.0%}); {b} ({REGISTRY[b].stack} on {b_model}) {_count(b_all)}, of which its "
                 f"model {_count(b_model_n)} ({b_model_n / b_all:.0%}). {a_model.capitalize()} cost "
                 f"{a_model_n / b_model_n:.2f}× {_of(b_model)} instructions per request; {_of(REGISTRY[a].stack)} "
                 f"stack {(a_all - a_model_n) / (b_all - b_model_n):.1f}× {_of(REGISTRY[b].stack)}. So {a} > {b} can only "
                 f"come from the model or from waiting, never from its HTTP code.")]


def _of(name: str) -> str:
    """English's possessive of a name: requests', Twisted's."""
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def _count(instructions: float) -> str:
    return f"{instructions / 1e6:.2f} million" if instructions >= 1e6 else f"{instructions / 1e3:,.0f}k"
