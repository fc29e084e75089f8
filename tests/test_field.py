"""The choices of 2026 beside their nearest (``bench.analysis.field``, ``bench.report.sections.field``): which
rows are set beside which, their ratios, and the caps an as-written recipe showed, on rows built here."""

from __future__ import annotations

from typing import Any

import pytest

from bench.analysis.field import NEAREST, besides, caps
from bench.record.rows import CellKey, finish_row
from bench.report.sections import field
from strategies import REGISTRY, STRATEGIES_2026


def _row(strategy: str, rates: list[float], *, cpu_us: float, workload: str = "throughput",
         profile: str = "tuned", concurrency: int = 10, peak: int = 10, delay_ms: int = 0,
         rounds: bool = True) -> dict[str, Any]:
    requests = 1000
    measured = [{"req_per_s": rate, "wall_s": requests / rate, "cpu_s": cpu_us * requests / 1e6,
                 "cpu_us_per_req": cpu_us, "peak_in_flight": peak, "peak_rss_kb": 1000, "latency_ms": {},
                 "errors": 0} for rate in rates] if rounds else []
    return finish_row({"id": f"{strategy}-{workload}-{profile}-{concurrency}", "strategy": strategy,
                       "workload": workload, "profile": profile, "policy": "keepalive" if delay_ms == 0 else "close",
                       "concurrency": concurrency, "requests": requests, "delay_ms": delay_ms, "size": 64,
                       "status": None, "flags": [], "reason": "", "rounds": measured})


def _run() -> dict[str, Any]:
    return {"rows": [
        _row("asyncio", [1000, 1010, 990], cpu_us=40),
        _row("aiohttp", [500, 505, 495], cpu_us=80),
        _row("pyreqwest", [900, 909, 891], cpu_us=44),
        _row("httpx2", [], cpu_us=1, rounds=False),  # failed: beside nothing
        _row("curl-cffi", [400, 404, 396], cpu_us=30, workload="latency", profile="as-written", concurrency=100,
             peak=10, delay_ms=50),
        _row("curl-cffi", [1000, 1010, 990], cpu_us=20, workload="latency", concurrency=100, peak=100, delay_ms=50),
        _row("pyreqwest", [900, 909, 891], cpu_us=30, workload="latency", profile="as-written", concurrency=100,
             peak=100, delay_ms=50),
        _row("pyreqwest", [900, 909, 891], cpu_us=30, profile="as-written", concurrency=100, peak=1),
    ]}


def test_every_choice_of_2026_is_set_beside_existing_strategies_of_its_model() -> None:
    assert set(NEAREST) == set(STRATEGIES_2026)
    for name, others in NEAREST.items():
        assert others
        assert all(o in REGISTRY and o not in STRATEGIES_2026 for o in others)
        models = {REGISTRY[o].model for o in others}
        assert REGISTRY[name].model in models or name == "trio-raw", (name, models)


def test_a_new_strategy_is_compared_only_where_both_rows_were_measured() -> None:
    found = besides(_run())
    assert [(b.strategy, b.other) for b in found] == [("pyreqwest", "asyncio"), ("pyreqwest", "aiohttp")]
    assert all(b.key == CellKey("throughput", "tuned", "keepalive", 10) for b in found)
    to_asyncio, to_aiohttp = found
    assert to_asyncio.rate.ratio == pytest.approx(0.9)
    assert to_asyncio.cpu.ratio == pytest.approx(1.1)
    assert to_aiohttp.rate.ratio == pytest.approx(1.8)
    assert to_aiohttp.cpu.ratio == pytest.approx(0.55)


def test_a_cap_is_what_the_server_saw_where_requests_overlap_in_it() -> None:
    found = caps(_run())
    # the throughput row's peak of 1 at C=100 says nothing: its requests do not wait in the server
    assert [(c.strategy, c.peak, c.capped, c.cpu_us, c.tuned_cpu_us) for c in found] == [
        ("curl-cffi", 10, True, 30, 20), ("pyreqwest", 100, False, 30, None)]


def test_the_section_and_its_summary_print_the_analysis() -> None:
    text = "\n".join(field.section(_run()))
    assert "## The choices of 2026" in text
    assert "| `pyreqwest` | `aiohttp` | 1 | 1.80 (1.80–1.80) | 1 / 0 | 0.55 (0.55–0.55) | 1 / 0 |" in text
    assert "| `curl-cffi` | latency | close | C=100: **10** | C=100: 30 (20) |" in text
    assert "| `pyreqwest` | latency | close | C=100: 100 | C=100: 30 |" in text
    summary = field.summary(_run())
    assert summary[2].startswith("| `pyreqwest` | `asyncio` | 0.90× [")
    assert summary[2].endswith("| - | - |")
    assert summary[-1] == ("As written (the server's peak in flight, where requests wait in the server): "
                           "`curl-cffi` held at most 10 in flight at C=100 (latency close: 30 µs CPU per request, "
                           "tuned 20); `pyreqwest` held C "
                           "in flight in every cell.")
    assert field.section({"rows": [r for r in _run()["rows"] if r["strategy"] == "asyncio"]}) == []
