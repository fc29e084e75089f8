"""Concurrency strategies: one module per model, all doing the identical fetch workload.

The registry is data (as in vmbench): a name maps to the module that implements it, the optional
dependencies it imports, the pip extra that installs them, the distributions whose versions decide its
result, its colour in the charts, and what it cannot do. Modules are imported lazily, so a missing library
makes its strategy *unavailable* with an install hint, never an ImportError.

Adding a strategy is its module and its entry here. Everything else derives from the entry (the library
versions a run records, the chart colour) or is checked against it by a test that fails when it
disagrees (the pyproject extra, the README's tables).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field

from strategies.base import AS_WRITTEN_KEEPALIVE_REASON

#: Above this, ``processes`` would start one interpreter per request slot (~25 MB each): 1000 of them
#: exhaust a small machine. Rows above it are skipped with this reason rather than run another way.
PROCESSES_MAX = 100

#: ``select.select`` cannot watch a descriptor >= FD_SETSIZE (1024). A worker holds ~20 descriptors of its
#: own (stdio, pipes, the interpreter's), so the select client can keep at most this many sockets open.
SELECT_MAX = 1000


@dataclass(frozen=True)
class StrategySpec:
    name: str
    module: str
    summary: str
    requires: tuple[str, ...] = ()
    extra: str | None = None
    #: Distributions whose versions decide its result: recorded in every run's JSON.
    libraries: tuple[str, ...] = ()
    #: Its colour in every chart, fixed here so adding a strategy recolours no other; a family of models
    #: shares a hue (greens: greenlets, reds: asyncio's loop, blues: OS threads and processes).
    colour: str = "#000000"
    #: policy -> why this strategy cannot run it honestly.
    unsupported_policies: dict[str, str] = field(default_factory=dict)
    max_concurrency: int | None = None
    max_concurrency_reason: str = ""

    def missing(self) -> list[str]:
        return [mod for mod in self.requires if importlib.util.find_spec(mod) is None]

    def unavailable_reason(self) -> str | None:
        missing = self.missing()
        if not missing:
            return None
        return f"missing {', '.join(missing)}: pip install 'concbench[{self.extra}]'"

    def skip_reason(self, concurrency: int, policy: str, profile: str = "tuned") -> str | None:
        """Why this strategy cannot run at (concurrency, policy, profile), or None when it can."""
        if profile == "as-written" and policy == "keepalive":
            return AS_WRITTEN_KEEPALIVE_REASON
        if policy in self.unsupported_policies:
            return self.unsupported_policies[policy]
        if self.max_concurrency is not None and concurrency > self.max_concurrency:
            return self.max_concurrency_reason
        return self.unavailable_reason()


REGISTRY: dict[str, StrategySpec] = {
    spec.name: spec
    for spec in (
        StrategySpec(
            "sequential", "strategies.sequential", "one blocking request after another (requests)",
            requires=("requests",), extra="requests",
            max_concurrency=1, max_concurrency_reason="sequential is C=1 by definition",
            libraries=("requests", "urllib3"), colour="#7f7f7f",
        ),
        StrategySpec(
            "threads", "strategies.threads", "ThreadPoolExecutor(C) + requests",
            requires=("requests",), extra="requests",
            libraries=("requests", "urllib3"), colour="#1f77b4",
        ),
        StrategySpec(
            "processes", "strategies.processes", "ProcessPoolExecutor(C) + requests",
            requires=("requests",), extra="requests",
            max_concurrency=PROCESSES_MAX,
            max_concurrency_reason=f"processes: more than {PROCESSES_MAX} interpreters would exhaust memory",
            libraries=("requests", "urllib3"), colour="#aec7e8",
        ),
        StrategySpec(
            "select", "strategies.select_strategy", "our callback-style client on select.select",
            max_concurrency=SELECT_MAX,
            max_concurrency_reason=f"select.select cannot watch descriptors >= FD_SETSIZE (1024); "
            f"the select client is limited to {SELECT_MAX} sockets",
            libraries=("httptools",), colour="#8c564b",
        ),
        StrategySpec(
            "gevent", "strategies.gevent_requests", "gevent.monkey.patch_all() + requests, gevent Pool(C)",
            requires=("gevent", "requests"), extra="gevent",
            libraries=("gevent", "greenlet", "requests", "urllib3"), colour="#2ca02c",
        ),
        StrategySpec(
            "grequests", "strategies.grequests_map", "grequests.map(requests, size=C): gevent + requests",
            requires=("grequests", "gevent", "requests"), extra="grequests",
            libraries=("grequests", "gevent", "greenlet", "requests", "urllib3"), colour="#98df8a",
        ),
        StrategySpec(
            "asyncio", "strategies.asyncio_streams", "asyncio.open_connection streams, hand-written HTTP",
            libraries=("httptools",), colour="#d62728",
        ),
        StrategySpec(
            "asyncio-executor", "strategies.asyncio_executor",
            "asyncio + requests in loop.run_in_executor (ThreadPoolExecutor(C))",
            requires=("requests",), extra="requests",
            libraries=("requests", "urllib3"), colour="#ff9896",
        ),
        StrategySpec(
            "aiohttp", "strategies.aiohttp_client", "aiohttp.ClientSession, TCPConnector(limit=C)",
            requires=("aiohttp",), extra="aiohttp",
            libraries=("aiohttp",), colour="#e377c2",
        ),
        StrategySpec(
            "twisted", "strategies.twisted_agent", "twisted.web.client.Agent, DeferredSemaphore(C)",
            requires=("twisted",), extra="twisted",
            libraries=("Twisted",), colour="#9467bd",
        ),
        StrategySpec(
            "tornado", "strategies.tornado_client", "tornado AsyncHTTPClient(max_clients=C)",
            requires=("tornado",), extra="tornado",
            unsupported_policies={
                "keepalive": "tornado's simple_httpclient opens a new connection per request "
                "(no keep-alive); the curl client would measure libcurl, not tornado",
            },
            libraries=("tornado",), colour="#ff7f0e",
        ),
    )
}
