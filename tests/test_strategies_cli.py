"""``python -m strategies``: list, run (against a running server and the bundled one), bad arguments."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from strategies import REGISTRY

pytestmark = pytest.mark.timeout(120)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "strategies", *args], capture_output=True, text=True, check=False,
                          timeout=100)


def test_list_names_every_strategy_and_its_availability() -> None:
    done = _cli("list")
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(REGISTRY)
    for line, spec in zip(lines, REGISTRY.values(), strict=True):
        assert line.split()[1] == ("no" if spec.unavailable_reason() else "yes")


def test_run_json_against_a_running_server(server_url: str) -> None:
    done = _cli("run", "select", "--url", server_url, "-n", "30", "-c", "5", "--delay-ms", "10", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["strategy"], data["requests"], data["concurrency"], data["ok"], data["errors"]) == (
        "select", 30, 5, 30, 0)
    assert data["peak_in_flight"] == 5
    for key in ("wall_s", "cpu_s", "peak_rss_kb"):
        assert data[key] > 0
    assert set(data["latency_ms"]) >= {"p50", "p90", "p99", "max"}


def test_run_without_url_starts_the_bundled_server() -> None:
    done = _cli("run", "asyncio", "-n", "20", "-c", "4", "--policy", "close", "--rounds", "2")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2
    assert all("20 ok, 0 errors" in line and "peak in flight" in line for line in lines)


def test_run_with_errors_exits_1(server_url: str) -> None:
    done = _cli("run", "select", "--url", server_url + "nothing-here/", "-n", "3", "-c", "1", "--json")
    assert done.returncode == 1
    assert json.loads(done.stdout)["errors"] == 3


@pytest.mark.parametrize(("args", "message"), [
    (["run", "nope", "-n", "1", "-c", "1"], "unknown strategy"),
    (["run", "sequential", "-n", "1", "-c", "2"], "C=1 by definition"),
    (["run", "tornado", "-n", "1", "-c", "1", "--policy", "keepalive"], "keep-alive"),
    (["run", "select", "-n", "1", "-c", "5000"], "FD_SETSIZE"),
    (["run", "select", "-n", "0", "-c", "1"], "must be >= 1"),
    (["run", "select", "-n", "1", "-c", "1", "--policy", "sometimes"], "invalid choice"),
    (["run", "select", "-c", "1"], "required"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_arguments_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    done = _cli(*args)
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert message in done.stderr, done.stderr
