"""Concurrency strategies: one module per model, all doing the identical fetch workload.

The registry is data (as in vmbench): a name maps to the module that implements it, the optional
dependencies it imports, the pip extra that installs them, the distributions whose versions decide its
result, its colour in the charts, and what it cannot do. Modules are imported lazily, so a missing library
makes its strategy *unavailable* with an install hint, never an ImportError.

The package in layers (``tests/test_layers.py`` keeps them): here the registry, beside it the CLI
(``__main__``), the contract (``base``), the workload and its verification (``workload``) and the codecs
(``http1``, ``select_client``); ``impl/`` one module per strategy and nothing else; ``shared/`` the code they
share (the models' workers, the stacks' requests); ``worker/`` the worker process and its parent side;
``probes/`` where the CPU goes; ``eras/`` an era's virtualenv and worker.

Adding a strategy is its module in ``impl/`` and its entry here. Everything else derives from the entry (the library
versions a run records, the chart colour and line, whether the default sweep runs it, where it sits in the
model x stack table) or is checked against it by a test that fails when it disagrees (the pyproject extra,
docs/strategies.md's tables).

Two axes name what a strategy is: its *model* (how requests wait: OS threads, processes, a select loop,
greenlets, asyncio's loop, uvloop, Twisted's reactor, Tornado's loop) and its *stack* (the HTTP code that
makes each request: ``codec``, our sans-IO ``strategies.http1`` over the model's own sockets, or a library
such as ``requests``). Strategies that share a model and differ in stack separate the model's cost per
request from the library's.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field

from strategies.base import AS_WRITTEN_CLOSE_REASON, AS_WRITTEN_KEEPALIVE_REASON

#: Above this, ``processes`` would start one interpreter per request slot (~25 MB each): 1000 of them
#: exhaust a small machine. Rows above it are skipped with this reason rather than run another way.
PROCESSES_MAX = 100

#: Above this, C threads each running requests in one interpreter spend the core handing the GIL around
#: instead of waiting on the network. The historical reason for the cap, measured on 2026-11-24 (commit
#: 65cb9e7, before the cap existed; no run makes these rows now: they are skipped) on the c10k workload (N = C,
#: close, the worker pinned to one core as in the sweep): at C=10 000 (5 s delay) the ``threads`` round had not
#: ended after 65 s (its deadline then) and ``asyncio-executor``'s took 59 s with 2 642 requests timed out in
#: its queue (3.6 ms of CPU per request, at most 6 719 in flight); unpinned, ``threads`` took 48 s with a 3 s
#: delay, 6.8 ms of CPU per request against 0.76 ms at C=1000, never more than 5 302 in flight; at C=3000
#: (1 s) 3.5 ms and 1 186. The model itself holds 10 000: ``threads-raw`` (our codec in the same pool,
#: 256 KiB stacks) had all 10 000 in flight, 0 errors, 6.8 s for the 5 s ideal, 267 MiB. Today's figures at
#: and below the cap, and threads-raw's at 10 000, are made by the c10k run (``--workloads c10k``:
#: results/c10k/REPORT.md). Rows above are skipped with this reason, not run for minutes.
REQUESTS_THREADS_MAX = 1000
REQUESTS_THREADS_REASON = (
    f"C threads running requests: above C={REQUESTS_THREADS_MAX} they hand the GIL around instead of waiting "
    "(measured on 2026-11-24 at C=10 000, N=C, 5 s delay, pinned: threads had not finished after 65 s, "
    "asyncio-executor took 59 s with 2 642 requests timed out in its queue and at most 6 719 in flight; at "
    "C=3000, 3.5 ms of CPU per request against 0.76 ms at 1000); threads-raw, the same pool on our codec, "
    "holds 10 000"
)

#: httpx's pool (httpcore 1.0.9's ``AsyncConnectionPool._assign_requests_to_connections``) scans every
#: connection each time a request is added or removed, so its CPU per request grows with C. The historical
#: reason for the cap, measured on 2026-11-24 (commit 88d586e) on the c10k workload (N = C, close, pinned):
#: 1.9 ms at C=1000 and 3.6 ms at 3000 (0.9-1.1 ms at C=10), and at C=10 000 the round had not ended after
#: 65 s (its deadline then). httpx is opt-in: ``--strategies all --workloads c10k`` makes today's rows at and
#: below the cap. Rows above are skipped with this reason.
HTTPX_MAX = 3000

#: niquests' urllib3-future, installed from its wheel, copies itself over urllib3 at every interpreter start (a
#: .pth hook), so requests and every strategy on it would run on the fork. Built from source with this
#: variable it installs as ``urllib3_future`` only, beside urllib3 (its README's "cohabitation mode").
NIQUESTS_INSTALL = "URLLIB3_NO_OVERRIDE=1 pip install --no-binary=urllib3-future 'concbench[niquests]'"

#: ``select.select`` cannot watch a descriptor >= FD_SETSIZE (1024). A worker holds ~20 descriptors of its
#: own (stdio, pipes, the interpreter's), so the select client can keep at most this many sockets open.
SELECT_MAX = 1000


#: How requests wait, in the order the charts and tables list them.
MODELS = ("sequential", "threads", "processes", "select", "greenlets", "asyncio", "uvloop", "trio", "twisted",
          "tornado")
#: The stack of strategies that speak HTTP through ``strategies.http1`` over the model's own sockets.
CODEC = "codec"


@dataclass(frozen=True)
class StrategySpec:
    name: str
    #: Its module's dotted path (``strategies.impl.NAME``), imported only when the strategy runs.
    module: str
    #: One line saying what it is, as ``python -m strategies list`` prints it (a row's ``summary`` is its
    #: statistics, a different thing).
    description: str
    requires: tuple[str, ...] = ()
    extra: str | None = None
    #: Distributions whose versions decide its result: recorded in every run's JSON.
    libraries: tuple[str, ...] = ()
    #: Its colour in every chart, fixed here so adding a strategy recolours no other; a family of models
    #: shares a hue (greens: greenlets, reds: asyncio's loop, blues: OS threads and processes, purples:
    #: Twisted's reactor, oranges: Tornado's loop, cyan: uvloop's, browns: our select/epoll loop, olive:
    #: trio's). A library on another's model takes that model's hue (niquests: threads' blue; niquests-async,
    #: pyreqwest, curl-cffi and httpx2: asyncio's reds and pinks).
    colour: str = "#000000"
    #: policy -> why this strategy cannot run it honestly.
    unsupported_policies: dict[str, str] = field(default_factory=dict)
    max_concurrency: int | None = None
    max_concurrency_reason: str = ""
    #: The concurrency model (one of ``MODELS``): a chart family, a row of the model x stack table.
    model: str = ""
    #: The HTTP stack: ``CODEC`` or the library that speaks HTTP for it.
    stack: str = CODEC
    #: In the default sweep (``pytest bench/ --benchmark-only``); the others run with ``--strategies all``.
    default: bool = True
    #: The connection policy its as-written recipe really has: ``close`` for every recipe but one (see
    #: ``strategies.base.AS_WRITTEN_KEEPALIVE_REASON``), so an as-written row is labelled with what it did.
    as_written_policy: str = "close"
    #: How to install what it imports, where ``pip install 'concbench[EXTRA]'`` is not the way.
    install_hint: str = ""
    #: It fetches over HTTPS (``strategies.base``'s HTTPS rules); False: the sweep skips its HTTPS rows with
    #: one line (``bench.sweep.plan.tls_skip_reason``) until it does.
    tls: bool = True

    def missing(self) -> list[str]:
        return [mod for mod in self.requires if importlib.util.find_spec(mod) is None]

    def unavailable_reason(self) -> str | None:
        missing = self.missing()
        if not missing:
            return None
        hint = self.install_hint or f"pip install 'concbench[{self.extra}]'"
        return f"missing {', '.join(missing)}: {hint}"

    def skip_reason(self, concurrency: int, policy: str, profile: str = "tuned") -> str | None:
        """Why this strategy cannot run at (concurrency, policy, profile), or None when it can."""
        return self.limit_reason(concurrency, policy, profile) or self.unavailable_reason()

    def limit_reason(self, concurrency: int, policy: str, profile: str = "tuned") -> str | None:
        """Why the model cannot run at (concurrency, policy, profile) whatever is installed (an era's recipe
        of it keeps the same limits: ``strategies.eras``), or None."""
        if profile == "as-written" and policy != self.as_written_policy:
            return AS_WRITTEN_KEEPALIVE_REASON if policy == "keepalive" else AS_WRITTEN_CLOSE_REASON.format(self.name)
        if policy in self.unsupported_policies:
            return self.unsupported_policies[policy]
        if self.max_concurrency is not None and concurrency > self.max_concurrency:
            return self.max_concurrency_reason
        return None


REGISTRY: dict[str, StrategySpec] = {
    spec.name: spec
    for spec in (
        StrategySpec(
            "sequential", "strategies.impl.sequential", "one blocking request after another (requests)",
            requires=("requests",), extra="requests",
            max_concurrency=1, max_concurrency_reason="sequential is C=1 by definition",
            libraries=("requests", "urllib3"), colour="#7f7f7f",
            model="sequential", stack="requests",
        ),
        StrategySpec(
            "threads", "strategies.impl.threads", "C threads + requests, one Session",
            requires=("requests",), extra="requests",
            max_concurrency=REQUESTS_THREADS_MAX, max_concurrency_reason=REQUESTS_THREADS_REASON,
            libraries=("requests", "urllib3"), colour="#1f77b4",
            model="threads", stack="requests",
        ),
        StrategySpec(
            "threads-raw", "strategies.impl.threads_raw", "C threads + our codec on blocking sockets, a connection each",
            libraries=("httptools",), colour="#08519c",  # threads' blue, darker
            model="threads", stack=CODEC, default=False,
        ),
        StrategySpec(
            "niquests", "strategies.impl.niquests_threads", "C threads + niquests, one Session(pool_maxsize=C)",
            requires=("niquests",), extra="niquests", install_hint=NIQUESTS_INSTALL,
            max_concurrency=REQUESTS_THREADS_MAX, max_concurrency_reason=REQUESTS_THREADS_REASON,
            libraries=("niquests", "urllib3-future"), colour="#9ecae1",  # threads' blue, pale
            model="threads", stack="niquests", default=False,
        ),
        StrategySpec(
            "processes", "strategies.impl.processes", "C child processes + requests, a Session each",
            requires=("requests",), extra="requests",
            max_concurrency=PROCESSES_MAX,
            max_concurrency_reason=f"processes: more than {PROCESSES_MAX} interpreters would exhaust memory",
            libraries=("requests", "urllib3"), colour="#aec7e8",
            model="processes", stack="requests",
        ),
        StrategySpec(
            "processes-raw", "strategies.impl.processes_raw", "C child processes + our codec on blocking sockets",
            max_concurrency=PROCESSES_MAX,
            max_concurrency_reason=f"processes: more than {PROCESSES_MAX} interpreters would exhaust memory",
            libraries=("httptools",), colour="#6baed6",  # processes' light blue, darker
            model="processes", stack=CODEC, default=False,
        ),
        StrategySpec(
            "select", "strategies.impl.select_strategy", "our callback-style client on select.select",
            max_concurrency=SELECT_MAX,
            max_concurrency_reason=f"select.select cannot watch descriptors >= FD_SETSIZE (1024); "
            f"the select client is limited to {SELECT_MAX} sockets",
            libraries=("httptools",), colour="#8c564b",
            model="select", stack=CODEC,
        ),
        StrategySpec(
            "epoll", "strategies.impl.epoll_strategy", "our callback-style client on select.epoll",
            libraries=("httptools",), colour="#c49c94",  # select's brown, lighter: the same client
            model="select", stack=CODEC, default=False,
        ),
        StrategySpec(
            "gevent", "strategies.impl.gevent_requests", "gevent.monkey.patch_all() + requests, C greenlets",
            requires=("gevent", "requests"), extra="gevent",
            libraries=("gevent", "greenlet", "requests", "urllib3"), colour="#2ca02c",
            model="greenlets", stack="requests",
        ),
        StrategySpec(
            "gevent-raw", "strategies.impl.gevent_raw", "gevent.monkey.patch_all() + our codec, C greenlets",
            requires=("gevent",), extra="gevent",
            libraries=("gevent", "greenlet", "httptools"), colour="#006d2c",  # gevent's green, darker
            model="greenlets", stack=CODEC, default=False,
        ),
        StrategySpec(
            "grequests", "strategies.impl.grequests_map", "grequests.map(requests, size=C): gevent + requests",
            requires=("grequests", "gevent", "requests"), extra="grequests",
            libraries=("grequests", "gevent", "greenlet", "requests", "urllib3"), colour="#98df8a",
            model="greenlets", stack="grequests",
        ),
        StrategySpec(
            "asyncio", "strategies.impl.asyncio_streams", "asyncio.open_connection streams, hand-written HTTP",
            libraries=("httptools",), colour="#d62728",
            model="asyncio", stack=CODEC,
        ),
        StrategySpec(
            "asyncio-executor", "strategies.impl.asyncio_executor",
            "asyncio + requests in loop.run_in_executor (ThreadPoolExecutor(C))",
            requires=("requests",), extra="requests",
            max_concurrency=REQUESTS_THREADS_MAX, max_concurrency_reason=REQUESTS_THREADS_REASON,
            libraries=("requests", "urllib3"), colour="#ff9896",
            model="asyncio", stack="requests in threads",
        ),
        StrategySpec(
            "aiohttp", "strategies.impl.aiohttp_client", "aiohttp.ClientSession, TCPConnector(limit=C)",
            requires=("aiohttp",), extra="aiohttp",
            libraries=("aiohttp",), colour="#e377c2",
            model="asyncio", stack="aiohttp",
        ),
        StrategySpec(
            "uvloop", "strategies.impl.uvloop_streams", "the asyncio strategy's code on uvloop's event loop",
            requires=("uvloop",), extra="uvloop",
            libraries=("uvloop", "httptools"), colour="#17becf",  # its own model, so its own hue
            model="uvloop", stack=CODEC, default=False,
        ),
        StrategySpec(
            "httpx", "strategies.impl.httpx_client", "httpx.AsyncClient, Limits(max_connections=C)",
            requires=("httpx",), extra="httpx",
            max_concurrency=HTTPX_MAX,
            max_concurrency_reason=f"httpx: httpcore's pool scans every connection for each request added or "
            f"removed, so CPU per request grows with C (measured on 2026-11-24: 1.9 ms at C=1000, 3.6 ms at "
            f"3000; at 10 000 the round had not ended after 65 s); at most C={HTTPX_MAX}",
            libraries=("httpx", "httpcore", "h11", "anyio"), colour="#ad494a",
            model="asyncio", stack="httpx", default=False,
        ),
        StrategySpec(
            "httpx2", "strategies.impl.httpx2_client", "httpx2.AsyncClient (httpx's fork), Limits(max_connections=C)",
            requires=("httpx2",), extra="httpx2",
            libraries=("httpx2", "httpcore2", "h11", "anyio"), colour="#843c39",  # httpx's red, darker
            model="asyncio", stack="httpx2", default=False,
        ),
        StrategySpec(
            "niquests-async", "strategies.impl.niquests_async", "niquests.AsyncSession(pool_maxsize=C)",
            requires=("niquests",), extra="niquests", install_hint=NIQUESTS_INSTALL,
            libraries=("niquests", "urllib3-future"), colour="#f7b6d2",  # aiohttp's pink, lighter
            model="asyncio", stack="niquests", default=False,
        ),
        StrategySpec(
            "pyreqwest", "strategies.impl.pyreqwest_client",
            "pyreqwest's async Client (Rust reqwest/hyper), max_connections=C",
            requires=("pyreqwest",), extra="pyreqwest",
            libraries=("pyreqwest",), colour="#e7969c",  # asyncio's red, pale
            model="asyncio", stack="pyreqwest", default=False,
        ),
        StrategySpec(
            "curl-cffi", "strategies.impl.curl_cffi_client", "curl_cffi.AsyncSession(max_clients=C) (libcurl)",
            requires=("curl_cffi",), extra="curl-cffi",
            libraries=("curl_cffi",), colour="#7b4173",  # aiohttp's pink, dark
            model="asyncio", stack="curl-cffi", default=False, as_written_policy="keepalive",
        ),
        StrategySpec(
            "trio-raw", "strategies.impl.trio_raw", "our sans-IO codec on trio's streams, C tasks, a connection each",
            requires=("trio",), extra="trio",
            libraries=("trio", "httptools"), colour="#bcbd22",  # its own model, so its own hue
            model="trio", stack=CODEC, default=False,
        ),
        StrategySpec(
            "twisted", "strategies.impl.twisted_agent", "twisted.web.client.Agent, C worker coroutines",
            requires=("twisted",), extra="twisted",
            libraries=("Twisted",), colour="#9467bd",
            model="twisted", stack="Agent",
        ),
        StrategySpec(
            "twisted-raw", "strategies.impl.twisted_raw",
            "our sans-IO HTTP on a Twisted Protocol per connection, C worker coroutines",
            requires=("twisted",), extra="twisted",
            libraries=("Twisted", "httptools"), colour="#c5b0d5",  # twisted's purple, lighter
            model="twisted", stack=CODEC, default=False,
        ),
        StrategySpec(
            "treq", "strategies.impl.treq_client", "treq.request on HTTPConnectionPool(maxPersistentPerHost=C)",
            requires=("treq", "twisted"), extra="treq",
            libraries=("treq", "Twisted"), colour="#6a3d9a",  # twisted's purple, darker
            model="twisted", stack="treq", default=False, as_written_policy="keepalive",
        ),
        StrategySpec(
            "tornado", "strategies.impl.tornado_client", "tornado AsyncHTTPClient(max_clients=C)",
            requires=("tornado",), extra="tornado",
            unsupported_policies={
                "keepalive": "tornado's simple_httpclient opens a new connection per request "
                "(no keep-alive); the curl client would measure libcurl, not tornado",
            },
            libraries=("tornado",), colour="#ff7f0e",
            model="tornado", stack="simple_httpclient",
        ),
        StrategySpec(
            "tornado-raw", "strategies.impl.tornado_raw",
            "our sans-IO HTTP on tornado's TCPClient/IOStream, C admission tasks",
            requires=("tornado",), extra="tornado",
            libraries=("tornado", "httptools"), colour="#ffbb78",  # tornado's orange, lighter
            model="tornado", stack=CODEC, default=False,
        ),
    )
}

#: The strategies ``pytest bench/ --benchmark-only`` runs (the tuned profile) when ``--strategies`` is not given.
DEFAULT_STRATEGIES = tuple(name for name, spec in REGISTRY.items() if spec.default)
#: The choices of 2026 (issue 19): trio, today's fast clients and httpx's fork. Opt-in: ``--strategies 2026``
#: (their rows beside the default ones: ``--strategies default,2026``).
STRATEGIES_2026 = ("trio-raw", "niquests", "niquests-async", "pyreqwest", "curl-cffi", "httpx2")
#: Names ``--strategies`` accepts for a set: ``default`` as above, ``all`` every registered strategy,
#: ``2026`` the choices of 2026.
STRATEGY_SETS = {"default": DEFAULT_STRATEGIES, "all": tuple(REGISTRY), "2026": STRATEGIES_2026}
