"""The panels every chart is made of, and the look of each strategy in all of them.

Rules this module keeps:
- a strategy has the same colour and marker in every chart and run, whatever is added to the registry: the
  colour is its registry entry's (a model's strategies share a hue), the marker a function of its name, the
  line dash-dotted for a strategy on our codec (``stack == "codec"``) and solid for one on an HTTP library;
  an era's row of it (``S@era``, ``strategies.eras``) or another interpreter's (``S@py3.13``,
  ``strategies.pythons``) has its colour and marker, half-filled, dotted;
- a panel is x = the concurrency C on a log axis, one line per strategy; only measured rows are drawn
  (``bench.record.rows.is_measured``: failed and skipped rows are not, REPORT.md lists them), and a flagged
  row is never drawn as a clean number: its marker is hollow, and the legend says so;
- the throughput panels of workloads that wait carry the ideal line N / ideal round
  (``bench.record.shapes``: N / (ceil(N/C) × delay) when every request waits alike); the web p99 panel its
  floor, the p99 of the round's drawn service times (each request's latency is at least its own);
- ``sequential`` runs only at C=1: it is drawn as that one point plus a dotted reference line;
- what the chart modules share is public here (``panel``, ``mark_caps``, ``legend_handles``,
  ``preferred_order``, ``style``, the formatters); nothing else of a chart module is used by another; the
  results page draws with ``style`` and ``hex_colour`` too, so a strategy looks alike there.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal, TypedDict

from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, NullLocator

from bench.record.rows import is_measured, measured_summary, peak_below_c
from bench.record.schema import Row, Summary
from bench.record.shapes import row_service_seconds
from strategies import CODEC, REGISTRY
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


PLAIN, MINOR = FuncFormatter(_plain_number), FuncFormatter(_minor_number)
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


def hex_colour(strategy: str) -> str:
    """The strategy's colour (``style``) as ``#rrggbb``, for what draws it without matplotlib (the results
    page, ``bench.report.page``)."""
    return str(to_hex(style(strategy)["color"]))


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


def drawable(rows: list[Row]) -> list[tuple[Row, Summary]]:
    """The measured rows (``is_measured``) with their summaries: the only rows a chart draws."""
    return [(r, measured_summary(r)) for r in rows if is_measured(r)]


def panel(ax: Axes, rows: list[Row], metric: Metric, workload: str, policy: str) -> None:
    """One panel: ``metric`` of ``rows`` (measured ones only) against C, a line per strategy, titled by
    workload and policy; throughput with its min-max bars and ideal line, the web p99 with its floor."""
    _, _, ylabel, value, logy = metric
    if not drawable(rows):
        ax.text(0.5, 0.5, "no measured rows", transform=ax.transAxes, ha="center", va="center", color="grey")
    by_strategy: dict[str, list[tuple[Row, Summary]]] = {}
    for row, summary in drawable(rows):
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
            lo = [y - p[3]["req_per_s"]["min"] for y, p in zip(ys, pts, strict=True)]
            hi = [p[3]["req_per_s"]["max"] - y for y, p in zip(ys, pts, strict=True)]
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
        _ideal(ax, drawable(rows))  # drawn only where the rows have a delay
    if metric is WEB_P99:
        _p99_floor(ax, drawable(rows))
    ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(PLAIN)
        ax.yaxis.set_minor_formatter(MINOR)
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


def legend_handles(strategies: list[str], with_ideal: bool, with_floor: bool = False) -> list[Line2D]:
    """A figure legend's entries: each strategy's look, the ideal and floor lines if drawn, hollow = flagged."""
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


def preferred_order(values: list[str], preferred: list[str]) -> list[str]:
    """The distinct ``values``, those in ``preferred`` first and in its order, the rest by name."""
    return sorted(set(values), key=lambda v: (preferred.index(v) if v in preferred else len(preferred), v))


def mark_caps(ax: Axes, rows: list[Row]) -> None:
    """Label each point whose server-side peak in flight stayed below C: the cap, as measured."""
    for row in rows:
        peak = peak_below_c(row)
        if peak is not None:
            ax.annotate(f"≤{peak}", (row["concurrency"], measured_summary(row)["req_per_s"]["median"]),
                        textcoords="offset points", xytext=(6, -4), fontsize=8,
                        color=style(row["strategy"])["color"])
