"""Instructions per request under callgrind: a real worker, a real server, a real valgrind; cheap sizes.

The strategy is ``select`` (no third-party import, so start-up under valgrind is seconds; a pass takes ~6 s,
nearly all of it start-up) at N=50, where two passes agree within 0.5 % (at N=20, within 1.5 %).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest

from strategies.probes.instructions import (
    InstructionCountError,
    InstructionsUnavailable,
    count_instructions,
    find_valgrind,
    parse_callgrind,
)
from strategies.worker.runner import WorkerError
from strategies.workload import Workload

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]  # slow: callgrind


def _unavailable() -> str | None:
    try:
        find_valgrind()
    except InstructionsUnavailable as exc:
        return str(exc)
    return None


UNAVAILABLE = _unavailable()
needs_valgrind = pytest.mark.skipif(UNAVAILABLE is not None, reason=f"no instruction counts here: {UNAVAILABLE}")

#: select's fetch costs ~112,000 instructions per request at N=50; the range only catches a figure that
#: counted nothing, or counted a whole process.
SANE_RANGE = (10_000, 1_000_000)


@needs_valgrind
def test_select_figure_is_sane_repeatable_and_leaves_nothing_behind(
    server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the callgrind files go, and must be gone
    children_before = {p.pid for p in psutil.Process().children(recursive=True)}  # the server
    workload = Workload(server_url, 50, 5)
    first, second = (count_instructions("select", workload, timeout_s=100) for _ in range(2))
    for count in (first, second):
        data = count.to_dict()
        assert data["clean"]
        assert data["errors"] == 0
        assert data["processes"] == 1
        assert data["requests"] == 50
        assert data["valgrind"].startswith("valgrind-")
        assert 0 < data["instructions_n"] < data["instructions_3n"]
        assert data["instructions_per_request"] == (data["instructions_3n"] - data["instructions_n"]) / 100
        assert SANE_RANGE[0] < data["instructions_per_request"] < SANE_RANGE[1]
    assert first.instructions_per_request == pytest.approx(second.instructions_per_request, rel=0.04)
    assert list(tmp_path.iterdir()) == []
    assert {p.pid for p in psutil.Process().children(recursive=True)} == children_before


@needs_valgrind
def test_failed_requests_make_the_pass_not_clean(server_url: str) -> None:
    count = count_instructions("select", Workload(server_url + "nothing-here/", 5, 5), timeout_s=100)
    assert not count.clean
    assert count.errors == 5 + 5 + 15  # warm-up, N, 3N
    assert count.error_kinds == {"unexpected": 25}  # a URL that promises no response


@needs_valgrind
def test_a_pass_past_its_deadline_fails_and_leaves_nothing_behind(server_url: str) -> None:
    children_before = {p.pid for p in psutil.Process().children(recursive=True)}
    with pytest.raises(WorkerError, match=re.escape("did not answer 'start' within 0.5 s; killed")):
        count_instructions("select", Workload(server_url, 5, 5), timeout_s=0.5)  # valgrind starts in seconds
    assert {p.pid for p in psutil.Process().children(recursive=True)} == children_before


@needs_valgrind
def test_cli_prints_the_figure_as_json(server_url: str) -> None:
    done = _cli("run", "select", "--url", server_url, "-n", "20", "-c", "5", "--instructions", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["strategy"], data["requests"], data["clean"]) == ("select", 20, True)
    assert SANE_RANGE[0] < data["instructions_per_request"] < SANE_RANGE[1]


def test_without_valgrind_the_error_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(InstructionsUnavailable, match="valgrind not found"):
        count_instructions("select", Workload("http://127.0.0.1:9/", 5, 5))
    done = _cli("run", "select", "-n", "5", "-c", "5", "--instructions", env={**os.environ, "PATH": str(tmp_path)})
    assert done.returncode == 2
    assert done.stderr.splitlines() == [("python -m strategies: error: --instructions: valgrind not found on "
                                         "PATH: install valgrind (apt-get install valgrind)")]


def test_rounds_do_not_apply_to_the_instruction_pass() -> None:
    done = _cli("run", "select", "-n", "5", "-c", "5", "--instructions", "--rounds", "2")
    assert done.returncode == 2
    assert "--rounds does not apply" in done.stderr


def test_explicit_paths_are_refused() -> None:
    with pytest.raises(ValueError, match="explicit paths"):
        count_instructions("select", Workload.from_paths("http://127.0.0.1:9/", ["/"], 1))


def test_the_count_is_the_summary_at_the_position_of_ir() -> None:
    text = ("# callgrind format\nversion: 1\npart: 2\ndesc: Trigger: dump concbench-150\n\n"
            "events: Dr Ir\nsummary: 7 1234\n\nfn=(1) main\n3 1 2000\n\ntotals: 7 2000\n")
    assert parse_callgrind(text) == ("dump concbench-150", 1234)
    assert parse_callgrind("events: Ir\nsummary: 99\ntotals: 99\n") == (None, 99)
    with pytest.raises(InstructionCountError, match="incomplete"):
        parse_callgrind("# callgrind format\nevents: Ir\nsummary: 99\nfn=(1) main\n")


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "strategies", *args], capture_output=True, text=True,
                          check=False, timeout=100, env=env)


@needs_valgrind
@pytest.mark.timeout(240)
def test_a_sweep_with_instructions_counts_each_row_over_each_scheme(tmp_path: Path) -> None:
    """``--instructions`` in a real sweep: after its timed rounds each row gets a clean count, over HTTP and
    over HTTPS (the harness counts a row only while its own scheme's server is up)."""
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "bench/test_sweep.py", "--benchmark-only", "--workloads=throughput",
         "--profiles=tuned", "--policies=keepalive", "--concurrency=2", "--strategies=select", "--requests=20",
         "--rounds=2", "--max-rounds=2", "--schemes=http,https", "--instructions", f"--results-dir={tmp_path}",
         "-p", "no:cacheprovider", "-q"],
        cwd=root, capture_output=True, text=True, timeout=230, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    rows = json.loads((tmp_path / "latest.json").read_text())["rows"]
    counted = {row["scheme"]: row["instructions"] for row in rows if row["strategy"] == "select"}
    assert set(counted) == {"http", "https"}
    for count in counted.values():
        assert count is not None, count
        assert count["clean"], count
        assert SANE_RANGE[0] <= count["instructions_per_request"] <= 3 * SANE_RANGE[1]
