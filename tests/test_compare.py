"""bench.compare on runs with known differences: what changed, what moved, which verdicts agree."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.record.runfile import load_run
from bench.report import compare

FIXTURE = Path(__file__).parent / "data" / "report_fixture.json"


@pytest.fixture
def runs() -> tuple[dict[str, Any], dict[str, Any]]:
    """A and B: the fixture, and the fixture with tornado twice as fast in latency/close/C=10."""
    a = load_run(FIXTURE)
    b = copy.deepcopy(a)
    for row in b["rows"]:
        if (row["workload"], row["policy"], row["concurrency"], row["strategy"]) == ("latency", "close", 10,
                                                                                       "tornado"):
            for round_ in row["rounds"]:
                round_["req_per_s"] *= 2
    return a, b


def test_identical_runs_change_nothing_and_agree() -> None:
    a = load_run(FIXTURE)
    changes = compare.row_changes(a, a)
    assert changes
    assert not any(c.decisive for _, c in changes)
    assert all(c.ratio == pytest.approx(1.0) for _, c in changes)
    assert set(compare.ratio_movement(a, a).values()) == {0.0}
    assert set(compare.pair_movement(a, a).values()) == {0.0}
    agreement = compare.verdict_agreement(a, a)
    assert agreement
    assert all(va == vb for _, _, va, vb in agreement)


def test_a_doubled_row_is_changed_and_moves_its_cell(runs: tuple[dict[str, Any], dict[str, Any]]) -> None:
    a, b = runs
    changed = {key: c for key, c in compare.row_changes(a, b) if c.decisive}
    (key,) = changed
    assert key == ("latency", "tuned", "close", 10, "http", "tornado")
    assert changed[key].ratio == pytest.approx(2.0)
    assert changed[key].low > 1
    moved = {k: m for k, m in compare.ratio_movement(a, b).items() if m > 0}
    assert moved
    assert all(k[:5] == key[:5] for k in moved)
    assert moved[key] > 0.1
    pairs = {k: m for k, m in compare.pair_movement(a, b).items() if m > 0}
    assert pairs
    assert all(cell == key[:5] and "tornado" in (x, y) for cell, x, y in pairs)
    assert {round(m, 6) for m in pairs.values()} <= {0.5, 1.0}  # x/tornado halved, tornado/y doubled
    differ = [(k, va, vb) for k, _, va, vb in compare.verdict_agreement(a, b) if va != vb]
    assert differ
    assert all(k == ("latency", "tuned", "close", 10, "http") for k, _, _ in differ)


@pytest.mark.slow  # the CLI in a subprocess, two runs compared
def test_cli_prints_and_writes_markdown(runs: tuple[dict[str, Any], dict[str, Any]], tmp_path: Path) -> None:
    paths = []
    for name, run in zip("ab", runs, strict=True):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(run))
        paths.append(str(path))
    out = tmp_path / "compare.md"
    done = subprocess.run([sys.executable, "-m", "bench.compare", *paths, "--out", str(out)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == out.read_text()
    assert "changed (ratio B/A's 95 % interval clear of 1" in done.stdout
    assert "| faster |" in done.stdout
    bad = subprocess.run([sys.executable, "-m", "bench.compare", paths[0], str(tmp_path / "missing.json")],
                         capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 1
    assert bad.stderr.startswith("bench.compare: ")
    assert len(bad.stderr.splitlines()) == 1
