"""REPORT.md's section on what TLS costs (``bench.analysis.tls``): CPU per request over HTTPS ÷ over HTTP per
strategy with its interval, the handshake's CPU at the client and at the server, instructions over TLS, and
the claim's verdict per reading over HTTPS beside the one over HTTP, with each step's mechanism.

Rules this module keeps: every figure and sentence about results is the analysis's (``bench.analysis.tls``,
``bench.analysis.verdict``); the hand-written text defines the terms; the section is empty for a run
without HTTPS rows.
"""

from __future__ import annotations

from bench.analysis import tls, verdict
from bench.analysis.claim import reading_name
from bench.record.rows import is_measured, measured_summary, row_scheme
from bench.record.schema import Run
from bench.report.sections.markdown import fmt, table


def _negotiated(run: Run) -> str:
    """What the HTTPS rows negotiated, in one sentence (their recorded version, cipher, resumption)."""
    rows = [r for r in run["rows"] if row_scheme(r) == "https" and is_measured(r)]
    versions = sorted({v for r in rows if (v := r.get("tls_version"))})
    ciphers = sorted({c for r in rows if (c := r.get("tls_cipher"))})
    share = tls.resumed_share(rows)
    server = run.get("tls_server")
    tickets = server.get("tls", {}).get("tickets") if server else None
    resumed = ("no handshake completed" if share is None else f"{share:.0%} of the {tls.completed_handshakes(rows):,} "
               f"handshakes the server counted resumed a session")
    return (f"Over HTTPS the bundled server spoke {', '.join(versions) or 'an unrecorded version'} "
            f"({', '.join(ciphers) or 'cipher not recorded'}; session tickets "
            f"{'on' if tickets else 'off' if tickets is not None else 'unknown'}); {resumed}.")


def _skipped(run: Run) -> list[str]:
    skipped = [r for r in run["rows"] if row_scheme(r) == "https" and r["status"] == "skipped"]
    if not skipped:
        return []
    reasons: dict[str, list[str]] = {}
    for row in skipped:
        reasons.setdefault(row["reason"], []).append(row["strategy"])
    return ["HTTPS rows skipped: " + "; ".join(f"{', '.join(dict.fromkeys(names))} ({reason})"
                                               for reason, names in reasons.items()) + ".", ""]


def section(run: Run) -> list[str]:
    if not tls.has_https(run):
        return []
    pairs = tls.twin_pairs(run)
    lines = ["## What TLS costs", "",
             ("Each HTTPS row is measured interleaved with its HTTP twin (the same strategy, workload, profile, "
              "policy and C, round by round in one cell), against a second bundled server that speaks TLS "
              "(`python -m local_server --tls`, pinned like the first). *CPU ratio*: the client's CPU µs per "
              "request over HTTPS ÷ over HTTP, the ratio of geometric means over rounds with its 95 % interval "
              "(Welch on the logarithms, as every comparison here). *Handshake CPU*: (close − keep-alive) CPU µs "
              "per request over HTTPS minus the same over HTTP, per request and per handshake (over the "
              "handshakes per request the server counted under close less those under keep-alive); the "
              "server's CPU per handshake is its own `/stats` measure."), "",
             _negotiated(run), ""]
    lines += _skipped(run)
    if not pairs:
        return [*lines, "No HTTPS row was measured beside a measured HTTP twin: nothing to compare.", ""]
    median = tls.median_ratio(pairs)
    if median is not None:
        lines += [f"Median CPU ratio HTTPS ÷ HTTP over {len(pairs)} pairs: {median:.2f}×.", ""]
    header = ["strategy", "workload", "profile", "policy", "C", "CPU µs/req http", "CPU µs/req https",
              "CPU ratio [95 %]", "req/s ratio [95 %]", "instr. ratio"]
    body = []
    for p in pairs:
        cpu_http, cpu_https = (measured_summary(p.http)["cpu_us_per_req"],
                               measured_summary(p.https)["cpu_us_per_req"])
        body.append([p.strategy, p.key.workload, p.key.profile, p.key.policy, str(p.key.concurrency),
                     fmt(cpu_http), fmt(cpu_https), p.cpu.interval_text if p.cpu else "-", p.rate.interval_text,
                     f"{p.instructions:.2f}×" if p.instructions else "-"])
    lines += [*table(header, body), ""]
    costs = tls.handshake_costs(run)
    if costs:
        lines += ["### The handshake's CPU", "",
                  *table(["strategy", "workload", "profile", "C", "client µs/req", "client µs/handshake",
                          "server µs/handshake", "resumed"],
                         [[c.strategy, c.workload, c.profile, str(c.concurrency), fmt(c.client_us_per_request),
                           fmt(c.client_us_per_handshake), fmt(c.server_us_per_handshake),
                           "-" if c.resumed is None else f"{c.resumed:.0%}"] for c in costs]), ""]
    return lines + claim_lines(run)


def claim_lines(run: Run) -> list[str]:
    """The claim's verdict per reading over HTTPS beside HTTP, and what explains each step over HTTPS."""
    counts, over_tls = tls.claim_by_scheme(run)
    if not over_tls:
        return []
    words = tls.VERDICT_WORDS
    lines = ["### The claim over TLS", "",
             ("Cells in which each reading holds, is contradicted or is not shown, over HTTP and over HTTPS, "
              "counted over the cells measured in both schemes (readings judged in none left out), by the same "
              f"rule. {verdict.RULE}"), ""]
    header = ["profile", "reading", *(f"http {w}" for w in words), *(f"https {w}" for w in words)]
    lines += [*table(header, [[c.profile, reading_name(c.reading), *(str(c.http[w]) for w in words),
                               *(str(c.https[w]) for w in words)]
                              for c in counts if any(c.http.values()) or any(c.https.values())]), ""]
    for profile in dict.fromkeys(v.profile for v in over_tls):
        records = verdict.step_records(over_tls, profile)
        if records:
            lines += [f"*{profile}, over HTTPS:*", ""]
            lines += [f"- {verdict.step_sentence(record)}" for record in records] + [""]
    return lines
