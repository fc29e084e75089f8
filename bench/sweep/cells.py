"""Measuring one cell: its strategies' rounds interleaved, in a seeded random order, until precise enough.

A *cell* is (workload, profile, policy, C): the strategies compared in it get the identical workload, over
HTTP and, for the cases of scheme https, over HTTPS from the bundled server's TLS twin. On a
shared 2-core machine the speed available to a process drifts by tens of percent over minutes, so measuring
strategy A's rounds and then B's puts that drift into the ratio A/B. Here all of a cell's workers are set
up together and take turns: every pass runs one round of each, in an order drawn afresh per pass from a
seeded generator, so drift hits every strategy alike and no strategy always follows the same neighbour.

Rules this module keeps:
- the timed region of a round is exactly one ``fetch_round`` round trip to the worker, timed here with
  ``perf_counter`` (URL building, verification and bookkeeping happen in the worker's untimed
  ``prepare``/``measure``). The counters of the case's server (its workload's ``base_url``, over https
  verified against its ``ca_file``) are reset before it and read after, both untimed;
- an HTTPS round records what the server counted of its handshakes (``tls``: the protocol version, the
  handshakes by cipher, full and resumed, ``strategies.worker.runner.round_tls``) and the server's CPU in them
  (``tls_cpu``). The read after the round makes one full handshake of its own inside the counted window
  (the reset's precedes it): one more read right after counts exactly one, and is taken off; the CPU is
  the window's handshake CPU in the share of the round's handshakes;
- warm-up rounds run first (one pass per warm-up round, same random order), and are not kept;
- then ``Budget.min_rounds`` passes for every case; then, while the cell's extra-time budget lasts and at
  most up to ``Budget.max_rounds``, further passes for the cases whose 95 % interval on the mean of log
  req/s is wider than ±``Budget.half_width`` (Kalibera & Jones: measure until precise, within a budget).
  Each case records the rounds it ran and why it stopped (``precise``, ``max_rounds``, ``budget``);
- every round records ``started_at`` (Unix seconds) and ``position`` (its place in the cell's schedule,
  counting every round of every case of the cell, warm-ups included) and ``pass`` (which pass it was in),
  and what else ran on the cores meanwhile (``noise``, ``bench.sweep.noise``) with ``disturbed``, the reason when
  that was beyond the thresholds;
- a worker that fails ends that case only (its reason kept, its finished rounds kept); the others go on;
- the server's counters unreadable around a round (it died, or stopped answering within ``STATS_TIMEOUT_S``)
  end the whole cell (``ServerGone``): the round that found it is kept with its rounds, and the harness
  fails every case of the cell (``bench.sweep.harness``). A round records the server's loop lag, and the
  stall it shows (``bench.sweep.noise.server_stall``).
"""

from __future__ import annotations

import http.client
import random
import time
from dataclasses import dataclass, field
from typing import Any

from bench.analysis.comparison import mean_interval
from bench.record.rows import add_timing
from bench.sweep.noise import NoiseProbe, disturbance, server_stall
from local_server.api import ServerError, Stats, fetch_stats, reset_stats
from strategies.worker.runner import WorkerError, WorkerProcess, round_tls
from strategies.workload import Workload

#: The precision a case stops at: its 95 % interval on mean log req/s within ±5 % (the issue's goal).
HALF_WIDTH = 0.05
#: Extra passes may take at most this share of the time the cell's obligatory passes took: the sweep's
#: wall time grows by at most this much, whatever the noise.
EXTRA_SHARE = 0.3
#: How long the server's /stats may take around a round before it counts as gone: it answers from memory on
#: the same machine (or a LAN) in under a millisecond, so 5 s is a server that is dead, stopped or hung.
STATS_TIMEOUT_S = 5.0


class ServerGone(RuntimeError):
    """The server's counters could not be read around a round: it died, or stopped answering. ``round`` is
    the round that found it, when its fetch had run (kept in its case's rows, its server figures null)."""

    def __init__(self, message: str, round_: dict[str, Any] | None = None, url: str = ""):
        super().__init__(message)
        self.round = round_
        #: The server that went (a cell of both schemes reads two).
        self.url = url


@dataclass(frozen=True)
class Budget:
    """How many rounds a case gets: ``min_rounds`` always, more (up to ``max_rounds``) while imprecise."""

    min_rounds: int
    max_rounds: int
    warmup_rounds: int
    half_width: float = HALF_WIDTH
    extra_share: float = EXTRA_SHARE


@dataclass
class CaseRun:
    """One case of a cell while it is measured: its worker, its workload and what it collected."""

    key: Any
    workload: Workload
    worker: WorkerProcess | None = None
    cold_start_s: float | None = None
    rounds: list[dict[str, Any]] = field(default_factory=list)
    failure: str | None = None
    #: Why it failed (``bench.record.schema.Cause``): the strategy raised, its worker died, the server went.
    cause: str | None = None
    worker_died: bool = False
    #: Why its rounds stopped, once the cell ran to its end (``bench.record.schema.Stopped``).
    stopped: str | None = None

    @property
    def live(self) -> bool:
        return self.worker is not None and self.failure is None

    def fail(self, exc: WorkerError) -> None:
        self.failure, self.worker_died = str(exc), not exc.alive
        self.cause = "strategy" if exc.alive else "worker"


def relative_half_width(rates: list[float]) -> float | None:
    """The 95 % t-interval's half-width on the mean of log(req/s), as a ratio (0.05 = ±5 %): the upper side
    of the row's interval as the results page prints it (``bench.analysis.comparison.mean_interval``)."""
    interval = mean_interval(rates)
    return None if interval is None else interval.high / interval.mean - 1


def _precise(case: CaseRun, budget: Budget) -> bool:
    width = relative_half_width([r["req_per_s"] for r in case.rounds if r.get("req_per_s")])
    return width is not None and width <= budget.half_width


class Cell:
    """The interleaved schedule of one cell's cases over one server."""

    def __init__(self, cases: list[CaseRun], budget: Budget, rng: random.Random, probe: NoiseProbe | None = None):
        self.cases, self.budget, self.rng, self.probe = cases, budget, rng, probe
        self.position = 0

    def run(self) -> None:
        for _ in range(self.budget.warmup_rounds):
            self._pass([c for c in self.cases if c.live], keep=False, number=0)
        started = time.perf_counter()
        for number in range(1, self.budget.min_rounds + 1):
            self._pass([c for c in self.cases if c.live], keep=True, number=number)
        extra_allowed = self.budget.extra_share * (time.perf_counter() - started)
        extra_started = time.perf_counter()
        number = self.budget.min_rounds
        while True:
            wanted = [c for c in self.cases if c.live and not _precise(c, self.budget)
                      and len(c.rounds) < self.budget.max_rounds]
            projected = sum(c.rounds[-1]["timer_s"] for c in wanted)
            if not wanted or time.perf_counter() - extra_started + projected > extra_allowed:
                break
            number += 1
            self._pass(wanted, keep=True, number=number)
        for case in self.cases:
            case.stopped = _stop_reason(case, self.budget)

    def _pass(self, cases: list[CaseRun], keep: bool, number: int) -> None:
        for case in self.rng.sample(cases, len(cases)):
            try:
                measured = self._round(case)
            except WorkerError as exc:
                case.fail(exc)
                continue
            except ServerGone as gone:
                if keep and gone.round is not None:
                    gone.round.update({"pass": number, "position": self.position})
                    case.rounds.append(gone.round)
                raise
            finally:
                self.position += 1
            measured.update({"pass": number, "position": self.position - 1})
            if keep:
                case.rounds.append(measured)

    def _round(self, case: CaseRun) -> dict[str, Any]:
        assert case.worker is not None
        case.worker.prepare_round(case.workload)
        url, ca_file = case.workload.base_url, case.workload.ca_file
        before, failed = self._stats(reset_stats, "POST /stats/reset before a round", url, ca_file)
        if before is None:
            raise ServerGone(failed or "", url=url)
        if self.probe:
            self.probe.start()
        started_at = time.time()
        started = time.perf_counter()
        case.worker.fetch_round()
        timer_s = time.perf_counter() - started
        noise = self.probe.stop() if self.probe else None
        after, failed = self._stats(fetch_stats, "GET /stats after a round", url, ca_file)
        again = self._stats(fetch_stats, "GET /stats again", url, ca_file)[0] if after and "tls" in after else None
        data = case.worker.measure_round().to_dict()  # also when the server went: the worker's round ends
        lag = after["loop_lag_max_s"] if after else None
        data.update(started_at=started_at, peak_in_flight=after["peak_in_flight"] if after else None,
                    server_cpu_s=after["cpu_s"] - before["cpu_s"] if after else None, noise=noise,
                    disturbed=disturbance(noise) if noise else None, server_loop_lag_s=lag,
                    server_stalled=server_stall(lag, data["wall_s"]))
        if case.workload.scheme == "https":
            data["tls"] = round_tls(after, again, SWEEP_CONTROL_REQUESTS) if after else None
            data["tls_cpu"] = _handshake_cpu(after, data["tls"]) if after else None
        if after is None:
            raise ServerGone(failed or "", add_timing(data, timer_s), url)
        return add_timing(data, timer_s)

    @staticmethod
    def _stats(call: Any, what: str, url: str, ca_file: str | None) -> tuple[Stats | None, str | None]:
        """The server's counters through ``call`` (``fetch_stats`` or ``reset_stats``), or why they could not
        be read: refused, cut off, not answered within ``STATS_TIMEOUT_S``, not 200, not JSON."""
        try:
            return call(url, STATS_TIMEOUT_S, ca_file), None
        except (OSError, http.client.HTTPException, ServerError, ValueError) as exc:
            return None, f"{what} at {url}: {type(exc).__name__}: {exc}"


#: The sweep's own ``/stats`` requests inside an HTTPS round's counted window: the reading after the round
#: (the reset's handshake comes before the reset, and its reply is the snapshot before it).
SWEEP_CONTROL_REQUESTS = 1


def _handshake_cpu(after: Stats, counted: dict[str, Any] | None) -> dict[str, float] | None:
    """The server's CPU in the round's handshakes: the window's CPU per handshake of each kind (the sweep's
    own read included, a handshake like the others) times the round's handshakes of that kind."""
    window = after.get("tls_handshakes")
    if window is None or counted is None:
        return None
    full, resumed = window["full"], window["resumed"]
    return {"full_cpu_s": window["full_cpu_s"] * counted["full"] / full if full else 0.0,
            "resumed_cpu_s": window["resumed_cpu_s"] * counted["resumed"] / resumed if resumed else 0.0}


def _stop_reason(case: CaseRun, budget: Budget) -> str:
    if case.failure is not None:
        return "failed"
    if _precise(case, budget):
        return "precise"
    return "max_rounds" if len(case.rounds) >= budget.max_rounds else "budget"
