"""bench.report, bench.analysis.verdict and .comparison, the charts and bench.record.rows on a small fixed dataset.

The fixture (tests/data/report_fixture.json) is made up so that every outcome is known:
- latency/close/C=1: all strategies have identical rounds -> nothing significant, claim "not shown";
- latency/close/C=10: gevent > twisted > tornado > asyncio, well separated, 5 rounds -> "holds";
- latency/keepalive/C=1: gevent has errors (flagged), twisted failed, tornado skipped; asyncio beats gevent
  significantly but by 2.6 % only -> negligible; a member failed -> "not judged";
- latency/keepalive/C=10: asyncio > twisted > gevent (tornado skipped), twisted below C -> "contradicted";
- throughput/close/C=10: the claimed order, well separated, 3 rounds only -> still "holds" (the t-test on
  log req/s has power at 3 rounds); asyncio's server CPU is 95 % -> flagged.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.analysis import verdict
from bench.analysis.claim import READINGS
from bench.analysis.comparison import compare, holm
from bench.record.rows import finish_row
from bench.record.runfile import load_run
from bench.report.document import make_report
from bench.report.readme import (
    FIELD_MARKERS,
    INSTRUCTIONS_MARKERS,
    MODELS_MARKERS,
    PYTHONS_MARKERS,
    SOURCE_LINE,
    WHY_MARKERS,
    readme_why,
    update_readme,
)
from bench.report.sections import field, pythons
from bench.report.sections.claim import WHY_TITLE
from bench.report.sections.models import instructions_summary, summary

FIXTURE = Path(__file__).parent / "data" / "report_fixture.json"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run() -> dict[str, Any]:
    return load_run(FIXTURE)


@pytest.fixture(scope="module")
def cells(run: dict[str, Any]) -> dict[tuple[str, str, int], verdict.CellVerdict]:
    # The fixture is a schema-1 run (tuned only); the canonical reading is the suite's original claim chain.
    return {(v.workload, v.policy, v.concurrency): v for v in verdict.judge_run(run)
            if v.reading == READINGS[0]}


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("report")
    path = make_report(FIXTURE, out)
    return out, path.read_text()


@pytest.mark.slow  # draws every chart (matplotlib)
def test_charts_are_png_files(made: tuple[Path, str]) -> None:
    out, _ = made
    for stem in ("throughput", "cpu_per_request", "peak_rss", "p99_latency", "headline"):
        data = (out / f"{stem}.png").read_bytes()
        assert data.startswith(PNG_MAGIC)
        assert len(data) > 10_000


def test_report_links_every_chart_and_lists_machine(made: tuple[Path, str]) -> None:
    out, text = made
    for png in out.glob("*.png"):
        assert f"]({png.name})" in text
    assert "Fixture CPU × 2" in text
    assert "gevent 24.2.1" in text


def test_known_order_holds(cells: dict[tuple[str, str, int], verdict.CellVerdict]) -> None:
    cell = cells["latency", "close", 10]
    assert [name for name, _ in cell.order] == ["gevent", "twisted", "tornado", "asyncio"]
    assert cell.verdict == "holds"
    assert all(step.outcome == "supported" for step in cell.steps)
    assert cell.order_text == "gevent > twisted > tornado > asyncio"


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
    # a failed member: the rest of the chain is not judged in its absence (a skipped one leaves it partial)
    assert cell.verdict == "not judged"
    assert not cell.judged


def test_significant_but_small_difference_is_negligible(
        cells: dict[tuple[str, str, int], verdict.CellVerdict]) -> None:
    cell = cells["latency", "keepalive", 1]
    (step,) = cell.steps  # kept for the cell's table, though the cell is not judged (twisted failed)
    assert step.significant
    assert step.outcome == "negligible"
    assert cell.order_text == "asyncio ~ gevent"


def test_three_well_separated_rounds_are_enough(cells: dict[tuple[str, str, int], verdict.CellVerdict]) -> None:
    cell = cells["throughput", "close", 10]
    assert [name for name, _ in cell.order] == ["gevent", "twisted", "tornado", "asyncio"]
    assert cell.verdict == "holds"
    assert all(step.low > 1 for step in cell.steps)  # every interval clear of "no difference"


def test_compare_gives_ratio_interval_and_p() -> None:
    separated = compare("a", [10.0, 11, 12, 13, 14], "b", [1.0, 2, 3, 4, 5])
    assert separated.significant
    assert separated.outcome == "supported"
    assert separated.low < separated.ratio < separated.high
    assert separated.low > 1
    assert separated.interval_text.startswith(f"{separated.ratio:.2f}× [")
    same = compare("a", [5.0] * 5, "b", [5.0] * 5)
    assert not same.significant
    assert same.p == 1.0
    assert same.outcome == "inconclusive"
    exact = compare("a", [10.0] * 3, "b", [5.0] * 3)
    assert exact.outcome == "supported"
    assert exact.low == exact.ratio == exact.high == pytest.approx(2.0)
    single = compare("a", [10.0], "b", [1.0])
    assert not single.significant
    assert single.high == math.inf


def test_a_2x_gap_with_10_percent_noise_in_3_rounds_is_detected() -> None:
    rng = random.Random(7)
    detected = 0
    for _ in range(200):
        fast = [200 * rng.gauss(1, 0.1) for _ in range(3)]
        slow = [100 * rng.gauss(1, 0.1) for _ in range(3)]
        detected += compare("fast", fast, "slow", slow).outcome == "supported"
    assert detected >= 195


def test_equal_distributions_are_rarely_called_different() -> None:
    rng = random.Random(11)
    trials = 2000
    called = sum(compare("a", [100 * rng.gauss(1, 0.1) for _ in range(5)],
                                 "b", [100 * rng.gauss(1, 0.1) for _ in range(5)]).significant
                 for _ in range(trials))
    assert called / trials <= 0.065  # alpha = 0.05, and the binomial spread of 2000 trials


def test_holm_adjusts_a_chain_step_down() -> None:
    steps = [dataclasses.replace(compare("a", [2.0, 2.1], "b", [1.0, 1.1]), p=p)
             for p in (0.01, 0.04, 0.03)]
    assert [round(s.p, 4) for s in holm(steps)] == [0.03, 0.06, 0.06]


def test_summary_counts_verdicts(run: dict[str, Any]) -> None:
    text = verdict.headline(verdict.judge_run(run))
    assert "the claim holds in 2, is contradicted in 1 and not shown in 1 cells" in text
    assert "1 more cell is not judged, a member having failed or not run there" in text
    assert verdict.RULE in text


def test_flagged_failed_skipped_are_reported_with_reasons(made: tuple[Path, str]) -> None:
    _, text = made
    problems = text.split("## Flagged, failed and skipped rows", 1)[1]
    assert "**Flagged: 3 rows.**" in problems
    assert "gevent latency/tuned/keepalive C=1: 5 of 50 requests failed" in problems
    assert "twisted latency/tuned/keepalive C=10: peak_in_flight 7 < C=10" in problems
    assert "asyncio throughput/tuned/close C=10: server CPU 95%" in problems
    assert "**Failed" in problems
    assert "RuntimeError: boom" in problems
    assert ("tornado has no keep-alive: tornado latency/tuned/keepalive C=1, tornado latency/tuned/keepalive C=10"
            in problems)


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
    assert clean["status"] == "ok"
    assert clean["flags"] == []
    assert [n["code"] for n in clean["notes"]] == ["harness_overhead"]
    below = finish_row(_row(workload="latency", delay_ms=50))
    assert [f["code"] for f in below["flags"]] == ["below_concurrency"]
    assert below["summary"]["efficiency"] == pytest.approx(0.5)  # ideal ceil(100/10) x 50 ms = 0.5 s
    failed = finish_row(_row(rounds=[]))
    assert failed["status"] == "failed"
    assert failed["summary"] is None


@pytest.mark.slow  # draws every chart (matplotlib)
def test_cli_remakes_from_json_alone(tmp_path: Path) -> None:
    copy = tmp_path / "latest.json"
    copy.write_text(FIXTURE.read_text())
    done = subprocess.run([sys.executable, "-m", "bench.report", str(copy)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "REPORT.md").exists()
    assert (tmp_path / "throughput.png").exists()


@pytest.mark.slow  # draws every chart (matplotlib)
def test_cli_rejects_other_schema(tmp_path: Path) -> None:
    bad = tmp_path / "old.json"
    bad.write_text(json.dumps({"schema_version": 99, "rows": []}))
    done = subprocess.run([sys.executable, "-m", "bench.report", str(bad)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 1
    assert "schema_version 99" in done.stderr


def _measured(strategy: str, rates: list[float], *, peak: int = 100, cpu_us: float = 100.0,
              busy: float = 0.3) -> dict[str, Any]:
    """A finished as-written row of the claim workload (C=100, N=100, 200 ms: ideal 0.2 s a round)."""
    rounds = [{"req_per_s": rate, "wall_s": 100 / rate, "cpu_s": busy * 100 / rate, "cpu_us_per_req": cpu_us,
               "peak_in_flight": peak, "peak_rss_kb": 1000, "latency_ms": {}, "errors": 0} for rate in rates]
    return finish_row({"id": strategy, "strategy": strategy, "workload": "claim", "profile": "as-written",
                       "policy": "close", "concurrency": 100, "requests": 100, "delay_ms": 200, "size": 64, "status": None,
                       "flags": [], "reason": "", "rounds": rounds})


def test_every_reading_is_judged_and_each_step_has_its_measured_mechanism() -> None:
    rows = [
        _measured("gevent", [400, 410, 405, 395, 402], cpu_us=1300, busy=0.9),
        _measured("grequests", [480, 470, 475, 490, 485]),
        _measured("twisted", [480, 470, 475, 490, 485]),
        _measured("tornado", [48, 47, 49, 48, 47], peak=10),
        _measured("asyncio", [490, 495, 480, 485, 492]),
        _measured("aiohttp", [470, 475, 480, 460, 465]),
        _measured("asyncio-executor", [29, 28, 30, 29, 28], peak=6),
    ]
    judged = {v.reading: v for v in verdict.judge_run({"rows": rows})}
    assert set(judged) == set(READINGS)
    assert len(READINGS) == 6
    executor = judged["grequests", "twisted", "tornado", "asyncio-executor"]
    assert [s.outcome for s in executor.steps] == ["inconclusive", "supported", "supported"]
    assert executor.verdict == "not shown"
    cap = executor.mechanisms["tornado", "asyncio-executor"]
    assert cap.kind == "cap"
    assert "never had more than 6 of its C=100" in cap.text
    assert executor.mechanisms["twisted", "tornado"].kind == "cap"
    reversed_ = judged["gevent", "twisted", "tornado", "asyncio"]
    assert reversed_.verdict == "contradicted"
    cpu = reversed_.mechanisms["gevent", "twisted"]
    assert cpu.kind == "cpu"
    assert "1,300 µs of CPU per request against 100 µs" in cpu.text
    (record,) = [r for r in verdict.step_records(list(judged.values()), "as-written")
                 if (r.a, r.b) == ("gevent", "twisted")]
    assert record.count("reversed") == 1
    assert "Where it is reversed: gevent is CPU-bound" in \
        verdict.step_sentence(record)


def test_cpu_that_covers_the_lost_time_is_the_mechanism_even_below_c() -> None:
    fast = _measured("twisted", [370.0], cpu_us=700)
    # 100 requests x 1.3 ms = 0.13 s of CPU issuing one wave; the round lost 0.31 - 0.2 = 0.11 s to the ideal.
    wave = verdict.mechanism(_measured("gevent", [320.0], cpu_us=1300, busy=0.42), fast)
    assert wave.kind == "cpu"
    assert "0.13 s of CPU in a 0.31 s round whose ideal is 0.20 s" in wave.text
    # Below C because it cannot issue requests as fast as they return: still the CPU, with the peak said.
    slow_issue = verdict.mechanism(_measured("gevent", [250.0], cpu_us=3500, peak=60, busy=0.9), fast)
    assert slow_issue.kind == "cpu"
    assert "never had more than 60 of its C=100" in slow_issue.text
    # Below C with little CPU: a cap.
    capped = verdict.mechanism(_measured("tornado", [48.0], cpu_us=700, peak=10, busy=0.03), fast)
    assert capped.kind == "cap"


def test_mechanism_near_ideal_and_unexplained() -> None:
    fast, slow = _measured("asyncio", [490.0]), _measured("twisted", [470.0])
    assert verdict.mechanism(slow, fast).kind == "near-ideal"
    lost = _measured("twisted", [300.0])
    assert verdict.mechanism(lost, fast).kind == "unexplained"


@pytest.mark.slow  # draws every chart (matplotlib)
def test_report_explains_the_claim_and_draws_it(tmp_path: Path) -> None:
    run = load_run(FIXTURE)
    rows = [_measured("gevent", [480, 470, 475, 490, 485]), _measured("twisted", [460, 450, 455, 445, 452]),
            _measured("tornado", [48, 47, 49, 48, 47], peak=10),
            _measured("asyncio-executor", [29, 28, 30, 29, 28], peak=6)]
    run["rows"] += rows
    path = tmp_path / "latest.json"
    path.write_text(json.dumps(run))
    text = make_report(path, tmp_path).read_text()
    why = text.split(f"## {WHY_TITLE}", 1)[1].split("\n## ", 1)[0]
    assert "**gevent > twisted > tornado > asyncio-executor**" in why
    assert "tornado never had more than 10 of its C=100 requests in flight" in why
    assert (tmp_path / "claim.png").read_bytes().startswith(PNG_MAGIC)
    assert "](claim.png)" in text


def test_readme_quotes_the_committed_run_it_names() -> None:
    """The README's generated section is what ``--readme`` makes of the committed run it names, to the
    letter; that run is a file of results/runs/, which no later sweep rewrites (latest.json it does)."""
    root = FIXTURE.parent.parent.parent
    begin, end = WHY_MARKERS
    readme = (root / "README.md").read_text()
    source_line, quoted = readme.split(begin, 1)[1].split(end, 1)[0].strip().split("\n", 1)
    source = source_line.removeprefix("<!-- source: ").removesuffix(" -->")
    assert source_line == SOURCE_LINE.format(source), source_line
    assert source.startswith("results/runs/"), source_line
    assert quoted.strip() == readme_why(load_run(root / source), "results/claim.png"), (
        f"README.md's generated section is stale: python -m bench.report {source} --out results "
        "--readme README.md")


@pytest.mark.parametrize(("markers", "quote"), [(MODELS_MARKERS, summary), (INSTRUCTIONS_MARKERS, instructions_summary),
                                               (FIELD_MARKERS, field.summary), (PYTHONS_MARKERS, pythons.summary)],
                         ids=["models", "instructions", "field", "pythons"])
def test_docs_results_quotes_the_committed_runs_it_names(markers: tuple[str, str], quote: Any) -> None:
    """docs/results.md's generated sections are what ``--readme docs/results.md`` makes of the committed runs
    they name (the models run's table, the instructions run's line, the field run's and the interpreters run's tables), to the letter."""
    root = FIXTURE.parent.parent.parent
    doc = root / "docs" / "results.md"
    begin, end = markers
    source_line, quoted = doc.read_text().split(begin, 1)[1].split(end, 1)[0].strip().split("\n", 1)
    source = source_line.removeprefix("<!-- source: ").removesuffix(" -->")
    run = (doc.parent / source).resolve()
    assert run.is_relative_to(root / "results"), source_line
    assert "/runs/" in source, source_line
    assert quoted.strip() == "\n".join(quote(load_run(run))), (
        f"docs/results.md's section {begin!r} is stale: python -m bench.report {run.relative_to(root)} "
        f"--out {run.parent.parent.relative_to(root)} --readme docs/results.md")


def test_a_run_without_a_sections_data_keeps_it(tmp_path: Path) -> None:
    begin, end = INSTRUCTIONS_MARKERS
    doc = tmp_path / "results.md"
    doc.write_text(f"# top\n{begin}\nkept\n{end}\n")
    kept = update_readme(doc, load_run(FIXTURE), "claim.png", "runs/x.json")
    assert "kept" in doc.read_text()
    assert len(kept) == 1
    assert "has no instruction counts" in kept[0]


def test_readme_rewrite_keeps_the_rest(tmp_path: Path) -> None:
    begin, end = WHY_MARKERS
    readme = tmp_path / "README.md"
    readme.write_text(f"# top\n\n{begin}\nold\n{end}\n\n# bottom\n")
    update_readme(readme, load_run(FIXTURE), "results/claim.png", "results/runs/x.json")
    text = readme.read_text()
    assert f"{begin}\n<!-- source: results/runs/x.json -->\n" in text
    assert text.startswith("# top\n\n")
    assert text.endswith(f"{end}\n\n# bottom\n")
    assert "old" not in text
    readme.write_text("# no markers\n")
    with pytest.raises(ValueError, match="no generated section"):
        update_readme(readme, load_run(FIXTURE), "results/claim.png", "results/runs/x.json")


@pytest.mark.slow  # draws every chart (matplotlib)
def test_a_partial_run_is_reported_as_partial(tmp_path: Path) -> None:
    """A sweep stopped mid-row (Ctrl-C) leaves a row without a status: the report says so, never crashes."""
    run = json.loads(FIXTURE.read_text())
    run["rows"][-1].update(status=None, summary=None, flags=[], reason="")
    run["options"]["interrupted"] = True
    path = tmp_path / "latest.json"
    path.write_text(json.dumps(run))
    done = subprocess.run([sys.executable, "-m", "bench.report", str(path)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "REPORT.md").read_text()
    assert "**Partial run:**" in text
    assert "1 row(s) unfinished" in text
    assert "interrupted: the sweep stopped before this row finished" in text


def test_rounds_nearly_identical_are_compared_without_a_warning() -> None:
    """Two rounds a side that agree to ten digits (CPU per request over a short round can): the comparison is
    made, not a scipy precision warning (an error under the suite's settings, which ended a sweep's report)."""
    same = compare("a", [100.0, 100.0000000001], "b", [100.0, 100.0000000002])
    assert same.ratio == pytest.approx(1.0)
    assert not same.decisive
    assert 0.0 <= same.p <= 1.0
    apart = compare("a", [200.0, 200.0000000001], "b", [100.0, 100.0000000002])
    assert apart.ratio == pytest.approx(2.0)
    assert apart.decisive
