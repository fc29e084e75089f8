"""What the sweep runs: the workloads, their round sizes, the cells, and why each default is what it is.

Rules this module keeps:
- a *cell* is (strategy, policy, concurrency) within one workload; the three bench tests are parametrized
  with ``Plan.cells(workload)``, so pytest's test ids name strategy, policy and C (``test_latency[gevent-
  keepalive-c100]``) and its progress lines say where the sweep is;
- every strategy at a level gets the identical ``Workload``: N and the delay depend on the workload and C
  only, never on the strategy;
- ``sequential`` is C=1 by definition: it has one cell per workload x policy, at C=1, as the reference;
- a cell that cannot run honestly has a ``skip_reason`` (registry limits, a missing library, the select
  server backend near FD_SETSIZE); the sweep records it as a skipped row and a pytest skip, never a crash;
- no pytest import: the plan is plain data, built from the command-line options by ``bench/conftest.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from strategies import REGISTRY, SELECT_MAX
from strategies.base import POLICIES
from strategies.workload import Workload

WORKLOAD_NAMES = ("latency", "throughput", "payload")

#: 1 (no concurrency), 10 (the tutorials' scale), 100, 1000 (where models separate, near FD_SETSIZE).
DEFAULT_CONCURRENCY = (1, 10, 100, 1000)
#: Mann-Whitney with n = 5 rounds per side can reach p = 0.008 (n = 3 only 0.1, never significant at 0.05);
#: 5 rounds is the smallest count where "significant at 0.05" is possible with margin, and it fits the budget.
DEFAULT_ROUNDS = 5
#: One warm-up round: first-round effects (connection pools filling, lazy imports, caches) are real but
#: belong to cold start, which is reported separately.
DEFAULT_WARMUP = 1

#: --quick: a smoke-sized sweep for a ~2 minute look; too few rounds for significance, which REPORT.md says.
QUICK_CONCURRENCY = (1, 10, 100)
QUICK_ROUNDS = 3
QUICK_WARMUP = 0


@dataclass(frozen=True)
class WorkloadSpec:
    name: str
    delay_ms: int
    size: int

    def requests(self, concurrency: int, quick: bool) -> int:
        """N for one round at this C (the same for every strategy); N >= C always, so C can be reached."""
        if self.name == "latency":
            # N = 6 x C keeps the ideal round at 6 x delay = 0.3 s whatever C: long enough to time well
            # (perf_counter in the worker), short enough for the 10-minute budget (10 x C cost 2 more
            # minutes). Capped at 2000 (ideal 2 x delay at C=1000): there every model is CPU-bound (1000
            # requests cost 0.1-1 s of client CPU, far above the 50 ms delay), and 6000 requests per round
            # would cost minutes per row. --quick: 4 x C, capped at 400.
            return min(4 * concurrency, max(400, concurrency)) if quick \
                else min(6 * concurrency, max(2000, concurrency))
        if self.name == "throughput":
            # A fixed N: 800 requests take ~0.07 s for the fastest keep-alive clients (timed by the worker
            # with perf_counter, so still precise) and ~0.6 s for requests-based ones; "a few thousand" would
            # triple the sweep's longest rows without changing their per-request figures.
            return max(concurrency, 300 if quick else 800)
        # payload: 200 x 256 KiB = 50 MiB per round takes 0.1-0.5 s depending on the client.
        return max(concurrency, 50 if quick else 200)


WORKLOADS = {
    # 50 ms: long against loopback's ~50 µs, so waiting dominates and concurrency is what pays off.
    "latency": WorkloadSpec("latency", delay_ms=50, size=64),
    # no delay, 64-byte bodies: the per-request CPU cost of each model, nothing else.
    "throughput": WorkloadSpec("throughput", delay_ms=0, size=64),
    # 256 KiB: large enough that copying and buffering, not per-request overhead, dominate.
    "payload": WorkloadSpec("payload", delay_ms=0, size=256 * 1024),
}


@dataclass(frozen=True)
class Cell:
    strategy: str
    policy: str
    concurrency: int

    @property
    def id(self) -> str:
        return f"{self.strategy}-{self.policy}-c{self.concurrency}"


@dataclass(frozen=True)
class Plan:
    concurrency: tuple[int, ...] = DEFAULT_CONCURRENCY
    strategies: tuple[str, ...] = tuple(REGISTRY)
    workloads: tuple[str, ...] = WORKLOAD_NAMES
    policies: tuple[str, ...] = POLICIES
    rounds: int = DEFAULT_ROUNDS
    warmup_rounds: int = DEFAULT_WARMUP
    requests: int | None = None
    quick: bool = False
    #: --benchmark-disable (CI smoke): pytest-benchmark calls the target once, so one round per cell.
    benchmark_disabled: bool = False
    server_backend: str = "epoll"
    results_dir: Path = Path("results")

    def cells(self, workload: str) -> list[Cell]:
        if workload not in self.workloads:
            return []
        out = []
        for policy in self.policies:
            if "sequential" in self.strategies:
                out.append(Cell("sequential", policy, 1))  # the reference, whatever --concurrency says
            for c in self.concurrency:
                out += [Cell(name, policy, c) for name in self.strategies if name != "sequential"]
        return out

    def workload(self, name: str, base_url: str, cell: Cell) -> Workload:
        spec = WORKLOADS[name]
        n = self.requests if self.requests is not None else spec.requests(cell.concurrency, self.quick)
        return Workload(base_url, n, cell.concurrency, cell.policy, spec.delay_ms, spec.size)

    def skip_reason(self, cell: Cell) -> str | None:
        spec = REGISTRY[cell.strategy]
        reason = spec.skip_reason(cell.concurrency, cell.policy)
        if reason:
            return reason
        if self.server_backend == "select" and cell.concurrency > SELECT_MAX:
            return (f"the select server backend cannot watch descriptors >= FD_SETSIZE (1024): "
                    f"C={cell.concurrency} connections would exceed it")
        return None

    def options(self) -> dict[str, object]:
        """The plan as recorded in the results JSON."""
        return {"concurrency": list(self.concurrency), "strategies": list(self.strategies),
                "workloads": list(self.workloads), "policies": list(self.policies), "rounds": self.rounds,
                "warmup_rounds": self.warmup_rounds, "requests": self.requests, "quick": self.quick,
                "benchmark_disabled": self.benchmark_disabled,
                "server_backend": self.server_backend}


def parse_list(text: str, allowed: tuple[str, ...] | None, what: str) -> tuple[str, ...]:
    items = tuple(part.strip() for part in text.split(",") if part.strip())
    if not items:
        raise ValueError(f"--{what}: empty list")
    unknown = [item for item in items if allowed is not None and item not in allowed]
    if unknown:
        raise ValueError(f"--{what}: unknown {', '.join(unknown)} (choose from {', '.join(allowed or ())})")
    return items


def parse_levels(text: str) -> tuple[int, ...]:
    try:
        levels = tuple(sorted({int(part) for part in parse_list(text, None, "concurrency")}))
    except ValueError as exc:
        raise ValueError(f"--concurrency: expected integers like 1,10,100 ({exc})") from exc
    if levels[0] < 1:
        raise ValueError("--concurrency: levels must be >= 1")
    return levels
