"""Charts of a sweep, drawn with matplotlib (Agg) from the results JSON alone.

Rules this module keeps:
- one PNG per metric, a grid of panels: one row per workload, one column per connection policy, x = the
  concurrency C on a log axis, one line per strategy;
- a strategy has the same colour and marker in every chart and run, whatever is added to the registry: the
  colour is its registry entry's (a model's strategies share a hue), the marker a function of its name, the
  line dash-dotted for a strategy on our codec (``stack == "codec"``) and solid for one on an HTTP library;
  an era's row of it (``S@era``, ``strategies.eras``) has its colour and marker, half-filled, dotted;
- the metric charts draw the ``tuned`` profile (one line per strategy); ``claim.png`` sets the profiles side
  by side for the claim's members, and marks each point where the server saw fewer than C in flight;
- a flagged row is never drawn as a clean number: its marker is hollow, and the legend says so;
  failed and skipped rows are not drawn at all (REPORT.md lists them);
- the throughput panels of workloads that wait carry the ideal line N / ideal round (``bench.shapes``:
  N / (ceil(N/C) × delay) when every request waits alike);
- ``web_p99.png`` (a run with the web workload): p99 latency against C, over the floor no client can beat,
  the p99 of the round's drawn service times (each request's latency is at least its own);
- ``rss_per_connection.png`` (peak RSS / C, ``bench.results.rss_per_connection_kib``) is drawn only for a run
  with rows above the default sweep's levels (``bench.c10k``), every level of their workload and policy;
- ``sequential`` runs only at C=1: it is drawn as that one point plus a dotted reference line.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Literal, TypedDict

import matplotlib

matplotlib.use("Agg")  # files only, no display: the sweep runs headless (CI, ssh)

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, NullFormatter, NullLocator

from bench import c10k, models
from bench.analysis import cpu
from bench.record.rows import is_measured, measured_summary, peak_below_c, rss_per_connection_kib
from bench.record.schema import Row, Run, Summary
from bench.record.shapes import row_service_seconds
from strategies import CODEC, REGISTRY, explain
from strategies.eras import split
from strategies.workload import percentile

_MARKERS = "osD^vP*Xhp<>"


def _plain_number(y: float, _pos: int | None = None) -> str:
    """200 or 20,000, not 2×10²: readers compare numbers, not exponents."""
    return f"{y:,.0f}" if y >= 1 else f"{y:g}"


def _minor_number(y: float, pos: int | None = None) -> str:
    """Label the 2s and 5s between decades only: all of 2..9 overlap."""
    if y <= 0:
        return ""
    lead = round(y / 10 ** math.floor(math.log10(y)))
    return _plain_number(y) if lead in (2, 5) else ""


_PLAIN, _MINOR = FuncFormatter(_plain_number), FuncFormatter(_minor_number)
_PALETTE = [f"C{i}" for i in range(10)]  # the tab10 cycle: distinct, colour-blind-friendlier than jet


class Style(TypedDict):
    """A strategy's look, as matplotlib's keyword arguments name it."""
    color: str
    marker: str
    linestyle: Literal["-", "-.", ":"]
    fillstyle: Literal["full", "left"]


def style(strategy: str) -> Style:
    """Colour, marker and line of a strategy, stable across charts and runs."""
    strategy, era = split(strategy)
    index = sum(map(ord, strategy))  # a name's own number: adding a strategy moves no other's marker
    spec = REGISTRY.get(strategy)
    colour = spec.colour if spec is not None else _PALETTE[index % len(_PALETTE)]
    line: Literal["-", "-.", ":"] = ":" if era else "-." if spec is not None and spec.stack == CODEC else "-"
    return {"color": colour, "marker": _MARKERS[index % len(_MARKERS)], "linestyle": line,
            "fillstyle": "left" if era else "full"}


#: metric name -> (file stem, title, y label, value of a row, log y axis)
Metric = tuple[str, str, str, Callable[[Summary], float | None], bool]
METRICS: list[Metric] = [
    ("throughput", "Throughput (median of rounds; bars: min-max)", "requests / s",
     lambda s: s["req_per_s"]["median"], True),
    ("cpu_per_request", "Client CPU per request (median of rounds)", "CPU µs / request (user+sys)",
     lambda s: s["cpu_us_per_req"], True),
    ("peak_rss", "Client peak memory (worst round)", "peak RSS (MiB)",
     lambda s: s["peak_rss_kb"] / 1024 if s["peak_rss_kb"] else None, True),  # log: processes is 10-50x the rest
    ("p99_latency", "p99 request latency (median of rounds)", "p99 latency (ms)",
     lambda s: s["latency_ms"]["p99"], True),
]
#: web_p99.png: the p99 panel of the web workload, with its floor (``_p99_floor``).
WEB_P99: Metric = ("web_p99", "web workload: p99 request latency (median of rounds)", "p99 latency (ms)",
                   lambda s: s["latency_ms"]["p99"], False)  # linear: values sit within a decade of the floor
IDEAL_LABEL = "ideal: N / the round's least time (⌈N/C⌉ × delay when alike)"
P99_FLOOR_LABEL = "floor: p99 of the drawn delays (+ transfer)"


def _drawable(rows: list[Row]) -> list[tuple[Row, Summary]]:
    """The measured rows (``is_measured``) with their summaries: the only rows a chart draws."""
    return [(r, measured_summary(r)) for r in rows if is_measured(r)]


def _panel(ax: Axes, rows: list[Row], metric: Metric, workload: str, policy: str) -> None:
    _, _, ylabel, value, logy = metric
    if not _drawable(rows):
        ax.text(0.5, 0.5, "no measured rows", transform=ax.transAxes, ha="center", va="center", color="grey")
    by_strategy: dict[str, list[tuple[Row, Summary]]] = {}
    for row, summary in _drawable(rows):
        by_strategy.setdefault(row["strategy"], []).append((row, summary))
    for name, srows in by_strategy.items():
        srows.sort(key=lambda rs: rs[0]["concurrency"])
        pts: list[tuple[int, float, Row, Summary]] = []
        for r, summary in srows:
            y = value(summary)
            if y is not None:
                pts.append((r["concurrency"], y, r, summary))
        if not pts:
            continue
        st = style(name)
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        ax.plot(xs, ys, color=st["color"], linestyle=st["linestyle"], linewidth=1.4, label=name)
        if metric[0] == "throughput":
            lo = [y - p[3]["req_per_s"]["min"] for y, p in zip(ys, pts)]
            hi = [p[3]["req_per_s"]["max"] - y for y, p in zip(ys, pts)]
            ax.errorbar(xs, ys, yerr=[lo, hi], fmt="none", ecolor=st["color"], elinewidth=0.8, capsize=2)
        for x, y, row, _ in pts:
            hollow = row["status"] == "flagged"
            # hollow markers are drawn larger: a small hollow '+' or 'x' would still look filled
            ax.plot([x], [y], linestyle="none", marker=st["marker"], markersize=11 if hollow else 7,
                    fillstyle=st["fillstyle"],
                    color=st["color"], markerfacecolor="white" if hollow else st["color"], markeredgewidth=1.2,
                    zorder=3)
        if name == "sequential" and len(pts) == 1:
            ax.axhline(ys[0], color=st["color"], linestyle=":", linewidth=1)
    if metric[0] == "throughput":
        _ideal(ax, _drawable(rows))  # drawn only where the rows have a delay
    if metric is WEB_P99:
        _p99_floor(ax, _drawable(rows))
    ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(_PLAIN)
        ax.yaxis.set_minor_formatter(_MINOR)
    levels = sorted({r["concurrency"] for r in rows})
    if levels:
        ax.set_xticks(levels, [str(c) for c in levels])
        ax.xaxis.set_minor_locator(NullLocator())  # only the measured levels, no 2..9 log ticks
    ax.set_title(f"{workload} workload, {policy}", fontsize=10)
    ax.set_xlabel("concurrency C (requests in flight, log scale)")
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.3)


def _ideal(ax: Axes, rows: list[tuple[Row, Summary]]) -> None:
    points = {row["concurrency"]: row["requests"] / ideal for row, summary in rows if (ideal := summary["ideal_s"])}
    if points:
        xs = sorted(points)
        ax.plot(xs, [points[x] for x in xs], color="black", linestyle="--", linewidth=1, label=IDEAL_LABEL)


def _p99_floor(ax: Axes, rows: list[tuple[Row, Summary]]) -> None:
    """The p99 (nearest rank, as measured) of each level's service times: sorted latencies are each at least
    the sorted service times, so no round's p99 can be lower."""
    points = {row["concurrency"]: percentile(sorted(row_service_seconds(row)), 99) * 1000 for row, _ in rows}
    if points:
        xs = sorted(points)
        ax.plot(xs, [points[x] for x in xs], color="black", linestyle=":", linewidth=1.2, marker="_", markersize=16,
                label=P99_FLOOR_LABEL)  # the marker: a single level has no line to show


def _legend_handles(strategies: list[str], with_ideal: bool, with_floor: bool = False) -> list[Line2D]:
    handles = [Line2D([], [], color=style(n)["color"], marker=style(n)["marker"], linestyle=style(n)["linestyle"],
                      fillstyle=style(n)["fillstyle"],
                      label=n) for n in strategies]
    if with_ideal:
        handles.append(Line2D([], [], color="black", linestyle="--", label=IDEAL_LABEL))
    if with_floor:
        handles.append(Line2D([], [], color="black", linestyle=":", label=P99_FLOOR_LABEL))
    handles.append(Line2D([], [], color="grey", marker="o", markerfacecolor="white", linestyle="none",
                          label="hollow = flagged (see REPORT.md)"))
    return handles


def _order(values: list[str], preferred: list[str]) -> list[str]:
    return sorted(set(values), key=lambda v: (preferred.index(v) if v in preferred else len(preferred), v))


def draw_metric(run: Run, metric: Metric, path: Path, workloads: list[str] | None = None) -> Path:
    rows = [r for r in run["rows"] if r["profile"] == "tuned"]
    workloads = workloads or _order([r["workload"] for r in rows], ["latency", "throughput", "payload"])
    policies = _order([r["policy"] for r in rows], ["keepalive", "close"])
    fig, axes = plt.subplots(len(workloads), len(policies), squeeze=False,
                             figsize=(max(6.2 * len(policies), 13), 4.2 * len(workloads) + 0.8))  # room for the legend
    for i, workload in enumerate(workloads):
        for j, policy in enumerate(policies):
            panel = [r for r in rows if r["workload"] == workload and r["policy"] == policy]
            _panel(axes[i][j], panel, metric, workload, policy)
    strategies = _order([r["strategy"] for r, _ in _drawable(rows)], list(REGISTRY))
    with_ideal = metric[0] == "throughput" and any(summary["ideal_s"] for r in rows if r["workload"] in workloads
                                                   and (summary := r["summary"]))
    machine = run.get("machine", {})
    height = fig.get_figheight()
    fig.suptitle(f"{metric[1]}, tuned profile — {machine.get('cpu_count', '?')} CPUs, "
                 f"Python {machine.get('python', '?')}",
                 y=1.0 - 0.1 / height, va="top", fontsize=12)
    fig.legend(handles=_legend_handles(strategies, with_ideal, metric is WEB_P99), loc="upper center", ncol=6,
               fontsize=9,
               bbox_to_anchor=(0.5, 1.0 - 0.4 / height), frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.8 / height))
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


#: The claim chart's panels: (workload, profile), each drawn where the run has its rows; close policy only,
#: the one both profiles have (every as-written recipe opens a connection per request).
CLAIM_PANELS = (("latency", "as-written"), ("latency", "tuned"), ("claim", "as-written"))


def draw_claim(run: Run, path: Path) -> Path | None:
    """req/s against C for the claim's members, as written and tuned side by side; None without rows."""
    from bench.verdict import MEMBERS

    def rows_of(workload: str, profile: str) -> list[Row]:
        return [r for r, _ in _drawable(run["rows"]) if r["workload"] == workload and r["policy"] == "close"
                and r["profile"] == profile and r["strategy"] in MEMBERS]

    panels = [(w, p, rows_of(w, p)) for w, p in CLAIM_PANELS if rows_of(w, p)]
    if not panels or not any(p == "as-written" for _, p, _ in panels):
        return None
    fig, axes = plt.subplots(1, len(panels), squeeze=False, figsize=(5.6 * len(panels), 5.4))
    shared: list[Axes] = []
    for ax, (workload, profile, rows) in zip(axes[0], panels):
        _panel(ax, rows, METRICS[0], workload, "close")
        if profile == "as-written":  # tuned rows below C are CPU-bound, not capped: hollow says enough
            _mark_caps(ax, rows)
        levels = [r["concurrency"] for r in rows]
        ax.set_xlim(min(levels) / 1.6, max(levels) * 1.9)  # room for the labels right of the last level
        delay = rows[0]["delay_ms"]
        ax.set_title(f"{profile}: {workload} workload, {delay} ms per request, close", fontsize=10)
        if workload == "latency":
            shared.append(ax)
    if len(shared) > 1:  # as-written and tuned on one scale, so the drop from one to the other is visible
        low = min(a.get_ylim()[0] for a in shared)
        high = max(a.get_ylim()[1] for a in shared)
        for a in shared:
            a.set_ylim(low, high)
    names = _order([r["strategy"] for _, _, rows in panels for r in rows], list(MEMBERS))
    handles = _legend_handles(names, with_ideal=True)
    handles.append(Line2D([], [], color="grey", linestyle="none", marker="$≤n$", markersize=12,
                          label="≤n: as written, never more than n in flight at the server"))
    fig.suptitle("The claim's members: recipes as written (library defaults) vs tuned (every cap set to C)",
                 y=0.99, fontsize=12)
    fig.legend(handles=handles, loc="upper center", ncol=5, fontsize=9, bbox_to_anchor=(0.5, 0.95),
               frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.84))
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def draw_rss_per_connection(run: Run, path: Path) -> Path | None:
    """Client memory per in-flight connection against C, log-log: one panel per (workload, policy) with
    rows above the default sweep's levels, one line per strategy; None when the run has no such rows."""
    groups = c10k.groups(run)
    if not groups:
        return None
    fig, axes = plt.subplots(1, len(groups), squeeze=False, figsize=(max(6.8 * len(groups), 10), 5.4))  # room for the legend
    drawn: list[str] = []
    for ax, (workload, policy) in zip(axes[0], groups):
        rows = [r for r, _ in _drawable(run["rows"]) if r["workload"] == workload and r["policy"] == policy
                and r["profile"] == "tuned" and rss_per_connection_kib(r)]
        for name in _order([r["strategy"] for r in rows], list(REGISTRY)):
            mine = sorted((r for r in rows if r["strategy"] == name), key=lambda r: r["concurrency"])
            st, xs = style(name), [r["concurrency"] for r in mine]
            ax.plot(xs, [rss_per_connection_kib(r) for r in mine], color=st["color"], linestyle=st["linestyle"],
                    linewidth=1.4)
            for row in mine:
                hollow = row["status"] == "flagged"
                ax.plot([row["concurrency"]], [rss_per_connection_kib(row)], linestyle="none", marker=st["marker"],
                        markersize=11 if hollow else 7, color=st["color"],
                        markerfacecolor="white" if hollow else st["color"], markeredgewidth=1.2, zorder=3)
            drawn.append(name)
        levels = sorted({r["concurrency"] for r in rows})
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(_PLAIN)
        ax.yaxis.set_minor_formatter(_MINOR)
        if levels:
            ax.set_xticks(levels, [f"{c:,}" for c in levels])
            ax.xaxis.set_minor_locator(NullLocator())
        ax.set_title(f"{workload} workload, {policy}", fontsize=10)
        ax.set_xlabel("concurrency C (connections in flight, log scale)")
        ax.set_ylabel("peak RSS / C (KiB per connection, log)")
        ax.grid(True, which="major", alpha=0.3)
    fig.suptitle("Client memory per in-flight connection: peak RSS (worst round) / C, tuned", y=0.99, fontsize=12)
    fig.legend(handles=_legend_handles(list(dict.fromkeys(drawn)), with_ideal=False), loc="upper center", ncol=6,
               fontsize=9, bbox_to_anchor=(0.5, 0.95), frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.89))
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _mark_caps(ax: Axes, rows: list[Row]) -> None:
    """Label each point whose server-side peak in flight stayed below C: the cap, as measured."""
    for row in rows:
        peak = peak_below_c(row)
        if peak is not None:
            ax.annotate(f"≤{peak}", (row["concurrency"], measured_summary(row)["req_per_s"]["median"]),
                        textcoords="offset points", xytext=(6, -4), fontsize=8,
                        color=style(row["strategy"])["color"])


def draw_instructions(run: Run, path: Path) -> Path | None:
    """One horizontal bar panel per cell: instructions per request, callgrind-counted, each with its ratio to
    the cell's cheapest (linear: the ratios are the point)."""
    cells = cpu.instruction_rows(run)
    if not cells:
        return None
    fig, axes = plt.subplots(len(cells), 1, figsize=(8, 0.45 * sum(map(len, cells.values())) + 1.2 * len(cells)),
                             squeeze=False)
    for ax, (key, rows) in zip(axes[:, 0], cells.items(), strict=True):
        values = [float(count["instructions_per_request"]) for _, count in rows]
        names = [r["strategy"] for r, _ in rows]
        ax.barh(names, values, color=[style(n)["color"] for n in names])
        for y, value in enumerate(values):
            ax.text(value, y, f" {value / 1000:,.0f}k ({value / values[0]:.1f}×)", va="center", fontsize=8)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v / 1000:,.0f}k"))
        ax.invert_yaxis()
        ax.set_xlim(0, max(values) * 1.3)
        ax.set_title(f"{key[0]} workload, {key[1]}, {key[2]}, C={key[3]}", fontsize=10)
    axes[-1, 0].set_xlabel("user-space instructions per request (callgrind; lower is better)")
    fig.suptitle("Instructions per request: the CPU cost no neighbour can disturb", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def draw_model_vs_library(run: Run, path: Path) -> Path | None:
    """Model × stack (``bench.models``): one row of panels per policy, one column per C; in each, every
    model's strategies as horizontal bars of CPU µs per request (log, one scale for all panels), its codec
    row hatched and first, each bar labelled with its req/s."""
    cells = models.model_cells(run)
    if not cells:
        return None
    policies = _order([key[2] for key in cells], ["keepalive", "close"])
    levels = sorted({key[3] for key in cells})
    bars = max(map(len, cells.values()))
    fig, axes = plt.subplots(len(policies), len(levels), figsize=(4.6 * len(levels), (0.26 * bars + 1.2) * len(policies)),
                             squeeze=False, sharex=True)
    values = [s.cpu_us_per_req for stacks in cells.values() for s in stacks]
    for (i, policy), (j, level) in itertools.product(enumerate(policies), enumerate(levels)):
        ax, key = axes[i, j], next((k for k in cells if k[2] == policy and k[3] == level), None)
        if key is None:
            ax.set_axis_off()
            continue
        stacks = cells[key]
        ax.barh([f"{s.model}: {s.strategy}" for s in stacks], [s.cpu_us_per_req for s in stacks],
                color=[style(s.strategy)["color"] for s in stacks],
                hatch=[("//" if s.stack == CODEC else "") for s in stacks], edgecolor="white")
        for y, s in enumerate(stacks):
            ax.text(s.cpu_us_per_req, y, f" {s.req_per_s / 1000:,.1f}k/s", va="center", fontsize=7)
        ax.set_xscale("log")
        ax.set_xlim(min(values) / 1.5, max(values) * 5)
        ax.xaxis.set_major_formatter(_PLAIN)
        ax.xaxis.set_minor_formatter(NullFormatter())  # decades only: the 2s and 5s collide in a narrow panel
        ax.invert_yaxis()
        ax.tick_params(axis="y", labelsize=7)
        ax.set_title(f"{policy}, C={level}", fontsize=10)
        ax.grid(True, axis="x", which="major", alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("client CPU µs / request (log)")
    fig.suptitle("The model apart from its HTTP library: throughput workload, tuned. Bars: CPU per request "
                 "(lower is better), hatched for our codec; labels: req/s", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


#: One fixed colour per category of ``strategies.explain.CATEGORIES``, in every run.
CATEGORY_COLOURS = dict(zip(explain.CATEGORIES, ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#b0b0b0"),
                            strict=True))


def draw_cpu_breakdown(run: Run, path: Path) -> Path | None:
    """``--explain``: one stacked bar per strategy, the profiled round's CPU per request by category (left,
    µs; a black tick at the unprofiled CPU; hatched, child processes, not profiled) and as shares (right)."""
    found = cpu.explained_cell(run)
    if found is None:
        return None
    key, explained = found
    names = [r["strategy"] for r, _ in explained]
    rows = [e for _, e in explained]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 0.36 * len(rows) + 2.2), sharey=True,
                                      gridspec_kw={"width_ratios": (3, 2)})
    starts, shares = [0.0] * len(rows), [0.0] * len(rows)
    for category in explain.CATEGORIES:
        values = [e["categories"][category] for e in rows]
        parts = [v / e["cpu_us_per_req"] * 100 if e["cpu_us_per_req"] else 0.0
                 for v, e in zip(values, rows, strict=True)]
        left.barh(names, values, left=starts, color=CATEGORY_COLOURS[category], label=category)
        right.barh(names, parts, left=shares, color=CATEGORY_COLOURS[category])
        starts = [s + v for s, v in zip(starts, values, strict=True)]
        shares = [s + p for s, p in zip(shares, parts, strict=True)]
    children = [e["children_us_per_req"] for e in rows]
    left.barh(names, children, left=starts, color="white", edgecolor="grey", hatch="///",
              label="child processes (not profiled)")
    for y, e in enumerate(rows):
        unprofiled = e["reference_cpu_us_per_req"] + e["children_us_per_req"]
        left.plot([unprofiled], [y], marker="|", markersize=14, markeredgewidth=2.5, color="black",
                  label="unprofiled CPU" if y == 0 else None)
        left.text(starts[y] + children[y], y, f" ×{e['overhead']:.1f}" if e["overhead"] else "", va="center",
                  fontsize=8)
    left.invert_yaxis()
    left.set_xlim(0, max(s + c for s, c in zip(starts, children, strict=True)) * 1.12)
    left.set_xlabel("CPU µs / request in the profiled round (×: its overhead over the unprofiled one)")
    right.set_xlim(0, 100)
    right.set_xlabel("share of the profiled process's CPU (%)")
    for ax in (left, right):
        ax.grid(True, axis="x", alpha=0.3)
    fig.suptitle(f"Where a request's CPU goes (yappi, profiled round): {key[0]} workload, {key[1]}, {key[2]}, "
                 f"C={key[3]}", fontsize=11)
    fig.legend(loc="lower center", ncol=8, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.35 / fig.get_figheight(), 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def draw_all(run: Run, out_dir: Path) -> list[Path]:
    """Every chart of the run into ``out_dir``; returns the files written.

    matplotlib's layout divides by an axes' height, which is zero for a degenerate panel; on some partial
    runs (a sweep interrupted after a few rows) numpy then warns "divide by zero" from inside
    ``matplotlib.transforms``, and under pytest's ``filterwarnings = error`` that warning alone failed the
    interrupted sweep's report. Only those arithmetic warnings, raised inside matplotlib, are ignored here.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"matplotlib\.")
        return _draw_all(run, out_dir)


def _draw_all(run: Run, out_dir: Path) -> list[Path]:
    from bench import eras  # it draws with this module's panels

    out_dir.mkdir(parents=True, exist_ok=True)
    tuned = any(r["profile"] == "tuned" for r in run["rows"])  # none: no panel to draw
    paths = [draw_metric(run, metric, out_dir / f"{metric[0]}.png") for metric in METRICS] if tuned else []
    for extra in (draw_claim(run, out_dir / "claim.png"), eras.draw(run, out_dir / "eras.png"),
                  draw_instructions(run, out_dir / "instructions_per_request.png"),
                  draw_model_vs_library(run, out_dir / "model_vs_library.png"),
                  draw_cpu_breakdown(run, out_dir / "cpu_breakdown.png"),
                  draw_rss_per_connection(run, out_dir / "rss_per_connection.png")):
        if extra is not None:
            paths.append(extra)
    if any(r["workload"] == "web" and r["profile"] == "tuned" for r, _ in _drawable(run["rows"])):
        paths.append(draw_metric(run, WEB_P99, out_dir / "web_p99.png", workloads=["web"]))
    if tuned and any(r["workload"] == "latency" for r in run["rows"]):  # last: REPORT.md shows it on top
        paths.append(draw_metric(run, METRICS[0], out_dir / "headline.png", workloads=["latency"]))
    return paths
