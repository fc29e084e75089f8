"""The workload every strategy performs, and the one verification that judges all of them.

Rules this module keeps:
- a workload is plain data (JSON-able both ways): the runner sends it to a worker, the worker turns it into
  URLs and a ``ClientConfig`` for the strategy, and verifies what came back;
- verification is the same for everyone and never trusts a strategy: one outcome per URL, in order, with
  exactly the status and body that ``local_server.payload.expected_response`` promises; a URL that promises
  nothing (fault routes, /status/500) is an error whatever came back;
- no I/O and no imports of socket/threading: the worker imports this after the strategy (gevent patches
  first).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from local_server.payload import expected_response
from strategies.base import ClientConfig, Outcome

#: Body sent with ``method="POST"``: small and fixed, so POST rows differ from GET rows only by the method
#: and a request body the server reads and ignores.
POST_BODY = b"concbench=1"

#: How many error messages a Verification keeps verbatim: enough to diagnose, small enough to ship as JSON.
ERROR_SAMPLES = 5

#: Per-request timeout up to C = 2000: far above any healthy request on loopback, so it only fires on faults.
DEFAULT_TIMEOUT_S = 10.0
#: Above, a timeout that only fires on faults grows with C: a request's latency includes the client's CPU for
#: the others of its wave, and a healthy client spending ~1 ms per request (Twisted's Agent, gevent+requests,
#: measured at C=10 000) takes ~10 s for a wave of 10 000 on a core of its own and more on a shared one: 10 s
#: failed a third of Twisted's requests there, and its p99 reached 24 s with a neighbour on its core. 5 ms per
#: connection is five times the CPU: 50 s at C=10 000, which a healthy round does not reach.
TIMEOUT_PER_CONNECTION_S = 0.005


def request_timeout_s(concurrency: int) -> float:
    """The per-request timeout the sweep and the CLI use at this C (``DEFAULT_TIMEOUT_S``, more above)."""
    return max(DEFAULT_TIMEOUT_S, concurrency * TIMEOUT_PER_CONNECTION_S)


@dataclass(frozen=True)
class Workload:
    """N requests to the server's ``/work`` route (ids 0..N-1), at most ``concurrency`` in flight.

    ``paths`` replaces the generated ``/work`` URLs with an explicit list (relative to ``base_url``), e.g.
    to mix fault routes in or to give each request its own delay and size (the web workload); ``requests``
    must then equal ``len(paths)`` (``Workload.from_paths`` does it), and ``delay_ms``, ``size`` and
    ``rate_kbps`` only describe the round in its results.
    """

    base_url: str
    requests: int
    concurrency: int
    policy: str = "keepalive"
    delay_ms: int = 0
    #: 64 bytes: a small body, so the throughput workload measures per-request cost, not copying.
    size: int = 64
    method: str = "GET"
    #: Per-request timeout; the sweep and the CLI pass ``request_timeout_s(concurrency)``.
    timeout_s: float = DEFAULT_TIMEOUT_S
    paths: tuple[str, ...] = field(default=())
    #: ``tuned`` or ``as-written`` (``strategies.base.PROFILES``): how the strategy configures its library.
    profile: str = "tuned"
    #: Pace every body at this many kbit/s (the server's ``rate_kbps``, ``local_server.pacing``); 0: at once.
    rate_kbps: int = 0
    #: Over https: the CA file the strategy verifies the server against (``ClientConfig.ca_file``), and the
    #: one the runner's ``/stats`` requests use; None: the system's store.
    ca_file: str | None = None

    def __post_init__(self) -> None:
        if not self.base_url.endswith("/"):
            object.__setattr__(self, "base_url", self.base_url + "/")
        if self.requests < 0:
            raise ValueError(f"requests must be >= 0, got {self.requests}")
        if self.paths and len(self.paths) != self.requests:
            raise ValueError(f"requests={self.requests} but {len(self.paths)} paths given")
        if self.delay_ms < 0 or self.size < 0 or self.rate_kbps < 0 or self.timeout_s <= 0:
            raise ValueError("delay_ms, size and rate_kbps must be >= 0 and timeout_s > 0")
        self.client_config()  # validates concurrency, policy and method once, here

    @classmethod
    def from_paths(cls, base_url: str, paths: Sequence[str], concurrency: int, **kwargs: Any) -> Workload:
        return cls(base_url, len(paths), concurrency, paths=tuple(p.lstrip("/") for p in paths), **kwargs)

    def urls(self) -> list[str]:
        if self.paths:
            return [self.base_url + path for path in self.paths]
        pace = f"&rate_kbps={self.rate_kbps}" if self.rate_kbps else ""
        prefix = f"{self.base_url}work?delay_ms={self.delay_ms}&size={self.size}{pace}&id="
        return [f"{prefix}{k}" for k in range(self.requests)]

    def client_config(self) -> ClientConfig:
        return ClientConfig(
            concurrency=self.concurrency,
            policy=self.policy,
            timeout_s=self.timeout_s,
            method=self.method,
            body=POST_BODY if self.method == "POST" else b"",
            profile=self.profile,
            scheme=self.scheme,
            ca_file=self.ca_file,
        )

    @property
    def scheme(self) -> str:
        return self.base_url.split(":", 1)[0].lower()

    def deadline_s(self, margin_s: float = 30.0) -> float:
        """A bound no healthy round can reach: every batch of C requests hitting its timeout, plus a margin
        for process scheduling on a loaded machine. Past it, the runner declares the worker hung."""
        batches = math.ceil(self.requests / self.concurrency) if self.requests else 0
        return batches * (self.timeout_s + self.delay_ms / 1000) + margin_s

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["paths"] = list(self.paths)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Workload:
        return cls(**{**data, "paths": tuple(data.get("paths", ()))})


@dataclass
class Verification:
    ok: int
    errors: int
    #: error kind -> count; kinds: the exception type a strategy reported, "tls" (a refused certificate or
    #: another TLS failure: ``strategies.base``'s HTTPS rules), "status", "body", "unexpected" (a URL that
    #: promises no response), "missing" (no outcome for a URL), "extra" (outcome for no URL).
    error_kinds: dict[str, int]
    error_samples: list[str]


def _error_kind(outcome: Outcome) -> str:
    assert outcome.error is not None
    return outcome.error.split(":", 1)[0].strip() or "error"


def _judge(url: str, outcome: Outcome) -> tuple[str, str] | None:
    """(kind, message) when ``outcome`` is wrong for ``url``, else None."""
    if outcome.error is not None:
        return _error_kind(outcome), f"{url}: {outcome.error}"
    expected = expected_response(url)
    if expected is None:
        return "unexpected", f"{url}: promises no response, got status {outcome.status}"
    status, body = expected
    if outcome.status != status:
        return "status", f"{url}: status {outcome.status}, expected {status}"
    if outcome.body != body:
        got = outcome.body or b""
        return "body", f"{url}: body of {len(got)} bytes {got[:32]!r} is not the promised {len(body)} bytes"
    return None


def verify(urls: Sequence[str], outcomes: Sequence[Outcome]) -> Verification:
    kinds: dict[str, int] = {}
    samples: list[str] = []

    def record(kind: str, message: str) -> None:
        kinds[kind] = kinds.get(kind, 0) + 1
        if len(samples) < ERROR_SAMPLES:
            samples.append(message)

    ok = 0
    for url, outcome in zip(urls, outcomes, strict=False):  # a missing or extra outcome is counted below
        problem = _judge(url, outcome)
        if problem is None:
            ok += 1
        else:
            record(*problem)
    for url in urls[len(outcomes):]:
        record("missing", f"{url}: no outcome returned")
    for _ in outcomes[len(urls):]:
        record("extra", "an outcome was returned for no URL")
    return Verification(ok, sum(kinds.values()), kinds, samples)


def judge(urls: Sequence[str], outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """The figures of a round that come from its outcomes, as a round reports them: ``verify``'s counts and
    the latencies' summary. Today's worker and an era's runner (``strategies.eras``) both call this."""
    verification = verify(urls, outcomes)
    return {"ok": verification.ok, "errors": verification.errors, "error_kinds": verification.error_kinds,
            "error_samples": verification.error_samples,
            "latency_ms": latency_summary([outcome.latency_s for outcome in outcomes])}


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of already sorted values: always one of the observed values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def latency_summary(latencies_s: Sequence[float]) -> dict[str, float | None]:
    """p50/p90/p99/max in milliseconds (None when there were no requests)."""
    values = sorted(latencies_s)
    if not values:
        return {"p50": None, "p90": None, "p99": None, "max": None}
    return {
        "p50": percentile(values, 50) * 1000,
        "p90": percentile(values, 90) * 1000,
        "p99": percentile(values, 99) * 1000,
        "max": values[-1] * 1000,
    }


def config_to_dict(config: ClientConfig) -> dict[str, Any]:
    """``ClientConfig`` as JSON-able data (the body as latin-1 text), for the worker protocol."""
    return {**asdict(config), "body": config.body.decode("latin-1")}


def config_from_dict(data: dict[str, Any]) -> ClientConfig:
    return ClientConfig(**{**data, "body": data.get("body", "").encode("latin-1")})
