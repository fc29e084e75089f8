"""The choices of 2026 beyond the generic tests (tests/test_strategies.py and tests/test_strategy_libs.py run
every registered strategy, these six included): what each library could get wrong that those do not ask.

- a missing library is its strategy's one-line skip with how to install it (niquests' hint builds
  urllib3-future beside urllib3: docs/strategies.md, "niquests and urllib3");
- ``--strategies 2026`` names the six;
- trio-raw reports the fault mix with the kinds asyncio's codec row reports (trio's wrappers unwrapped);
- httpx2's pool holds C in flight under keep-alive round after round at the shape where httpx's does not
  (encode/httpcore#1035: 20 ms a request, C=50), and reuses its connections;
- curl-cffi's recipe keeps ``max_clients=10``: 10 in flight at C=50, where tuned holds 50.
"""

from __future__ import annotations

import sys

import pytest

from bench.sweep.plan import parse_strategies
from strategies import NIQUESTS_INSTALL, REGISTRY, STRATEGIES_2026
from strategies.__main__ import main
from strategies.worker.runner import WorkerProcess
from strategies.workload import Workload
from tests.test_strategies import FAULT_PATHS, FAULT_TIMEOUT_S

pytestmark = pytest.mark.timeout(180)


def _skip_unless_installed(*names: str) -> None:
    for name in names:
        if reason := REGISTRY[name].unavailable_reason():
            pytest.skip(reason)


@pytest.mark.parametrize("name", STRATEGIES_2026)
def test_a_missing_library_is_one_line_with_its_install(name: str, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    spec = REGISTRY[name]
    for module in spec.requires:
        monkeypatch.setitem(sys.modules, module, None)  # find_spec: None, as if not installed
    hint = NIQUESTS_INSTALL if spec.extra == "niquests" else f"pip install 'concbench[{spec.extra}]'"
    assert spec.unavailable_reason() == f"missing {', '.join(spec.requires)}: {hint}"
    with pytest.raises(SystemExit) as exited:
        main(["run", name, "-n", "1", "-c", "1"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    assert hint in err, err


def test_the_set_2026_names_the_six_opt_in() -> None:
    assert parse_strategies("2026") == STRATEGIES_2026
    assert parse_strategies("default,2026")[-len(STRATEGIES_2026):] == STRATEGIES_2026
    assert not any(REGISTRY[name].default for name in STRATEGIES_2026)


@pytest.mark.slow  # a worker per strategy, the fault mix
@pytest.mark.parametrize("policy", ["keepalive", "close"])
def test_trio_raw_reports_faults_as_asyncio_does(server_url: str, policy: str) -> None:
    _skip_unless_installed("trio-raw")
    work = [f"work?size=64&id={k}" for k in range(8)]
    paths = [path for pair in zip(work, FAULT_PATHS + [""] * len(work), strict=False) for path in pair if path]
    kinds: dict[str, dict[str, int]] = {}
    for name in ("asyncio", "trio-raw"):
        workload = Workload.from_paths(server_url, paths, 4, policy=policy, timeout_s=FAULT_TIMEOUT_S)
        with WorkerProcess(name) as worker:
            result = worker.run_round(workload)
        assert (result.ok, result.errors) == (len(work), len(FAULT_PATHS)), result.error_samples
        kinds[name] = result.error_kinds
    assert kinds["trio-raw"] == kinds["asyncio"]
    # A refused connection: the first attempt's error, not trio's "all attempts failed" wrapper.
    with WorkerProcess("trio-raw") as worker:
        refused = worker.run_round(Workload.from_paths("http://127.0.0.1:9/", ["work"], 1, policy=policy,
                                                       timeout_s=FAULT_TIMEOUT_S), server_stats=False)
    assert refused.error_kinds == {"ConnectionRefusedError": 1}


@pytest.mark.slow  # a worker per strategy, rounds of 50 in flight
def test_httpx2_holds_c_in_flight_under_keepalive_round_after_round(server_url: str) -> None:
    _skip_unless_installed("httpx2")
    workload = Workload(server_url, 200, 50, policy="keepalive", delay_ms=20)
    with WorkerProcess("httpx2") as worker:
        rounds = [worker.run_round(workload) for _ in range(3)]
    for result in rounds:
        assert (result.ok, result.errors) == (200, 0), result.error_samples
        assert result.peak_in_flight == 50


@pytest.mark.slow  # a worker per strategy, a round of 50 delayed requests at 10 in flight
@pytest.mark.parametrize(("profile", "peak"), [("tuned", 50), ("as-written", 10)])
def test_curl_cffi_as_written_keeps_ten_clients(server_url: str, profile: str, peak: int) -> None:
    _skip_unless_installed("curl-cffi")
    workload = Workload(server_url, 100, 50, policy="keepalive", delay_ms=200, profile=profile)
    with WorkerProcess("curl-cffi") as worker:
        worker.run_round(workload, server_stats=False)  # warm-up, as the sweep's
        result = worker.run_round(workload)
    assert (result.ok, result.errors) == (100, 0), result.error_samples
    assert result.peak_in_flight == peak
