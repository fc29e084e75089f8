"""What the sweep runs: the workloads, their round sizes, the cases, and why each default is what it is.

Rules this module keeps:
- a *case* is one row of the sweep: (strategy, profile, policy, concurrency) within one workload; the bench
  tests are parametrized with ``Plan.cases(workload)``, so pytest's test ids name all four
  (``test_latency[gevent-tuned-keepalive-c100]``) and its progress lines say where the sweep is. A *cell*
  (``bench.analysis.verdict``) is what strategies are compared within: (workload, profile, policy, concurrency);
- every strategy in a cell gets the identical ``Workload``: N, the delay and the timeout depend on the
  workload and C only, never on the strategy or the profile;
- ``sequential`` is C=1 by definition: it has one case per workload x profile x policy, at C=1;
- the ``as-written`` profile (the tutorials' recipes, library defaults kept) runs where the claim is judged:
  on the workloads whose ``WorkloadSpec.profiles`` name it, by default for the claim's strategies only
  (``CLAIM_STRATEGIES``) and at C <= ``AS_WRITTEN_MAX_C``. ``--strategies`` and ``--concurrency`` given on
  the command line apply to both profiles as written there;
- a case that cannot run honestly has a ``skip_reason`` (registry limits, a missing library, the select
  server backend near FD_SETSIZE, more descriptors than the hard RLIMIT_NOFILE allows, in the client or at
  the server); the sweep records it as a skipped row and a pytest skip, before the row runs, never a crash;
- ``--era NAME`` (``strategies.eras``) adds, beside each selected strategy, its row in that era (``S@NAME``,
  the same recipe on the era's interpreter and libraries) to the same cells, so the two are measured
  interleaved; by default it selects the claim's strategies in both profiles, at ``ERA_CONCURRENCY``, on
  ``ERA_WORKLOADS``;
- ``scheme`` (http or https) is a dimension of a row, not of the measured cell: a case's HTTPS twin is
  measured in the same cell, interleaved with it, against the bundled HTTPS server (``bench.sweep.harness``),
  and the analysis compares rows within one scheme (``bench.record.rows.CellKey``). ``--schemes`` runs every
  selected case in each scheme given; without it the default sweep adds HTTPS twins within
  ``HTTPS_SCOPE`` only (not in ``--quick``, ``--era``, ``--server-url`` or ``--link`` runs); an HTTPS case
  whose strategy cannot speak TLS yet is skipped with one line (``tls_skip_reason``);
- ``--python 3.12,3.13`` (``strategies.pythons``) adds, beside each selected strategy, its row on each of those
  interpreters (``S@py3.12``, today's worker and libraries in a virtualenv of that interpreter) to the same
  cells, measured interleaved with today's; levels, workloads and strategies stay the sweep's own;
- no pytest import: the plan is plain data, built from the command-line options by ``bench/conftest.py``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from bench.analysis.claim import MEANINGS
from bench.record.schema import Options, Scheme
from bench.record.shapes import WEB_DELAY_MS, WEB_SEED, WEB_SIZE, web_paths
from bench.sweep import netns
from local_server import fdlimit
from strategies import CODEC, DEFAULT_STRATEGIES, REGISTRY, SELECT_MAX, STRATEGY_SETS, eras, pythons, variants
from strategies.base import POLICIES, PROFILES
from strategies.workload import Workload, request_timeout_s

#: The workloads the sweep runs when ``--workloads`` is not given.
WORKLOAD_NAMES = ("latency", "claim", "throughput", "payload")
#: Opt-in workloads (``--workloads web,slow-link,c10k``): each costs minutes of its own, so the default sweep,
#: which keeps its 10-minute budget, does not run them.
OPT_IN_WORKLOADS = ("web", "slow-link", "c10k")

#: 1 (no concurrency), 10 (the tutorials' scale), 100, 1000 (where models separate, near FD_SETSIZE).
DEFAULT_CONCURRENCY = (1, 10, 100, 1000)
#: The default sweep's highest level: a run's rows above it are the C10k level's (``bench.analysis.c10k``).
DEFAULT_TOP = max(DEFAULT_CONCURRENCY)
#: The C10k level's story (``--concurrency c10k``; the c10k workload's own levels): 10 000 connections, the C10k
#: problem itself, past select's FD_SETSIZE and a default 1024-descriptor limit; 1000, the default sweep's top
#: and the last level every model reaches; 100, where the interpreter's own memory still dominates. Three
#: decades draw memory per connection against C (its fixed part fading, the per-connection part left), and
#: 1 and 10 add nothing to that story but rows.
C10K_LEVELS = (100, 1000, 10_000)
#: Names ``--concurrency`` accepts for a set of levels, alone or among numbers (``1,c10k``).
CONCURRENCY_SETS = {"default": DEFAULT_CONCURRENCY, "c10k": C10K_LEVELS}
#: 4 rounds: with Welch's t on log req/s (``bench.analysis.verdict``) they resolve a 10 % gap at a 5 % round-to-round
#: spread (t = 2.45 at 6 degrees of freedom: a 9 % half-width), and a row still imprecise after them gets more
#: (``DEFAULT_MAX_ROUNDS``); --quick's 3 still resolve a 2x gap. 5 until the HTTPS rows came: with them the
#: default sweep's estimate (``HTTPS_SCOPE``) was ~740 s, past its 10-minute budget, and one round fewer per
#: row takes a sixth of every row's time.
DEFAULT_ROUNDS = 4
#: One warm-up round: first-round effects (connection pools filling, lazy imports, caches) are real but
#: belong to cold start, which is reported separately.
DEFAULT_WARMUP = 1
#: Up to 10 rounds for a row whose 5 are not yet precise (``bench.sweep.cells``): twice the minimum halves nothing
#: but the interval's width by ~1.5x, which is what a noisy row needs to pass ±5 %; more would be the budget's.
DEFAULT_MAX_ROUNDS = 10

#: --quick: a two-minute look; its 3 rounds resolve large gaps (a cap), not small ones. C=10 and 100, where
#: the models and the as-written caps separate (C=1 is every model waiting on one request: sequential shows
#: it); the latency workload in both profiles (the claim) and throughput (the per-request cost). The claim
#: and payload workloads cost a minute more; ``--workloads`` brings them back.
QUICK_CONCURRENCY = (10, 100)
QUICK_WORKLOADS = ("latency", "throughput")
QUICK_ROUNDS = 3
QUICK_WARMUP = 0
QUICK_MAX_ROUNDS = 5

#: Every reading of the claim's members ("gevent" may be gevent+requests or grequests; "asyncio" raw streams,
#: aiohttp or requests in the default executor): the strategies the as-written profile runs by default.
#: Derived from the claim's definition (``bench.analysis.claim.MEANINGS``), so a new reading is run without a change.
CLAIM_STRATEGIES = tuple(name for names in MEANINGS.values() for name in names)
#: The as-written profile's highest default level. A capped recipe serialises a round: at C=1000 tornado's
#: 10 clients need N / 10 x delay = 2000 / 10 x 50 ms = 10 s a round and the default executor's 6 threads
#: 17 s, which alone would take a third of the 10-minute budget; the cap already shows at C=100 (10x and 17x
#: below the ideal). ``--concurrency 10,100,1000`` runs it there on purpose.
AS_WRITTEN_MAX_C = 100
#: Under --link a request's timeout grows by 3x the time its body needs when C bodies share the link: a slow
#: link must make requests slow, never failed (at 10mbit, C=100 x 256 KiB take 21 s, past the 10 s default);
#: 3x absorbs TCP's unfair shares between connections and a retransmission or two.
LINK_HEADROOM = 3.0
#: A response's status line and headers, on top of its body (the server's are ~100 bytes; TCP/IP adds ~5 %).
RESPONSE_HEAD_BYTES = 200

#: The connection schemes a row can fetch over: plain HTTP, and HTTPS against the bundled server's TLS twin.
SCHEMES = ("http", "https")


@dataclass(frozen=True)
class HttpsScope:
    """Where the default sweep (no ``--schemes``) adds a case's HTTPS twin."""

    workloads: tuple[str, ...]
    profiles: tuple[str, ...]
    concurrency: tuple[int, ...]
    strategies: tuple[str, ...]

    def covers(self, workload: str, profile: str, concurrency: int, strategy: str) -> bool:
        return (workload in self.workloads and profile in self.profiles and concurrency in self.concurrency
                and strategy in self.strategies)


#: The default sweep's HTTPS rows: the claim's members (so its verdict is judged over TLS, reading by reading)
#: and the default sweep's codec rows (the models over one HTTP code, so what TLS adds per model shows apart
#: from the libraries) on the latency workload (the claim's) and the throughput workload (the per-request
#: cost, where TLS's CPU shows), at C=10 and 100 (where the models and the caps separate), both policies (close
#: pays a handshake per request, keep-alive one per connection: their difference is the handshake's cost).
#: The tuned profile only: the as-written recipes at C=100 are capped (a round of tornado's is 10 waves) and
#: their 48 s of rounds over HTTP would cost ~70 s more over HTTPS; ``--schemes http,https`` runs every
#: selected case, as-written too, over both. Estimated from the committed default runs (503-530 s, Nov 2026):
#: these 64 rows took 95 s of rounds over HTTP, ~150 s over HTTPS (throughput x2: a full handshake per
#: request under close), ~210 s of wall time with set-up, so ~740 s in all; ``DEFAULT_ROUNDS`` 5 -> 4 takes
#: ~125 s back and the latency workload's C=1 (every model waiting on one request: sequential shows it) 34 s,
#: leaving ~580 s.
HTTPS_SCOPE = HttpsScope(
    workloads=("latency", "throughput"), profiles=("tuned",), concurrency=(10, 100),
    strategies=tuple(dict.fromkeys((*CLAIM_STRATEGIES,
                                    *(n for n in DEFAULT_STRATEGIES if REGISTRY[n].stack == CODEC)))))

#: ``--era``'s levels: C=10 and 100, where the as-written caps (tornado's 10 clients, the default executor's
#: 5 x cpus or cpus + 4 threads) show and the models separate, as --quick's. With every row twice, C=1 (one
#: request waiting, whatever the model) and C=1000 would take the era run past ten minutes.
ERA_CONCURRENCY = QUICK_CONCURRENCY
#: ``--era``'s workloads: the claim's (its scenario, and latency in both profiles) and the per-request cost
#: (throughput). Not payload: its bodies would cross the era worker's pipe as 33 MB of base64 a round.
ERA_WORKLOADS = ("latency", "claim", "throughput")


@dataclass(frozen=True)
class WorkloadSpec:
    name: str
    delay_ms: int
    size: int
    #: The profiles this workload runs (intersected with ``--profiles``).
    profiles: tuple[str, ...] = ("tuned",)
    #: Its default levels, when not the sweep's (``None``): ``--concurrency`` overrides both.
    concurrency: tuple[int, ...] | None = None
    #: Its --quick levels, when not ``concurrency`` (or, that unset, the quick sweep's).
    quick_concurrency: tuple[int, ...] | None = None
    #: The connection policies this workload runs (intersected with ``--policies``).
    policies: tuple[str, ...] = POLICIES
    #: When > 0, the delay grows with C: ``max(delay_ms, C x this)`` (``delay``).
    delay_per_connection_ms: float = 0.0

    def delay(self, concurrency: int) -> int:
        """The server-side delay per request at this C, in ms (the same for every strategy)."""
        return max(self.delay_ms, math.ceil(concurrency * self.delay_per_connection_ms))
    #: Set: each request's delay and size are drawn from ``seed`` (``bench.record.shapes.web_request``), and
    #: ``delay_ms`` and ``size`` above are only the distributions' medians, recorded as such.
    seed: int | None = None
    #: Set: every body is paced at this many kbit/s (``local_server.pacing``).
    rate_kbps: int = 0

    def requests(self, concurrency: int, quick: bool) -> int:
        """N for one round at this C (the same for every strategy); N >= C always, so C can be reached."""
        if self.name == "latency":
            # N = 3 x C keeps the ideal round at 3 x delay = 0.15 s whatever C: long enough to time well
            # (perf_counter in the worker), short enough for the 10-minute budget with both profiles (4 x C
            # cost a minute more). Capped at 1000 (one wave at C=1000): there every model is CPU-bound (1000
            # requests cost 0.1-1 s of client CPU, far above the 50 ms delay). --quick: 2 x C.
            return min((2 if quick else 3) * concurrency, max(1000, concurrency))
        if self.name in ("claim", "c10k"):
            # The tutorials' scenario, and the C10k one: C URLs, all fetched at once, one wave (each of C
            # clients asks once); the ideal is one delay.
            return concurrency
        if self.name == "throughput":
            # A fixed N: 500 requests take ~0.04 s for the fastest keep-alive clients (timed by the worker
            # with perf_counter, so still precise) and ~0.4 s for requests-based ones; "a few thousand" would
            # multiply the sweep's longest rows without changing their per-request figures.
            return max(concurrency, 200 if quick else 500)
        if self.name == "web":
            # N = 10 x C, at most 2000: several waves, so a slot freed by a short request is refilled while
            # a long one holds another (what the heavy tail is about), and at least 10 requests (C=1) to
            # 100 (C=10) per p99. Ideal rounds (seed 1): 1.8 s (C=1), 2.2 s (10), 2.8 s (100), 1.9 s
            # (1000: the longest draws set it). --quick: 5 x C, at most 1000.
            return max(concurrency, min((5 if quick else 10) * concurrency, 1000 if quick else 2000))
        if self.name == "slow-link":
            # One wave of C bodies trickling at once (what the workload is about); the ideal is one
            # transfer, 64 KiB at 256 kbit/s = 2.05 s, whatever C.
            return concurrency
        # payload: 100 x 256 KiB = 25 MiB per round takes 0.05-0.3 s depending on the client.
        return max(concurrency, 50 if quick else 100)

    def paths(self, requests: int) -> tuple[str, ...]:
        """Explicit per-request paths when requests differ (``seed``); () for the uniform /work URLs."""
        return web_paths(self.seed, requests, self.rate_kbps) if self.seed is not None else ()

    def recorded(self) -> dict[str, int]:
        """What a row records beyond delay and size, so its ideal can be recomputed (``bench.record.shapes``)."""
        return {**({"seed": self.seed} if self.seed is not None else {}),
                **({"rate_kbps": self.rate_kbps} if self.rate_kbps else {})}


WORKLOADS = {
    # 50 ms: long against loopback's ~50 µs, so waiting dominates and concurrency is what pays off. From C=10:
    # at C=1 every model waits on one request, which the sequential reference row (C=1) shows; its 34 s of
    # the budget went to the HTTPS rows (``HTTPS_SCOPE``); ``--concurrency 1,10,100,1000`` runs it.
    "latency": WorkloadSpec("latency", delay_ms=50, size=64, profiles=PROFILES, concurrency=(10, 100, 1000),
                            quick_concurrency=QUICK_CONCURRENCY),
    # The tutorials' conditions: they fetched real sites (hundreds of ms away), all URLs at once, with the
    # recipes as written. 10 and 100: the levels where their caps (tornado 10, executor 6) decide.
    "claim": WorkloadSpec("claim", delay_ms=200, size=64, profiles=("as-written",), concurrency=(10, 100)),
    # no delay, 64-byte bodies: the per-request CPU cost of each model, nothing else. Up to C=100: with no
    # delay the server answers each request in the loop turn that read it, so there is no waiting for a
    # higher C to overlap, and C=1000 (1000 connections or tasks for 1000 requests) cost 67 s of the budget.
    "throughput": WorkloadSpec("throughput", delay_ms=0, size=64, concurrency=(1, 10, 100)),
    # 256 KiB: large enough that copying and buffering, not per-request overhead, dominate. Up to C=100: at
    # C=1000 a round is 1000 bodies (256 MB), which cost 126 s of the budget; --concurrency adds it back.
    "payload": WorkloadSpec("payload", delay_ms=0, size=256 * 1024, concurrency=(1, 10, 100)),
    # Opt-in. Web-shaped: heavy-tailed delays and sizes per request (``bench.record.shapes``: median 100 ms, p99
    # 1 s; median 16 KiB, p99 256 KiB). 10 to 1000 (C=1 is sequential's): where a tail that holds one
    # slot while the others turn over separates the models that refill slots promptly.
    "web": WorkloadSpec("web", delay_ms=WEB_DELAY_MS.median, size=WEB_SIZE.median, concurrency=(10, 100, 1000),
                        seed=WEB_SEED),
    # Opt-in. Many slow bodies at once: 64 KiB at 256 kbit/s (a poor mobile link), 2.05 s each, no delay:
    # the client holds C connections that each deliver ~1600 bytes every 50 ms. Up to C=1000.
    "slow-link": WorkloadSpec("slow-link", delay_ms=0, size=64 * 1024, concurrency=(10, 100, 1000),
                              rate_kbps=256),
    # Opt-in (``--workloads c10k``): C connections all in flight at once, N = C. The delay is C x 0.5 ms (50 ms,
    # 500 ms, 5 s), so the offered rate C / delay is the same 2000 req/s at every level: only the number of
    # connections carrying it grows, which is the C10k question. The delay must outlast the time a client
    # takes to send C requests, or the server never sees C in flight: at C=10 000, gevent+requests peaked at
    # 3 673 with a 1 s delay and at 8 375 with 3 s (~0.3 ms of CPU to issue a request, more on a shared
    # core); 5 s leaves it room, and a round at C=10 000 stays near 5-12 s. Close only: with one request per
    # connection a round is C connects either way, while keep-alive would leave each strategy's pool of C
    # connections open at the server between the cell's interleaved rounds (9 x 10 000 descriptors).
    "c10k": WorkloadSpec("c10k", delay_ms=0, size=64, concurrency=C10K_LEVELS, policies=("close",),
                         delay_per_connection_ms=0.5),
}


@dataclass(frozen=True)
class Case:
    strategy: str
    profile: str
    policy: str
    concurrency: int

    #: ``http`` or ``https`` (``SCHEMES``): an HTTPS case's id ends in ``-https``, an HTTP case's id is unchanged.
    scheme: str = "http"

    @property
    def id(self) -> str:
        tail = "" if self.scheme == "http" else f"-{self.scheme}"
        return f"{self.strategy}-{self.profile}-{self.policy}-c{self.concurrency}{tail}"


@dataclass(frozen=True)
class Plan:
    #: ``None`` where the user gave no option: the per-profile and per-workload defaults apply.
    concurrency: tuple[int, ...] | None = None
    strategies: tuple[str, ...] | None = None
    workloads: tuple[str, ...] | None = None
    policies: tuple[str, ...] = POLICIES
    profiles: tuple[str, ...] = PROFILES
    rounds: int = DEFAULT_ROUNDS
    max_rounds: int = DEFAULT_MAX_ROUNDS
    warmup_rounds: int = DEFAULT_WARMUP
    requests: int | None = None
    quick: bool = False
    #: --benchmark-disable (CI smoke): pytest-benchmark calls the target once, so one round per case.
    benchmark_disabled: bool = False
    server_backend: str = "epoll"
    results_dir: Path = Path("results")
    #: Seeds the order of each cell's passes (``bench.sweep.cells``); recorded, so a run's schedule can be replayed.
    schedule_seed: int = 0
    #: ``--instructions``: an untimed callgrind pass per row after its cell (``strategies.probes.instructions``).
    instructions: bool = False
    #: ``--explain``: an untimed, profiled round per row after its cell (``strategies.probes.explain``).
    explain: bool = False
    #: ``--era``: the era whose rows run beside today's (``strategies.eras``), or None.
    era: str | None = None
    #: ``--python``: the interpreters whose rows run beside today's, as given (versions or paths).
    pythons: tuple[str, ...] = ()
    #: ``--server-url``: an external server's normalized URL (``bench.sweep.target``); None: the sweep starts one.
    server_url: str | None = None
    #: ``--link``: the server behind a veth pair shaped to this rate (tc's units, ``bench.sweep.netns``).
    link: str | None = None
    #: ``--schemes``: every case in each of these; None: HTTP, and HTTPS within ``HTTPS_SCOPE`` (``schemes_of``).
    schemes: tuple[str, ...] | None = None

    @property
    def link_bit_s(self) -> int | None:
        return netns.parse_rate(self.link) if self.link else None

    def levels(self, workload: str, profile: str) -> tuple[int, ...]:
        if self.concurrency is not None:
            return self.concurrency
        spec = WORKLOADS[workload]
        levels = ((spec.quick_concurrency or spec.concurrency or QUICK_CONCURRENCY) if self.quick else
                  (spec.concurrency or DEFAULT_CONCURRENCY))
        if self.era is not None:
            levels = tuple(c for c in levels if c in ERA_CONCURRENCY)
        return tuple(c for c in levels if profile == "tuned" or c <= AS_WRITTEN_MAX_C)

    @property
    def python_tags(self) -> tuple[str, ...]:
        """``--python``'s interpreters as their rows' tags (``py3.13``), each once."""
        return tuple(dict.fromkeys(pythons.tag_of(spec) for spec in self.pythons))

    def strategy_names(self, profile: str) -> tuple[str, ...]:
        if self.era is not None:
            names = self.strategies if self.strategies is not None else CLAIM_STRATEGIES
            return names + eras.twins(names, self.era)
        if self.strategies is not None:
            names = self.strategies
        else:
            names = DEFAULT_STRATEGIES if profile == "tuned" else CLAIM_STRATEGIES
        return names + tuple(eras.twin(name, tag) for tag in self.python_tags for name in names)

    @property
    def workload_names(self) -> tuple[str, ...]:
        if self.workloads is not None:
            return self.workloads
        if self.era is not None:
            return ERA_WORKLOADS
        return QUICK_WORKLOADS if self.quick else WORKLOAD_NAMES

    def cases(self, workload: str) -> list[Case]:
        if workload not in self.workload_names:
            return []
        out = []
        for profile in (p for p in self.profiles if p in WORKLOADS[workload].profiles):
            names = self.strategy_names(profile)
            for policy in (p for p in self.policies if p in WORKLOADS[workload].policies):
                once = [name for name in names if eras.split(name)[0] == "sequential"]
                for name in once:  # the reference, whatever the levels
                    out += [Case(name, profile, policy, 1, scheme) for scheme in self.schemes_of(workload, profile, 1, name)]
                for c in self.levels(workload, profile):
                    out += [Case(name, profile, policy, c, scheme) for name in names if name not in once
                            for scheme in self.schemes_of(workload, profile, c, name)]
        return out

    @property
    def https_by_default(self) -> bool:
        """The default sweep adds HTTPS twins (``HTTPS_SCOPE``): not a --quick look, not an era's run, not
        against a server other than the bundled one (an external one, or one behind --link, is plain HTTP)."""
        return not (self.quick or self.era is not None or self.server_url is not None or self.link is not None)

    def schemes_of(self, workload: str, profile: str, concurrency: int, strategy: str) -> tuple[str, ...]:
        """The schemes a case runs in: ``--schemes`` as given; by default HTTP, and HTTPS in ``HTTPS_SCOPE``."""
        if self.schemes is not None:
            return self.schemes
        if self.https_by_default and HTTPS_SCOPE.covers(workload, profile, concurrency, strategy):
            return SCHEMES
        return ("http",)

    def requests_per_round(self, name: str, case: Case) -> int:
        """N of ``case`` on workload ``name`` (known also for a case that cannot run, e.g. to record it)."""
        return self.requests if self.requests is not None else WORKLOADS[name].requests(case.concurrency,
                                                                                         self.quick)

    def workload(self, name: str, base_url: str, case: Case) -> Workload:
        spec = WORKLOADS[name]
        requests = self.requests_per_round(name, case)
        workload = Workload(base_url, requests, case.concurrency, case.policy, spec.delay(case.concurrency),
                            spec.size, timeout_s=request_timeout_s(case.concurrency), paths=spec.paths(requests),
                            profile=case.profile, rate_kbps=spec.rate_kbps)
        rate = self.link_bit_s
        if rate is None:
            return workload
        share_s = case.concurrency * (spec.size + RESPONSE_HEAD_BYTES) * 8 / rate  # C bodies cross the link
        return dataclasses.replace(workload, timeout_s=workload.timeout_s + LINK_HEADROOM * share_s)

    def skip_reason(self, case: Case) -> str | None:
        reason = self._strategy_skip_reason(case.strategy, case)
        if reason:
            return reason
        if case.scheme == "https":
            reason = tls_skip_reason(case.strategy)
            if reason:
                return reason
        client = fdlimit.shortfall(case.concurrency)
        if client or self.server_url is not None:  # an external server's limits are its own
            return client
        pools = self.pools_at_server(case)
        held = pools * case.concurrency
        what = (f"keep-alive at C={case.concurrency}: the server holding the {pools} pools of this cell "
                f"({pools} x {case.concurrency:,} connections)" if pools > 1 else None)
        if self.server_backend == "select" and held > SELECT_MAX:
            return (f"the select server backend cannot watch descriptors >= FD_SETSIZE (1024): "
                    f"{what or f'C={case.concurrency}'} would exceed it")
        return fdlimit.shortfall(held, what)

    def pools_at_server(self, case: Case) -> int:
        """How many strategies' connections the server holds at once in the case's cell: one round's under
        ``close``; under ``keepalive`` every strategy's pool, since a cell's workers are all alive and each
        keeps its C connections open between its interleaved rounds (``bench.sweep.cells``)."""
        if case.policy != "keepalive":
            return 1
        names = self.strategy_names(case.profile)
        # Each scheme's server holds its own rows' pools: counting every strategy bounds either from above.
        return max(1, sum(not self._strategy_skip_reason(name, case) for name in names))

    @staticmethod
    def _strategy_skip_reason(name: str, case: Case) -> str | None:
        """Why strategy ``name`` (today's, an era's, an interpreter's) cannot run at the case's C, policy and
        profile."""
        return variants.skip_reason(name, case.concurrency, case.policy, case.profile)

    def options(self) -> Options:
        """The plan as recorded in the results JSON (``None``: the per-profile defaults applied)."""
        return {"concurrency": None if self.concurrency is None else list(self.concurrency),
                "strategies": None if self.strategies is None else list(self.strategies),
                "workloads": list(self.workload_names), "policies": list(self.policies),
                "profiles": list(self.profiles), "rounds": self.rounds, "max_rounds": self.max_rounds,
                "warmup_rounds": self.warmup_rounds, "schedule_seed": self.schedule_seed,
                "instructions": self.instructions, "explain": self.explain, "era": self.era,
                "pythons": list(self.pythons),
                "requests": self.requests, "quick": self.quick,
                "benchmark_disabled": self.benchmark_disabled,
                "server_backend": self.server_backend, "server_url": self.server_url, "link": self.link,
                "schemes": None if self.schemes is None else [cast(Scheme, s) for s in self.schemes]}


def plan_of_run(options: Options, results_dir: Path) -> Plan:
    """The plan a recorded run was made with (``--resume``): the same cases, rounds and seed."""
    def listed(values: list[Any] | None) -> tuple[Any, ...] | None:
        return None if values is None else tuple(values)

    return Plan(concurrency=listed(options.get("concurrency")), strategies=listed(options.get("strategies")),
                workloads=listed(options.get("workloads")), policies=listed(options.get("policies")) or POLICIES,
                profiles=listed(options.get("profiles")) or PROFILES,
                rounds=options["rounds"], max_rounds=options.get("max_rounds") or options["rounds"],
                warmup_rounds=options["warmup_rounds"], requests=options.get("requests"), quick=options["quick"],
                benchmark_disabled=options["benchmark_disabled"], server_backend=options["server_backend"],
                results_dir=results_dir, schedule_seed=options.get("schedule_seed") or 0,
                instructions=bool(options.get("instructions")), explain=bool(options.get("explain")),
                server_url=options.get("server_url"), link=options.get("link"),
                era=options.get("era"), schemes=listed(options.get("schemes")),
                pythons=tuple(options.get("pythons") or ()))


def tls_skip_reason(name: str) -> str | None:
    """Why strategy ``name`` cannot fetch over HTTPS yet (its registry entry's ``tls``), or None."""
    if not REGISTRY[eras.split(name)[0]].tls:
        return f"{name} does not fetch over HTTPS yet (strategies/__init__.py: tls=False)"
    return None


def parse_list(text: str, allowed: tuple[str, ...] | None, what: str) -> tuple[str, ...]:
    items = tuple(part.strip() for part in text.split(",") if part.strip())
    if not items:
        raise ValueError(f"--{what}: empty list")
    unknown = [item for item in items if allowed is not None and item not in allowed]
    if unknown:
        raise ValueError(f"--{what}: unknown {', '.join(unknown)} (choose from {', '.join(allowed or ())})")
    return items


def parse_strategies(text: str) -> tuple[str, ...]:
    """``--strategies``: names and set names (``default``, ``all``), expanded in order, each once."""
    items = parse_list(text, (*STRATEGY_SETS, *REGISTRY), "strategies")
    return tuple(dict.fromkeys(name for item in items for name in STRATEGY_SETS.get(item, (item,))))


def parse_levels(text: str) -> tuple[int, ...]:
    """``--concurrency``: levels and set names (``CONCURRENCY_SETS``), sorted, each once."""
    items = parse_list(text, None, "concurrency")
    try:
        levels = tuple(sorted({level for item in items
                               for level in (CONCURRENCY_SETS[item] if item in CONCURRENCY_SETS else (int(item),))}))
    except ValueError as exc:
        raise ValueError(f"--concurrency: expected integers like 1,10,100 or a set "
                         f"({', '.join(CONCURRENCY_SETS)}) ({exc})") from exc
    if levels[0] < 1:
        raise ValueError("--concurrency: levels must be >= 1")
    return levels
