"""What TLS costs: each strategy's HTTPS row against its HTTP twin, the handshake's CPU, the claim over TLS.

Rules this module keeps:
- a *twin pair* is one strategy's HTTPS and HTTP rows of one run in the same (workload, profile, policy, C):
  the sweep measures the two interleaved in one cell (``bench.sweep.cells``), so drift hits both alike; only
  pairs whose two rows are measured (``bench.record.rows.is_measured``) are compared;
- a ratio HTTPS ÷ HTTP is ``bench.analysis.comparison.compare`` on the rows' per-round figures (CPU µs per
  request, req/s): Welch on their logarithms, the ratio of geometric means and its 95 % interval, one
  machinery for every comparison the suite makes;
- the handshake's client CPU is read off four rows, no interval (a difference of four medians has none the
  suite computes): (close − keep-alive) CPU µs per request over HTTPS, minus the same over HTTP, which
  leaves what a connection's TLS set-up costs per request beyond the TCP one; divided by the handshakes
  per request the server counted under close less those under keep-alive, it is the client's CPU per
  handshake. The server's CPU per handshake is its own measure (``/stats`` ``tls_handshakes``), beside it;
- instructions per request (``--instructions``) are compared where both twins have a clean count;
- the claim over TLS is ``bench.analysis.verdict`` on the HTTPS cells, beside its verdict on the HTTP cells
  that have an HTTPS twin (the same workloads, policies and levels, so the counts compare);
- pure functions of a run; no I/O.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from bench.analysis import verdict
from bench.analysis.claim import READINGS
from bench.analysis.comparison import Comparison, compare
from bench.analysis.cpu import instruction_count
from bench.record.rows import CellKey, cell_of, is_measured, measured_summary, round_values, row_scheme
from bench.record.schema import Row, Run

#: The verdicts counted per reading, in the order the report prints them.
VERDICT_WORDS = ("holds", "contradicted", "not shown")


def has_https(run: Run) -> bool:
    """The run has HTTPS rows (skipped ones count: the report says why they did not run)."""
    return any(row_scheme(row) == "https" for row in run["rows"])


@dataclass(frozen=True)
class TwinPair:
    """One strategy's HTTPS row and its HTTP twin, both measured, with their ratios HTTPS ÷ HTTP."""

    https: Row
    http: Row
    #: CPU µs per request, HTTPS ÷ HTTP (``a`` = the HTTPS row's strategy over TLS).
    cpu: Comparison | None
    #: req/s, HTTPS ÷ HTTP.
    rate: Comparison
    #: Instructions per request, HTTPS ÷ HTTP, where both have a clean ``--instructions`` count.
    instructions: float | None

    @property
    def key(self) -> CellKey:
        return cell_of(self.https)

    @property
    def strategy(self) -> str:
        return self.https["strategy"]


def _ratio(name: str, a: list[float], b: list[float]) -> Comparison | None:
    return compare(f"{name} https", a, f"{name} http", b) if a and b else None


def twin_pairs(run: Run) -> list[TwinPair]:
    """Every measured HTTPS row with its measured HTTP twin, in the run's order."""
    http = {(*cell_of(row)._replace(scheme="http"), row["strategy"]): row
            for row in run["rows"] if row_scheme(row) == "http" and is_measured(row)}
    pairs = []
    for row in run["rows"]:
        twin = http.get((*cell_of(row)._replace(scheme="http"), row["strategy"]))
        if row_scheme(row) != "https" or not is_measured(row) or twin is None:
            continue
        name = row["strategy"]
        cpu = _ratio(name, round_values(row, "cpu_us_per_req"), round_values(twin, "cpu_us_per_req"))
        rate = compare(f"{name} https", round_values(row, "req_per_s"), f"{name} http",
                       round_values(twin, "req_per_s"))
        counted = instruction_count(row), instruction_count(twin)
        instructions = (counted[0]["instructions_per_request"] / counted[1]["instructions_per_request"]
                        if counted[0] and counted[1] else None)
        pairs.append(TwinPair(row, twin, cpu, rate, instructions))
    return pairs


def handshakes_per_request(row: Row) -> float | None:
    """Completed handshakes (full and resumed) the server counted per request over the row's rounds."""
    counted = [(r["requests"], t) for r in row["rounds"] if (t := r.get("tls"))]
    requests = sum(n for n, _ in counted)
    return sum(t["full"] + t["resumed"] for _, t in counted) / requests if requests else None


def server_us_per_handshake(row: Row) -> float | None:
    """The server's CPU µs per completed handshake over the row's rounds (its /stats, ``tls_cpu``)."""
    counted = [(t, c) for r in row["rounds"] if (t := r.get("tls")) and (c := r.get("tls_cpu"))]
    done = sum(t["full"] + t["resumed"] for t, _ in counted)
    return 1e6 * sum(c["full_cpu_s"] + c["resumed_cpu_s"] for _, c in counted) / done if done else None


def completed_handshakes(rows: list[Row]) -> int:
    """The handshakes (full and resumed) the server completed over the rows' rounds."""
    return sum(t["full"] + t["resumed"] for row in rows for r in row["rounds"] if (t := r.get("tls")))


def resumed_share(rows: list[Row]) -> float | None:
    """The share of the rows' handshakes (at the server) that resumed a session, or None without any."""
    done = completed_handshakes(rows)
    resumed = sum(t["resumed"] for row in rows for r in row["rounds"] if (t := r.get("tls")))
    return resumed / done if done else None


@dataclass(frozen=True)
class HandshakeCost:
    """What a connection's TLS set-up costs one strategy in one (workload, profile, C), from its four rows."""

    strategy: str
    workload: str
    profile: str
    concurrency: int
    #: (close − keep-alive) CPU µs per request over HTTPS, minus the same over HTTP.
    client_us_per_request: float
    #: That, per handshake: over the handshakes per request under close less those under keep-alive.
    client_us_per_handshake: float | None
    #: The server's CPU µs per handshake in the close row (its own measure).
    server_us_per_handshake: float | None
    #: The close row's share of handshakes that resumed a session.
    resumed: float | None


def handshake_costs(run: Run) -> list[HandshakeCost]:
    """Per strategy, workload, profile and C with both policies measured in both schemes: the handshake's
    CPU (see the module's rules)."""
    pairs = {(p.key.workload, p.key.profile, p.key.concurrency, p.strategy, p.key.policy): p
             for p in twin_pairs(run)}
    out = []
    for (workload, profile, level, name, policy), close in pairs.items():
        keep = pairs.get((workload, profile, level, name, "keepalive"))
        if policy != "close" or keep is None:
            continue
        cpu = {(scheme, policy_): measured_summary(getattr(pair, scheme))["cpu_us_per_req"]
               for scheme in ("https", "http") for policy_, pair in (("close", close), ("keepalive", keep))}
        if any(value is None for value in cpu.values()):
            continue
        extra = ((cpu["https", "close"] or 0.0) - (cpu["https", "keepalive"] or 0.0)
                 - ((cpu["http", "close"] or 0.0) - (cpu["http", "keepalive"] or 0.0)))
        per_close, per_keep = handshakes_per_request(close.https), handshakes_per_request(keep.https)
        more = per_close - per_keep if per_close is not None and per_keep is not None else None
        out.append(HandshakeCost(name, workload, profile, level, extra,
                                 extra / more if more and more > 0 else None,
                                 server_us_per_handshake(close.https), resumed_share([close.https])))
    return out


@dataclass(frozen=True)
class SchemeVerdicts:
    """One reading of the claim in one profile: its verdict counts over HTTP and over HTTPS, in the cells
    measured in both schemes."""

    profile: str
    reading: tuple[str, ...]
    http: dict[str, int]
    https: dict[str, int]


def claim_by_scheme(run: Run) -> tuple[list[SchemeVerdicts], list[verdict.CellVerdict]]:
    """The claim's verdict counts per profile and reading over HTTP and HTTPS (the cells both schemes have),
    and the HTTPS verdicts themselves (for their steps' mechanisms)."""
    over_tls = verdict.judge_run(run, "https")
    cells = {v.key._replace(scheme="http") for v in over_tls}
    plain = [v for v in verdict.judge_run(run, "http") if v.key in cells]
    out = []
    for profile in dict.fromkeys(v.profile for v in over_tls):
        for reading in READINGS:
            out.append(SchemeVerdicts(profile, reading, _counts(plain, profile, reading),
                                      _counts(over_tls, profile, reading)))
    return out, over_tls


def _counts(verdicts: list[verdict.CellVerdict], profile: str, reading: tuple[str, ...]) -> dict[str, int]:
    mine = [v for v in verdicts if v.profile == profile and v.reading == reading]
    return {word: sum(v.verdict == word for v in mine) for word in VERDICT_WORDS}


def median_ratio(pairs: list[TwinPair]) -> float | None:
    """The median CPU ratio HTTPS ÷ HTTP over ``pairs`` (for a sentence; each pair keeps its interval)."""
    ratios = [p.cpu.ratio for p in pairs if p.cpu is not None]
    return statistics.median(ratios) if ratios else None
