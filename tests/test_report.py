"""bench.report, bench.verdict, bench.charts and bench.results on a small fixed dataset.

The fixture (tests/data/report_fixture.json) is made up so that every outcome is known:
- latency/close/C=1: all strategies have identical rounds -> nothing significant, claim "not shown";
- latency/close/C=10: gevent > twisted > tornado > asyncio, well separated, 5 rounds -> "holds";
- latency/keepalive/C=1: gevent has errors (flagged), twisted failed, tornado skipped; asyncio beats gevent
  significantly but by 2.6 % only -> negligible, "not shown";
- latency/keepalive/C=10: asyncio > twisted > gevent (tornado skipped), twisted below C -> "contradicted";
- throughput/close/C=10: the claimed order, well separated but 3 rounds only -> "not shown"; asyncio's
  server CPU is 95 % -> flagged.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import report, verdict
from bench.results import finish_row, load_run

FIXTURE = Path(__file__).parent / "data" / "report_fixture.json"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run() -> dict[str, Any]:
    return load_run(FIXTURE)


@pytest.fixture(scope="module")
def cells(run: dict[str, Any]) -> dict[tuple[str, str, int], verdict.CellVerdict]:
    return {(v.workload, v.policy, v.concurrency): v for v in verdict.judge_run(run)}


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("report")
    path = report.make_report(FIXTURE, out)
    return out, path.read_text()


def test_charts_are_png_files(made: tuple[Path, str]) -> None:
    out, _ = made
    for stem in ("throughput", "cpu_per_request", "peak_rss", "p99_latency", "headline"):
        data = (out / f"{stem}.png").read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 10_000


def test_report_links_every_chart_and_lists_machine(made: tuple[Path, str]) -> None:
    out, text = made
    for png in out.glob("*.png"):
        assert f"]({png.name})" in text
    assert "Fixture CPU × 2" in text and "gevent 24.2.1" in text


def test_known_order_holds(cells: dict[tuple[str, str, int], verdict.CellVerdict]) -> None:
    cell = cells["latency", "close", 10]
    assert [name for name, _ in cell.order] == ["gevent", "twisted", "tornado", "asyncio"]
    assert cell.verdict == "holds"
    assert all(step.outcome == "supported" for step in cell.steps)
    assert cell.order_text == "gevent > twisted > tornado > asyncio"
    assert cell.companion is not None and cell.companion.significant and cell.companion.ratio > 1


def test_identical_distributions_are_not_significant(
        cells: dict[tuple[str, str, int], verdict.CellVerdict]) -> None:
    cell = cells["latency", "close", 1]
    assert cell.verdict == "not shown"
    assert all(not link.significant and link.p == 1.0 for link in cell.links + cell.steps)
    assert ">" not in cell.order_text


def test_reversal_contradicts_and_missing_member_is_partial(
        cells: dict[tuple[str, str, int], verdict.CellVerdict]) -> None:
    cell = cells["latency", "keepalive", 10]
    assert [name for name, _ in cell.order] == ["asyncio", "twisted", "gevent"]
    assert cell.verdict == "contradicted"
    assert set(cell.missing) == {"tornado"}
    assert [(s.a, s.b, s.outcome) for s in cell.steps] == [("gevent", "twisted", "reversed"),
                                                          ("twisted", "asyncio", "reversed")]
    assert cell.flagged == {"twisted": ["below_concurrency"]}


def test_failed_and_skipped_rows_do_not_take_part(cells: dict[tuple[str, str, int], verdict.CellVerdict]) -> None:
    cell = cells["latency", "keepalive", 1]
    assert [name for name, _ in cell.order] == ["asyncio", "gevent"]
    assert set(cell.missing) == {"twisted", "tornado"}
    assert "boom" in cell.missing["twisted"]


def test_significant_but_small_difference_is_negligible(
        cells: dict[tuple[str, str, int], verdict.CellVerdict]) -> None:
    cell = cells["latency", "keepalive", 1]
    (step,) = cell.steps
    assert step.significant and step.outcome == "negligible"
    assert cell.verdict == "not shown" and cell.order_text == "asyncio ~ gevent"


def test_too_few_rounds_cannot_be_significant(cells: dict[tuple[str, str, int], verdict.CellVerdict]) -> None:
    cell = cells["throughput", "close", 10]
    assert [name for name, _ in cell.order] == ["gevent", "twisted", "tornado", "asyncio"]
    assert cell.verdict == "not shown"
    assert verdict.min_attainable_p(3, 3) == pytest.approx(0.1)
    assert all(step.p >= verdict.min_attainable_p(3, 3) for step in cell.steps)


def test_compare_separated_and_identical() -> None:
    separated = verdict.compare("a", [10.0, 11, 12, 13, 14], "b", [1.0, 2, 3, 4, 5])
    assert separated.significant and separated.outcome == "supported"
    assert separated.p == pytest.approx(verdict.min_attainable_p(5, 5))
    same = verdict.compare("a", [5.0] * 5, "b", [5.0] * 5)
    assert not same.significant and same.p == 1.0 and same.outcome == "inconclusive"


def test_summary_counts_verdicts(run: dict[str, Any]) -> None:
    text = verdict.summary_paragraph(verdict.judge_run(run), 5)
    assert "holds in 1, is contradicted in 1, and is not shown either way in 3" in text
    assert "0.00794" in text


def test_flagged_failed_skipped_are_reported_with_reasons(made: tuple[Path, str]) -> None:
    _, text = made
    problems = text.split("## Flagged, failed and skipped rows", 1)[1]
    assert "**Flagged: 3 rows.**" in problems
    assert "gevent latency/keepalive C=1: 5 of 50 requests failed" in problems
    assert "twisted latency/keepalive C=10: peak_in_flight 7 < C=10" in problems
    assert "asyncio throughput/close C=10: server CPU 95%" in problems
    assert "**Failed" in problems and "RuntimeError: boom" in problems
    assert "tornado has no keep-alive: tornado latency/keepalive C=1, tornado latency/keepalive C=10" in problems


def _row(**changes: Any) -> dict[str, Any]:
    rnd = {"req_per_s": 100.0, "wall_s": 1.0, "cpu_us_per_req": 50.0, "peak_rss_kb": 1000, "errors": 0,
           "latency_ms": {"p50": 1.0, "p90": 2.0, "p99": 3.0, "max": 4.0}, "peak_in_flight": 1,
           "server_cpu_s": 0.1, "timer_s": 1.05, "overhead_pct": 4.8}
    row = {"id": "x", "strategy": "asyncio", "workload": "throughput", "policy": "close", "concurrency": 10,
           "requests": 100, "delay_ms": 0, "status": None, "reason": "", "rounds": [dict(rnd) for _ in range(3)]}
    row.update(changes)
    return row


def test_flags_definitions() -> None:
    clean = finish_row(_row())
    # delay 0: peak_in_flight 1 < C is expected, not flagged; overhead is a note, not a flag
    assert clean["status"] == "ok" and clean["flags"] == []
    assert [n["code"] for n in clean["notes"]] == ["harness_overhead"]
    below = finish_row(_row(workload="latency", delay_ms=50))
    assert [f["code"] for f in below["flags"]] == ["below_concurrency"]
    assert below["summary"]["efficiency"] == pytest.approx(0.5)  # ideal ceil(100/10) x 50 ms = 0.5 s
    failed = finish_row(_row(rounds=[]))
    assert failed["status"] == "failed" and failed["summary"] is None


def test_cli_remakes_from_json_alone(tmp_path: Path) -> None:
    copy = tmp_path / "latest.json"
    copy.write_text(FIXTURE.read_text())
    done = subprocess.run([sys.executable, "-m", "bench.report", str(copy)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "REPORT.md").exists() and (tmp_path / "throughput.png").exists()


def test_cli_rejects_other_schema(tmp_path: Path) -> None:
    bad = tmp_path / "old.json"
    bad.write_text(json.dumps({"schema_version": 99, "rows": []}))
    done = subprocess.run([sys.executable, "-m", "bench.report", str(bad)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 1 and "schema_version 99" in done.stderr
