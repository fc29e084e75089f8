"""The cost model: for every row, the lower bound on its round's time that explains it, or none that does.

A round of N requests at most C in flight, with a delay d per request, cannot take less than any of:
- *waiting*: ⌈N/C⌉ × d, the ideal (every wave of C requests waits one delay, nothing else costs time; with
  per-request delays or paced bodies, the ideal of ``bench.record.shapes.ideal_seconds``);
- *client CPU*: N × the client's CPU per request, since the worker and all its threads or children are
  pinned to one core;
- *server CPU*: the server's CPU for the round, since it is single-threaded on its own core;
- *a cap*: ⌈N/P⌉ × d (the ideal on P slots) when the server never saw more than P < C of the row's
  requests in flight.

Rules this module keeps:
- every figure is the row's own measured summary (median round wall time, CPU per request, server CPU
  ratio, peak in flight); nothing is fitted, so a row the bounds cannot explain is called that;
- a row *sits on* the largest bound when its wall time is within ``ON_BOUND`` of it; else, when the bounds
  *added up* come within ``ON_BOUND`` of it (at C=1, or any C too low to overlap them, a request's client
  work, server work and wait happen one after another), it is *serial*; else it is *unexplained*, and the
  report lists it with the time no bound accounts for (``bench.report.sections.costs``);
- the text says it in numbers, e.g. "CPU-bound: 607 µs × 2000 requests = 1.21 s ≫ 0.10 s of waiting".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.record.schema import Row
from bench.record.shapes import row_ideal_s

#: A row is on a bound when its wall time is at most this factor above it. Loopback, the wake-ups between
#: two processes and the harness's pipe round trip add some tens of per cent to any bound at small N; a
#: factor of 1.5 leaves that in and still catches a row that lost a third of its time to nothing measured.
ON_BOUND = 1.5

#: The bounds' names in the report, in order of precedence when two are equal.
BOUND_NAMES = {"waiting": "waiting", "client": "client CPU", "server": "server CPU", "cap": "a cap"}


@dataclass(frozen=True)
class Bounds:
    """One row's lower bounds (seconds per round) and which explains its wall time."""

    wall_s: float
    requests: int
    seconds: dict[str, float]
    cpu_us_per_req: float | None
    peak: int | None
    #: waiting, client, server or cap: the row sits on it; serial: the bounds added up; unexplained.
    kind: str

    @property
    def largest(self) -> tuple[str, float]:
        return max(self.seconds.items(), key=lambda item: item[1])

    @property
    def ratio(self) -> float:
        """Wall time over the bound that explains it (the largest, or the sum when serial)."""
        bound = sum(self.seconds.values()) if self.kind == "serial" else self.largest[1]
        return self.wall_s / bound if bound > 0 else math.inf

    @property
    def text(self) -> str:
        name, largest = self.largest
        others = sorted(((s, n) for n, s in self.seconds.items() if n != name), reverse=True)
        against = f" ≫ {others[0][0]:.2f} s of {BOUND_NAMES[others[0][1]]}" if others else ""
        if name == "client" and self.cpu_us_per_req is not None:
            figure = f"{self.cpu_us_per_req:,.0f} µs × {self.requests} requests = {largest:.2f} s"
        elif name == "cap":
            figure = f"at most {self.peak} in flight: {largest:.2f} s"
        else:
            figure = f"{largest:.2f} s"
        if self.kind == "serial":
            parts = " + ".join(f"{s:.2f} s {BOUND_NAMES[n]}" for n, s in self.seconds.items() if s > 0)
            return f"serial: {parts} = {sum(self.seconds.values()):.2f} s, wall {self.wall_s:.2f} s"
        if self.kind == "unexplained":
            return (f"unexplained: wall {self.wall_s:.2f} s is {self.ratio:.1f}× the largest bound "
                    f"({BOUND_NAMES[name]}, {figure})")
        label = {"waiting": "waiting-bound", "client": "CPU-bound", "server": "server-bound", "cap": "capped"}
        return f"{label[name]}: {figure}{against if largest > 0 else ''}"


def bounds(row: Row) -> Bounds | None:
    """The bounds of a row with a summary and a wall time; ``None`` for one without.

    Unlike the claim's comparisons (``bench.record.rows.is_measured``), this reads a failed row's summary
    too: the rounds it finished before failing took the time they took, and its bounds explain them."""
    summary = row.get("summary")
    wall = summary.get("wall_s") if summary else None
    if summary is None or not wall or not row.get("requests"):
        return None
    n, c = row["requests"], row["concurrency"]
    waiting = row_ideal_s(row) or 0.0
    seconds = {"waiting": waiting}
    cpu = summary.get("cpu_us_per_req")
    if cpu is not None:
        seconds["client"] = cpu * n / 1e6
    server_ratio = summary.get("server_cpu_ratio")
    if server_ratio is not None:
        seconds["server"] = server_ratio * wall
    peak = summary.get("peak_in_flight_min")
    if waiting and peak and peak < min(c, n):
        seconds["cap"] = row_ideal_s(row, slots=peak) or 0.0
    largest = max(seconds.values())
    if largest > 0 and wall <= ON_BOUND * largest:
        kind = max(seconds, key=lambda name: seconds[name])
    elif wall <= ON_BOUND * sum(seconds.values()):
        kind = "serial"
    else:
        kind = "unexplained"
    return Bounds(wall, n, seconds, cpu, peak, kind)
