from __future__ import annotations

import math

import pytest

from local_server.payload import work_body
from strategies.base import ClientConfig, Outcome
from strategies.workload import (
    POST_BODY,
    Workload,
    config_from_dict,
    config_to_dict,
    latency_summary,
    percentile,
    verify,
)

BASE = "http://127.0.0.1:9/"


def _good(url_id: int, size: int = 64) -> Outcome:
    return Outcome(200, work_body(url_id, size), None, 0.001)


def test_urls_are_the_work_route_with_one_id_each() -> None:
    urls = Workload("http://127.0.0.1:9", 3, 2, delay_ms=50, size=10).urls()
    assert urls == [f"http://127.0.0.1:9/work?delay_ms=50&size=10&id={k}" for k in range(3)]


def test_explicit_paths_replace_the_generated_urls() -> None:
    workload = Workload.from_paths(BASE, ["/fault/reset", "work?id=1&size=8"], 2)
    assert workload.requests == 2
    assert workload.urls() == [BASE + "fault/reset", BASE + "work?id=1&size=8"]
    with pytest.raises(ValueError, match="requests=3 but 1 paths given"):
        Workload(BASE, 3, 1, paths=("a",))


def test_client_config_and_its_json_round_trip() -> None:
    config = Workload(BASE, 1, 5, policy="close", method="POST", timeout_s=2.0).client_config()
    assert config == ClientConfig(5, "close", 2.0, "POST", POST_BODY)
    assert config_from_dict(config_to_dict(config)) == config
    written = Workload(BASE, 1, 5, policy="close", profile="as-written").client_config()
    assert written.as_written
    assert config_from_dict(config_to_dict(written)) == written


def test_workload_json_round_trip() -> None:
    workload = Workload.from_paths(BASE, ["work?id=1"], 1, timeout_s=0.5)
    assert Workload.from_dict(workload.to_dict()) == workload


@pytest.mark.parametrize(("bad", "said"), [
    ({"concurrency": 0}, "concurrency must be >= 1"), ({"policy": "sometimes"}, "policy must be one of"),
    ({"method": "PUT"}, "method must be GET or POST"), ({"requests": -1}, "requests must be >= 0"),
    ({"timeout_s": 0}, "timeout_s > 0"), ({"profile": "optimised"}, "profile must be one of")])
def test_bad_workloads_are_refused(bad: dict, said: str) -> None:
    with pytest.raises(ValueError, match=said):
        Workload(**{"base_url": BASE, "requests": 1, "concurrency": 1, **bad})


def test_deadline_covers_every_batch_timing_out() -> None:
    workload = Workload(BASE, 10, 3, timeout_s=2.0, delay_ms=500)
    assert workload.deadline_s(margin_s=0) == 4 * 2.5


def test_verify_all_good() -> None:
    urls = Workload(BASE, 3, 1).urls()
    result = verify(urls, [_good(k) for k in range(3)])
    assert (result.ok, result.errors, result.error_kinds, result.error_samples) == (3, 0, {}, [])


def test_verify_judges_each_slot_against_its_own_url() -> None:
    urls = [*Workload(BASE, 6, 1).urls(), BASE + "fault/reset"]
    outcomes = [
        _good(0),
        _good(2),  # right status, another URL's body: a mixed-up response
        Outcome(500, work_body(2, 64), None, 0.001),  # wrong status
        Outcome(200, work_body(3, 64)[:-1], None, 0.001),  # truncated body
        Outcome.failed(ConnectionResetError("reset by peer"), 0.0),
        Outcome.failed("TimeoutError: no response", 0.0),
        Outcome(200, b"whatever", None, 0.001),  # a URL that promises nothing
    ]
    result = verify(urls, outcomes)
    assert result.ok == 1
    assert result.errors == 6
    assert result.error_kinds == {"body": 2, "status": 1, "ConnectionResetError": 1, "TimeoutError": 1,
                                  "unexpected": 1}
    assert len(result.error_samples) == 5
    assert "id=1" in result.error_samples[0]


def test_verify_counts_missing_and_extra_slots() -> None:
    urls = Workload(BASE, 4, 1).urls()
    short = verify(urls, [_good(0)])
    assert (short.ok, short.errors, short.error_kinds) == (1, 3, {"missing": 3})
    long = verify(urls[:1], [_good(0), _good(1)])
    assert (long.ok, long.errors, long.error_kinds) == (1, 1, {"extra": 1})


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert [percentile(values, q) for q in (50, 90, 99, 100)] == [50, 90, 99, 100]
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 50))


def test_latency_summary_in_ms() -> None:
    summary = latency_summary([0.001 * k for k in range(1, 11)])
    assert summary == pytest.approx({"p50": 5.0, "p90": 9.0, "p99": 10.0, "max": 10.0})
    assert latency_summary([]) == {"p50": None, "p90": None, "p99": None, "max": None}
