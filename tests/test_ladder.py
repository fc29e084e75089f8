"""The model ladder (``python -m bench.ladder``: ``bench.sweep.ladder`` measures, ``bench.record.ladder``
holds, ``bench.analysis.ladder`` judges, ``bench.report`` prints and draws) and what its rungs are made of
(``strategies.shared._codec``, ``strategies.probes.ladder_worker``), and the one structure every codec strategy shares.

Behaviour only, never a ratio or a time: the bare codec sends the strategies' bytes and frames what the
bundled server sends; every rung verifies its responses (a wrong body length is an error of every rung);
a run writes a JSON with every strategy and step, its tables and its chart; the analysis and the report read
the JSON alone (REPORT.md and the README show the ladder a results folder holds); the codec strategies of
every model name each fault alike and take an empty round.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.analysis.ladder import reordered, targets
from bench.ladder import main as ladder_main
from bench.record.ladder import LADDER_FILE, SCHEMA, STEP_NAMES, check_ladder, load_ladder
from bench.record.runfile import load_run
from bench.report.document import make_report
from bench.report.readme import LADDER_MARKERS, SOURCE_LINE, readme_ladder, update_readme
from bench.report.sections.ladder import TITLE, tables
from bench.sweep.ladder import LADDER, rung_command
from strategies import REGISTRY
from strategies.base import ClientConfig, Outcome
from strategies.http1 import ProtocolError
from strategies.probes import components
from strategies.probes.ladder_worker import judge_checked
from strategies.shared._codec import CHECKED, RUNGS, BareCodec, Features, HTTP1Codec, LengthParser, checked
from strategies.worker.runner import WorkerProcess
from strategies.workload import Workload
from tests.test_instructions import needs_valgrind
from tests.test_report import FIXTURE
from tests.tiers import each_model

URL = "http://127.0.0.1:8080/work?delay_ms=0&size=64&id=7"
RESPONSE = b"HTTP/1.1 200 OK\r\nServer: concbench\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
INSTALLED = [name for name in LADDER if REGISTRY[name].unavailable_reason() is None]


@pytest.mark.parametrize("policy", ["keepalive", "close"])
def test_the_bare_codec_sends_the_strategies_bytes(policy: str) -> None:
    config = ClientConfig(1, policy)
    assert BareCodec(config).request(URL) == HTTP1Codec(config).request(URL)


def test_the_bare_codec_sends_get_only() -> None:
    with pytest.raises(ValueError, match="GET only"):
        BareCodec(ClientConfig(1, method="POST", body=b"x"))
    with pytest.raises(ValueError, match="codec"):
        Features(codec="h2")


def test_the_length_parser_frames_a_response_in_pieces_and_sees_what_follows() -> None:
    parser = LengthParser()
    assert not parser.feed(RESPONSE[:10])
    assert not parser.feed(RESPONSE[10:-2])
    assert parser.response is None
    assert parser.feed(RESPONSE[-2:] + b"HTTP")
    assert parser.response is parser
    assert (parser.status, parser.body, parser.trailing) == (200, b"hello", True)
    assert parser.feed_eof()


@pytest.mark.parametrize(("data", "refusal"), [(b"HTTP/1.1 200 OK\r\n\r\nhello", "no Content-Length"),
                                             (RESPONSE[:-1], "closed before a complete response")],
                         ids=["no-length", "truncated"])
def test_the_length_parser_refuses_what_it_cannot_frame(data: bytes, refusal: str) -> None:
    parser = LengthParser()
    with pytest.raises(ProtocolError, match=refusal):
        parser.feed(data) or parser.feed_eof()  # a complete response would raise neither


def test_a_check_passes_only_the_promised_status_and_length() -> None:
    features = Features(record=False, expected_size=5)
    assert checked(features, 200, b"hello") is CHECKED
    assert checked(features, 200, b"hell").error.startswith("CheckError")  # type: ignore[union-attr]
    assert checked(features, 500, b"hello").error.startswith("CheckError")  # type: ignore[union-attr]


def test_the_checked_judge_counts_checked_slots_and_every_other_by_kind() -> None:
    outcomes = [CHECKED, Outcome.failed(TimeoutError("late"), 0.0), CHECKED]
    verdict = judge_checked(["a", "b", "c", "d"], outcomes)
    assert (verdict["ok"], verdict["errors"], verdict["error_kinds"]) == (2, 2, {"TimeoutError": 1, "missing": 1})


def test_the_rungs_add_one_feature_each() -> None:
    assert [*list(RUNGS), "strategy"] == list(STEP_NAMES)
    assert [(f.codec, f.deadline, f.record) for f in RUNGS.values()] == [
        ("bare", False, False), ("http1", False, False), ("http1", True, False), ("http1", True, True)]


@pytest.mark.timeout(180)
@pytest.mark.parametrize("name", each_model(INSTALLED))
def test_every_rung_verifies_its_responses(name: str, server_url: str) -> None:
    """A response with another status is an error of every rung; one with another body length, of every rung
    that checks in place (the ``record`` rung's bodies are verified byte for byte, as the strategies')."""
    paths = ["status/500", "work?size=64&id=1", "work?size=100&id=2"]
    for rung, features in RUNGS.items():
        command = [sys.executable, "-m", "strategies.probes.ladder_worker", name, rung, "64"]
        with WorkerProcess(name, command=command) as worker:
            result = worker.run_round(Workload.from_paths(server_url, paths, 2), server_stats=False)
        kinds = {"unexpected": 1} if features.record else {"CheckError": 2}
        assert result.ok == (2 if features.record else 1), (rung, result.error_samples)
        assert result.error_kinds == kinds, (rung, result.error_samples)


@pytest.mark.slow  # a ladder run: every model's rungs, timed
@pytest.mark.timeout(240)
def test_a_ladder_run_writes_every_strategy_and_step_its_tables_and_its_chart(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--out", str(tmp_path), "--strategies", ",".join(INSTALLED), "--levels", "2", "--requests", "8",
            "--rounds", "1", "--no-instructions"]
    assert ladder_main(args) == 0
    data = json.loads((tmp_path / "model_ladder.json").read_text())
    assert data["schema"] == SCHEMA
    steps = {(s["strategy"], s["concurrency"], s["step"]): s for s in data["steps"]}
    assert set(steps) == {(name, 2, step) for name in INSTALLED for step in STEP_NAMES}
    assert all(s["errors"] == 0 and s["rate"]["median"] > 0 and s["instructions_per_request"] is None
               for s in steps.values())
    assert (tmp_path / "model_ladder.png").stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert printed.count("| `select` | 2 |") == 2
    assert "by bare level" in printed
    assert load_ladder(tmp_path / LADDER_FILE)["load_average"]["end"] is not None  # the run ended


@pytest.mark.slow  # valgrind
@pytest.mark.timeout(240)
@needs_valgrind
def test_a_ladder_run_counts_the_instructions_of_every_step(tmp_path: Path) -> None:
    args = ["--out", str(tmp_path), "--strategies", "select", "--levels", "2", "--instructions-requests", "10",
            "--no-rate"]
    assert ladder_main(args) == 0
    ladder = load_ladder(tmp_path / LADDER_FILE)
    assert [s["step"] for s in ladder["steps"]] == list(STEP_NAMES)
    assert all(s["instructions_per_request"] and s["instructions_per_request"] > 0 and s["rate"] is None
               for s in ladder["steps"])


def test_the_ladder_refuses_what_it_cannot_climb_and_its_old_command_says_where_it_went(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        ladder_main(["--out", str(tmp_path), "--strategies", "threads"])  # requests: not a rung
    assert "not a codec strategy of the ladder: 'threads'" in capsys.readouterr().err
    assert components.main(["ladder", "--out", str(tmp_path)]) == 2
    assert "python -m bench.ladder" in capsys.readouterr().err
    assert rung_command("select", "strategy") is None
    assert rung_command("select", "bare")[-3:] == ["select", "bare", "64"]  # type: ignore[index]


def _step(strategy: str, step: str, rates: list[float], instructions: float = 1000.0, errors: int = 0) -> dict:
    return {"strategy": strategy, "model": strategy, "concurrency": 10, "step": step,
            "instructions_per_request": instructions, "errors": errors, "error_kinds": {"TimeoutError": errors}
            if errors else {}, "rate": {"median": sorted(rates)[len(rates) // 2], "low": min(rates),
                                        "high": max(rates), "rounds": rates,
                                        "cpu_us_per_request": [10.0] * len(rates)}}


def _ladder(steps: list[dict]) -> dict:
    return {"schema": SCHEMA, "created": "2026-12-07T00:00:00Z", "command": "python -m bench.ladder --out x",
            "machine": {"hostname": "h", "cpu_count": 2, "cpu_model": "cpu", "python": "3.11",
                        "implementation": "CPython", "platform": "Linux",
                        "pinning": {"server": [0], "worker": [1], "note": ""}},
            "commit_info": None, "libraries": {}, "load_average": {"start": [2.0, 2.0, 2.0], "end": [3.0, 3.0, 3.0]},
            "adds": {step: f"adds {step}" for step in STEP_NAMES},
            "workload": {"policy": "keepalive", "delay_ms": 0, "size": 64, "rounds": 1, "requests": 10,
                         "instructions_requests": 5, "levels": [10]},
            "steps": steps, "passes": [{"concurrency": 10, "number": 0, "noise": {
                "interval_s": 2.0, "steal_pct": 0.0, "others_cpu_pct": 12.0, "resolution_pct": 0.5,
                "frequency_mhz": None}}]}


def test_the_analysis_reads_the_json_alone_pairs_rounds_and_finds_a_reordering() -> None:
    data = _ladder([_step("fast", step, [100.0] if step == "bare" else [50.0]) for step in STEP_NAMES]
                   + [_step("slow", step, [80.0], errors=1 if step == "strategy" else 0) for step in STEP_NAMES])
    ladder = check_ladder(data)
    assert reordered(ladder, 10) == [("fast", "slow")]  # bare 100 >= 1.15 x 80, strategy 50 < 80
    text = "\n".join(tables(ladder))
    assert "| fast | `fast` | 10 | 1.0k |" in text
    assert "80 [80-80] !1" in text
    assert "fast > slow" in text
    assert "0.50 [0.50-0.50]" in text
    assert "other processes used 12 % of the pinned cores' time" in text
    judged = {(t.strategy, t.text): t.met for t in targets(ladder)}
    assert judged == {("fast", "÷ bare >= 0.8"): False, ("fast", "÷ codec >= 0.9"): True,
                      ("slow", "÷ bare >= 0.8"): None, ("slow", "÷ codec >= 0.9"): None}  # errors: not judged
    assert "1 of 2 met: missed `fast` C=10 ÷ bare >= 0.8 (0.50); 2 not judged" in text
    paired = check_ladder(_ladder([_step("s", "bare", [100.0, 50.0, 80.0]), _step("s", "codec", [90.0, 60.0, 70.0]),
                                   _step("s", "strategy", [90.0, 45.0, 40.0])]))
    assert "0.90 [0.50-0.90]" in "\n".join(tables(paired))  # round by round: 0.9, 0.9, 0.5; not 45 / 80
    with pytest.raises(ValueError, match="not a model ladder"):
        check_ladder({**data, "schema": "other"})
    with pytest.raises(ValueError, match="missing 'rate'"):
        check_ladder(_ladder([{k: v for k, v in _step("s", "bare", [1.0]).items() if k != "rate"}]))


@pytest.mark.slow  # draws every chart (matplotlib)
def test_the_report_and_the_readme_show_the_ladder_their_folder_holds(tmp_path: Path) -> None:
    ladder = _ladder([_step("select", step, [100.0 - k]) for k, step in enumerate(STEP_NAMES)])
    out = tmp_path / "results"
    text = make_report(FIXTURE, out).read_text()
    assert f"## {TITLE}" not in text
    assert not (out / "model_ladder.png").exists()
    (out / LADDER_FILE).write_text(json.dumps(ladder))
    text = make_report(FIXTURE, out).read_text()
    assert f"## {TITLE}" in text
    assert "![model_ladder](model_ladder.png)" in text
    assert "\n".join(tables(check_ladder(ladder))) in text
    assert (out / "model_ladder.png").stat().st_size > 10_000
    begin, end = LADDER_MARKERS
    readme = tmp_path / "README.md"
    readme.write_text(f"# top\n\n{begin}\nold\n{end}\n\n# bottom\n")
    # A file holding only the ladder's section gets that one rewritten (the claim's is not required).
    assert update_readme(readme, load_run(FIXTURE), "results/claim.png", "results/runs/x.json",
                         (check_ladder(ladder), "results/model_ladder.png", "results/model_ladder.json")) == []
    assert "old" not in readme.read_text()
    assert readme.read_text().startswith("# top\n\n")
    done = subprocess.run([sys.executable, "-m", "bench.report", str(FIXTURE), "--out", str(out), "--readme",
                           str(_readme_with_both_sections(tmp_path))], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    section = (tmp_path / "README.md").read_text().split(begin, 1)[1].split(end, 1)[0]
    assert section.strip() == "\n".join([SOURCE_LINE.format("results/model_ladder.json"),
                                         readme_ladder(check_ladder(ladder), "results/model_ladder.png")])


def _readme_with_both_sections(folder: Path) -> Path:
    from bench.report.readme import WHY_MARKERS

    readme = folder / "README.md"
    readme.write_text("\n\n".join(["# top", *WHY_MARKERS, *LADDER_MARKERS, "# bottom"]) + "\n")
    return readme


def test_the_readme_quotes_the_committed_ladder_it_names() -> None:
    """The README's ladder section is what ``--readme`` makes of the ladder it names, to the letter."""
    root = Path(__file__).resolve().parent.parent
    begin, end = LADDER_MARKERS
    source_line, quoted = (root / "README.md").read_text().split(begin, 1)[1].split(end, 1)[0].strip().split("\n", 1)
    source = source_line.removeprefix("<!-- source: ").removesuffix(" -->")
    assert source_line == SOURCE_LINE.format(source), source_line
    assert quoted.strip() == readme_ladder(load_ladder(root / source), "results/model_ladder.png"), (
        "README.md's ladder section is stale: python -m bench.report results/runs/NAME.json --out results "
        "--readme README.md")


FAULTS = {"fault/reset": "ConnectionResetError", "fault/close": "ProtocolError", "fault/truncate": "ProtocolError",
          "fault/stall": "TimeoutError", "fault/garbage": "ProtocolError", "status/500": "unexpected"}


@pytest.mark.timeout(180)
@pytest.mark.parametrize("name", each_model(INSTALLED))
def test_every_model_names_each_fault_alike_and_takes_an_empty_round(name: str, server_url: str) -> None:
    with WorkerProcess(name) as worker:
        empty = worker.run_round(Workload(server_url, 0, 4))
        assert (empty.requests, empty.errors) == (0, 0)
        for policy in ("keepalive", "close"):
            for fault, kind in FAULTS.items():
                workload = Workload.from_paths(server_url, ["work?size=64&id=1", fault], 2, policy=policy,
                                               timeout_s=0.5)
                result = worker.run_round(workload)
                assert (result.ok, result.error_kinds) == (1, {kind: 1}), (policy, fault, result.error_samples)


@pytest.mark.timeout(120)
def test_a_dead_child_leaves_the_round_to_the_others(server_url: str) -> None:
    """The processes model: a child killed between rounds takes no slot; the others serve the whole round."""
    import os
    import signal

    from strategies.shared._blocking_codec import CodecStack
    from strategies.shared._processes import ProcessesFetcher

    fetcher = ProcessesFetcher(ClientConfig(3, "keepalive"), CodecStack)
    try:
        urls = [f"{server_url}work?size=64&id={k}" for k in range(12)]
        assert all(o.status == 200 for o in fetcher.fetch(urls))
        victim = fetcher._children[0]
        os.kill(victim.pid, signal.SIGKILL)
        victim.join(10)
        outcomes = fetcher.fetch(urls)
        assert len(outcomes) == 12, [o.error for o in outcomes]
        assert all(o.status == 200 for o in outcomes), [o.error for o in outcomes]
    finally:
        fetcher.close()
