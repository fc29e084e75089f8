"""HTTPS as a dimension of the sweep: the option, the plan's HTTPS rows, the record's new keys and the
upgrade of older runs, the analysis of what TLS costs on a hand-made run, its section, chart and page
facet, and (slow) a tiny real sweep over both schemes.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.analysis import tls
from bench.record import schema
from bench.record.rows import CellKey, cell_of, finish_row, of_scheme
from bench.record.runfile import load_run
from bench.report.document import make_report
from bench.report.page.data import run_data
from bench.report.page.runs import Source
from bench.sweep.options import plan_from_options
from bench.sweep.plan import HTTPS_SCOPE, WORKLOADS, Case, Plan

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "data" / "report_fixture.json"


def _options(**given: Any) -> Any:
    def option(name: str, default: Any = None) -> Any:
        return given.get(name, default)
    return option


def test_schemes_option_parses_and_a_bad_value_is_one_line(tmp_path: Path) -> None:
    plan, _ = plan_from_options(_options(schemes="http,https,https"), tmp_path)
    assert plan.schemes == ("http", "https")
    assert plan.options()["schemes"] == ["http", "https"]
    with pytest.raises(ValueError, match=r"^--schemes: unknown ftp \(choose from http, https\)$"):
        plan_from_options(_options(schemes="http,ftp"), tmp_path)
    with pytest.raises(ValueError, match="--server-url measures plain HTTP only"):
        plan_from_options(_options(schemes="https", server_url="http://127.0.0.1:1/"), tmp_path)


def test_default_plan_adds_https_twins_in_its_scope_only() -> None:
    plan = Plan()
    cases = {workload: plan.cases(workload) for workload in ("latency", "claim", "throughput", "payload")}
    https = [(w, c) for w, found in cases.items() for c in found if c.scheme == "https"]
    assert https
    assert {w for w, _ in https} == {"latency", "throughput"}
    assert {c.concurrency for _, c in https} == {10, 100}
    assert {c.profile for _, c in https} == {"tuned"}
    assert {c.policy for _, c in https} == {"close", "keepalive"}
    assert {c.strategy for _, c in https} <= set(HTTPS_SCOPE.strategies)
    assert {"gevent", "grequests", "twisted", "tornado", "asyncio", "select"} <= {c.strategy for _, c in https}
    for _, case in https:  # each beside its HTTP twin
        assert Case(case.strategy, case.profile, case.policy, case.concurrency) in cases["latency"] + cases["throughput"]
    assert Case("gevent", "tuned", "close", 10, "https").id == "gevent-tuned-close-c10-https"
    assert Case("gevent", "tuned", "close", 10).id == "gevent-tuned-close-c10"
    assert not any(c.scheme == "https" for w in ("latency", "throughput") for c in Plan(quick=True).cases(w))


def test_given_schemes_run_every_selected_case_in_each() -> None:
    plan = Plan(strategies=("asyncio", "threads-raw"), concurrency=(10,), workloads=("latency",),
                profiles=("tuned",), schemes=("http", "https"))
    cases = plan.cases("latency")
    assert len(cases) == 2 * 2 * 2
    assert {c.scheme for c in cases} == {"http", "https"}
    only = Plan(strategies=("asyncio",), concurrency=(10,), workloads=("claim",), schemes=("https",))
    assert {c.scheme for c in only.cases("claim")} == {"https"}


def test_a_strategy_without_tls_is_skipped_over_https_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from strategies import REGISTRY
    monkeypatch.setitem(REGISTRY, "asyncio", dataclasses.replace(REGISTRY["asyncio"], tls=False))
    plan = Plan(strategies=("asyncio",), concurrency=(10,), workloads=("latency",), schemes=("http", "https"))
    reason = plan.skip_reason(Case("asyncio", "tuned", "close", 10, "https"))
    assert reason
    assert "does not fetch over HTTPS yet" in reason
    assert "\n" not in reason
    assert plan.skip_reason(Case("asyncio", "tuned", "close", 10)) is None


def test_an_older_run_upgrades_to_plain_http(tmp_path: Path) -> None:
    old: dict[str, Any] = json.loads(json.dumps(load_run(FIXTURE)))  # a version-4 run: today's, less HTTPS
    old["schema_version"] = 4
    del old["options"]["schemes"], old["partial"]
    for row in old["rows"]:
        del row["scheme"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    run = load_run(path)
    assert run["schema_version"] == schema.SCHEMA_VERSION == 5
    assert run["options"]["schemes"] == ["http"]
    assert {r["scheme"] for r in run["rows"]} == {"http"}
    assert cell_of(run["rows"][0]) == CellKey("latency", "tuned", "close", 1)


def _twin(row: dict[str, Any], cpu_factor: float, handshakes: tuple[int, int]) -> dict[str, Any]:
    """``row``'s HTTPS twin: its rounds' CPU per request scaled (with a little spread), the server's counts
    of full and resumed handshakes per round and their CPU."""
    twin = copy.deepcopy(row)
    twin.update(id=f"{row['id']}-https", scheme="https", tls_version="TLSv1.3", tls_cipher="TLS_AES_256_GCM_SHA384",
                tls_resumed=handshakes[1] / sum(handshakes) if sum(handshakes) else None)
    for i, r in enumerate(twin["rounds"]):
        r["cpu_us_per_req"] = r["cpu_us_per_req"] * cpu_factor * (1 + 0.01 * i)
        r["req_per_s"] = r["req_per_s"] * 0.9
        r["tls"] = {"version": "TLSv1.3", "ciphers": {"TLS_AES_256_GCM_SHA384": sum(handshakes)},
                    "full": handshakes[0], "resumed": handshakes[1]}
        r["tls_cpu"] = {"full_cpu_s": 0.0005 * handshakes[0], "resumed_cpu_s": 0.0002 * handshakes[1]}
    for r in row["rounds"]:  # the HTTP twin's own spread, so the ratio has an interval
        r["cpu_us_per_req"] = r["cpu_us_per_req"] * (1 + 0.005 * row["rounds"].index(r))
    twin["summary"] = None
    return finish_row(twin)  # type: ignore[arg-type, return-value]


@pytest.fixture
def tls_run(tmp_path: Path) -> Path:
    """The report fixture with an HTTPS twin for every measured latency row at C=10: 1.5x the CPU under
    keep-alive, 2x under close (a full handshake per request: 10 per round of N=10 ... as counted)."""
    run: dict[str, Any] = json.loads(json.dumps(load_run(FIXTURE)))
    twins = []
    for row in run["rows"]:
        if row["workload"] == "latency" and row["concurrency"] == 10 and row["status"] in ("ok", "flagged"):
            close = row["policy"] == "close"
            twins.append(_twin(row, 2.0 if close else 1.5, (row["requests"], 0) if close else (10, 0)))
    run["rows"] += twins
    run["tls_server"] = {**run["server"], "url": "https://127.0.0.1:2/",
                         "tls": {"version": "TLSv1.3", "tickets": True, "cipher": "TLS_AES_256_GCM_SHA384"}}
    assert not [p for p in schema.validate(run) if "tls" in p or "scheme" in p]  # the new keys as declared
    path = tmp_path / "runs" / "tls.json"
    path.parent.mkdir()
    path.write_text(json.dumps(run))
    return path


def test_what_tls_costs_from_a_hand_made_run(tls_run: Path) -> None:
    run = load_run(tls_run)
    pairs = tls.twin_pairs(run)
    assert {(p.strategy, p.key.policy) for p in pairs} == {
        (s, policy) for s in ("gevent", "twisted", "asyncio", "aiohttp") for policy in ("close", "keepalive")} | {
        ("tornado", "close")}
    for pair in pairs:
        assert pair.cpu is not None
        assert pair.key.scheme == "https"
        assert pair.http["strategy"] == pair.strategy
        expected = 2.0 if pair.key.policy == "close" else 1.5
        assert pair.cpu.low < pair.cpu.ratio < pair.cpu.high
        assert abs(pair.cpu.ratio / expected - 1) < 0.05
    costs = {c.strategy: c for c in tls.handshake_costs(run)}
    assert set(costs) == {"gevent", "twisted", "asyncio", "aiohttp"}  # tornado has no keep-alive row
    asyncio = costs["asyncio"]
    close = next(p for p in pairs if p.strategy == "asyncio" and p.key.policy == "close")
    keep = next(p for p in pairs if p.strategy == "asyncio" and p.key.policy == "keepalive")
    summary = {(s, p): getattr(pair, s)["summary"]["cpu_us_per_req"] for pair, p in ((close, "c"), (keep, "k"))
               for s in ("https", "http")}
    expected = summary["https", "c"] - summary["https", "k"] - (summary["http", "c"] - summary["http", "k"])
    assert asyncio.client_us_per_request == pytest.approx(expected)
    per_close, per_keep = tls.handshakes_per_request(close.https), tls.handshakes_per_request(keep.https)
    assert per_close == 1.0
    assert per_keep is not None
    assert per_keep < 1
    assert asyncio.client_us_per_handshake == pytest.approx(expected / (per_close - per_keep))
    assert asyncio.server_us_per_handshake == pytest.approx(500.0)
    assert asyncio.resumed == 0.0
    counts, over_tls = tls.claim_by_scheme(run)
    assert over_tls
    assert {v.scheme for v in over_tls} == {"https"}
    assert counts
    assert {v.key for v in over_tls} == {CellKey("latency", "tuned", policy, 10, "https") for policy in ("close", "keepalive")}
    assert {(c.profile, c.reading) for c in counts} == {("tuned", r) for r in {v.reading for v in over_tls}}


@pytest.mark.slow  # draws every chart (matplotlib)
def test_the_report_gets_the_section_and_the_chart_and_keeps_http_apart(tls_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    text = make_report(tls_run, out).read_text()
    assert "## What TLS costs" in text
    assert "### The handshake's CPU" in text
    assert "### The claim over TLS" in text
    assert "**HTTPS server:**" in text
    assert "TLSv1.3" in text
    assert "TLS_AES_256_GCM_SHA384" in text
    assert (out / "tls_cost.png").read_bytes().startswith(b"\x89PNG")
    assert "![tls_cost](tls_cost.png)" in text
    plain = make_report(FIXTURE, tmp_path / "plain").read_text()
    assert "What TLS costs" not in plain
    assert not (tmp_path / "plain" / "tls_cost.png").exists()
    # the claim's own section judges the HTTP cells only: the same verdicts as the run without HTTPS rows
    summary = [line for line in text.splitlines() if line.startswith("**Summary.**")]
    assert summary
    assert summary == [line for line in plain.splitlines() if line.startswith("**Summary.**")]


def test_the_page_has_scheme_as_a_control_from_the_data(tls_run: Path) -> None:
    run = load_run(tls_run)
    page = run_data(Source(tls_run, "runs", "tls"), run, tls_run.parent.parent)
    assert {row["facets"]["scheme"] for row in page["rows"]} == {"http", "https"}
    assert "latency|tuned|close|10|https" in page["cells"]
    assert "latency|tuned|close|10" in page["cells"]
    assert len(of_scheme(run, "https")["rows"]) == sum(r["facets"]["scheme"] == "https" for r in page["rows"])


@pytest.mark.slow  # a real sweep over both schemes
def test_a_tiny_sweep_over_both_schemes(tmp_path: Path) -> None:
    results = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "bench/", "--benchmark-only", "--quick", "--strategies=asyncio,threads-raw",
         "--schemes=http,https", "--concurrency=10", "--workloads=latency", "--profiles=tuned", "--rounds=2",
         "--max-rounds=2", "--requests=20", f"--results-dir={results}", "-p", "no:cacheprovider", "-q"],
        cwd=ROOT, capture_output=True, text=True, timeout=280, check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    run = load_run(results / "latest.json")
    rows = [r for r in run["rows"] if r["workload"] == "latency"]
    assert {(r["strategy"], r["policy"], r["scheme"]) for r in rows} == {
        (s, p, scheme) for s in ("asyncio", "threads-raw") for p in ("close", "keepalive") for scheme in ("http", "https")}
    for row in rows:  # every body verified by the worker: no request failed
        assert row["status"] in ("ok", "flagged"), row["id"]
        assert row["summary"], row["id"]
        assert row["summary"]["errors"] == 0, row["id"]
        assert all(r["ok"] == r["requests"] for r in row["rounds"]), row["id"]
    https = [r for r in rows if r["scheme"] == "https"]
    assert {r["tls_version"] for r in https} == {run["tls_server"]["tls"]["version"]}
    assert all(r["tls_cipher"] and r["tls_resumed"] is not None for r in https)
    for row in https:  # under close a handshake per request, under keep-alive at most one per connection
        per = tls.handshakes_per_request(row)
        assert per is not None
        assert (per == 1.0 if row["policy"] == "close" else per <= 10 / 20)
    assert "## What TLS costs" in (results / "REPORT.md").read_text()
    assert (results / "tls_cost.png").exists()
    assert WORKLOADS["latency"].delay_ms == 50
    assert schema.validate(run) == []
