"""bench.sweep.plan: which cases the sweep runs for each workload, profile and option."""

from __future__ import annotations

import pytest

from bench.sweep.plan import AS_WRITTEN_MAX_C, CLAIM_STRATEGIES, Case, Plan, parse_strategies
from strategies import DEFAULT_STRATEGIES, REGISTRY


def _by_profile(cases: list[Case], profile: str) -> list[Case]:
    return [case for case in cases if case.profile == profile]


def test_default_plan_runs_as_written_only_where_the_claim_is_judged() -> None:
    plan = Plan()
    assert _by_profile(plan.cases("throughput"), "as-written") == []
    assert _by_profile(plan.cases("payload"), "as-written") == []
    assert _by_profile(plan.cases("claim"), "tuned") == []
    written = _by_profile(plan.cases("latency"), "as-written")
    assert {case.strategy for case in written} == set(CLAIM_STRATEGIES)
    assert max(case.concurrency for case in written) == AS_WRITTEN_MAX_C
    tuned = _by_profile(plan.cases("latency"), "tuned")
    assert {case.strategy for case in tuned} == set(DEFAULT_STRATEGIES)
    assert max(case.concurrency for case in tuned) == 1000


def test_claim_workload_fetches_c_urls_at_once() -> None:
    plan = Plan()
    cases = [case for case in plan.cases("claim") if plan.skip_reason(case) is None]
    assert sorted({case.concurrency for case in cases}) == [10, 100]
    for case in cases:
        workload = plan.workload("claim", "http://127.0.0.1:1/", case)
        assert (workload.requests, workload.delay_ms, workload.profile) == (case.concurrency, 200, "as-written")


def test_every_strategy_gets_the_same_workload_in_a_cell() -> None:
    plan = Plan()
    for name in ("latency", "claim", "throughput", "payload"):
        seen: dict[tuple[str, str, int], object] = {}
        for case in (case for case in plan.cases(name) if plan.skip_reason(case) is None):
            workload = plan.workload(name, "http://127.0.0.1:1/", case)
            assert workload.requests >= workload.concurrency
            assert seen.setdefault((case.profile, case.policy, case.concurrency), workload) == workload


def test_options_given_apply_to_both_profiles() -> None:
    plan = Plan(concurrency=(10, 1000), strategies=("threads",), workloads=("latency",))
    cases = plan.cases("latency")
    assert {(case.profile, case.concurrency) for case in cases} == {
        (profile, c) for profile in ("tuned", "as-written") for c in (10, 1000)}
    assert plan.cases("throughput") == []


def test_as_written_keepalive_is_a_skip_with_its_reason() -> None:
    plan = Plan()
    keepalive = [c for c in _by_profile(plan.cases("latency"), "as-written") if c.policy == "keepalive"]
    assert keepalive
    assert all("new connection per request" in (plan.skip_reason(case) or "") for case in keepalive)


def test_quick_plan_is_the_latency_and_throughput_workloads_at_10_and_100() -> None:
    plan = Plan(quick=True)
    assert plan.workload_names == ("latency", "throughput")
    assert plan.cases("payload") == []
    levels = {case.concurrency for case in plan.cases("latency") if case.strategy != "sequential"}
    assert levels == {10, 100}
    assert Plan(quick=True, workloads=("payload",)).cases("payload")


def test_case_ids_name_strategy_profile_policy_and_level() -> None:
    assert Case("gevent", "as-written", "close", 100).id == "gevent-as-written-close-c100"


def test_strategy_sets_expand_in_order_each_name_once() -> None:
    assert parse_strategies("all") == tuple(REGISTRY)
    assert parse_strategies("default") == DEFAULT_STRATEGIES
    assert parse_strategies("asyncio,default") == ("asyncio", *(n for n in DEFAULT_STRATEGIES if n != "asyncio"))
    with pytest.raises(ValueError, match="unknown nope"):
        parse_strategies("nope")
    assert Plan().strategy_names("tuned") == DEFAULT_STRATEGIES
