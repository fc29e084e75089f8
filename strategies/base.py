"""The contract every strategy keeps, and the data that crosses it.

A strategy is one module with one entry function::

    def start(config: ClientConfig) -> Fetcher

``start`` does all the setup (pools, sessions, event loop, worker processes) so that it stays out of the
timed region; ``Fetcher.fetch(urls)`` performs the requests, at most ``config.concurrency`` in flight, and
returns exactly one ``Outcome`` per URL, in the order of ``urls``; ``Fetcher.close()`` releases everything.
A codec strategy's ``start`` also takes ``features`` (``strategies._codec.Features``, all of them on by
default): the model ladder (``python -m bench.ladder``) runs the strategy's own code with some turned off.

Rules a strategy keeps (the comparison is only fair if all of them do):
- it never decides what counts as success: it reports the status and body it received, or the error;
  verification lives in ``strategies.workload`` and is the same for everyone;
- every request has a timeout (``config.timeout_s``); a stalled, reset or garbled request becomes an
  ``Outcome`` with ``error`` set, never a hang, an exception out of ``fetch``, or a missing slot;
- the connection policy is enforced: ``close`` sends ``Connection: close`` and opens a new connection per
  request; ``keepalive`` reuses connections, at most ``concurrency`` of them (a library's pool sized to C,
  or a connection per worker of the model);
- every hidden cap of its library (pool sizes, client limits) is set explicitly from ``concurrency`` in the
  ``tuned`` profile; the ``as-written`` profile runs the tutorials' recipe with the library's defaults left
  as they are (that is its point), and its module docstring names each default kept and the cap it implies.
  In both, ``fetch`` hands the library at most ``concurrency`` requests at once: C is what the harness
  asks for, and the server's ``peak_in_flight`` shows what the library really sent;
- ``latency_s`` is measured by the strategy from just before the request is issued (or queued in the
  library) to when its full body is received or its error is known.

HTTPS (``ClientConfig.scheme == "https"``, the workload's URLs are ``https://``):
- every strategy verifies the server's certificate and host name against ``ClientConfig.ca_file`` (the
  system's store when None) in its library's own idiom (requests' ``verify=``, aiohttp's ``ssl=``, httpx's
  ``verify=``, Twisted's ``optionsForClientTLS``, Tornado's ``ssl_options``, an ``ssl.SSLContext`` for the
  codec strategies); never ``verify=False``. The context, where the strategy makes one, is
  ``strategies._tls.client_context(config)``: TLS >= 1.2, ALPN ``http/1.1``;
- ``tuned`` makes its context (or its library's TLS configuration) once, in ``start``; ``as-written`` keeps
  its recipe's own way, per call where the recipe makes a client per call (``requests.get(url,
  verify=CA)``, ``aiohttp.request``): that cost is the recipe's. Each module's docstring says where its
  context is made and why;
- a refused certificate (another CA, another host name, expired), a failed handshake or any other TLS
  error is the slot's ``Outcome.failed`` with the exception (or, for an error described as text, its
  ``cause``): its text then starts with ``tls:``, the row's error kind ``tls``
  (``strategies._tls.is_tls_failure`` reads the exception chain). A connection that only ends inside TLS
  (an EOF, a reset: Python's ``ssl`` reports a reset after TLS records as an EOF) keeps its plain kind;
- what was negotiated is recorded per row from the server's side, the same for every library
  (``strategies.runner.RoundResult.tls``: the server's one protocol version, the ciphers of the round's
  handshakes, and how many were full and how many resumed): a strategy reports nothing more.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

POLICIES = ("close", "keepalive")
#: ``tuned``: every hidden cap set to C (the fair comparison of models). ``as-written``: the recipe the
#: tutorials write, library defaults kept (the comparison their readers made).
PROFILES = ("tuned", "as-written")
SCHEMES = ("http", "https")

#: Why ``as-written`` has no keep-alive: every tutorial recipe opens a connection per request by itself
#: (``requests.get`` and grequests make and close a Session per call, ``aiohttp.request`` a ClientSession,
#: the default ``Agent`` pool is not persistent, tornado's simple client and the raw HTTP/1.0 recipes always
#: close), so reusing connections is a tuning, not the recipe. One exception: ``treq.get``'s global pool is
#: persistent, so treq's recipe keeps connections alive, and its as-written rows are ``keepalive`` rows
#: (``StrategySpec.as_written_policy``; ``strategies.treq_client``).
AS_WRITTEN_KEEPALIVE_REASON = (
    "as-written recipes open a new connection per request (requests.get, grequests and aiohttp.request make "
    "a session per call; Agent's default pool is not persistent): keep-alive is a tuning"
)
#: Why the one recipe that keeps connections alive has no as-written ``close`` row.
AS_WRITTEN_CLOSE_REASON = ("{}'s recipe keeps connections alive (its library's global pool is persistent): its "
                           "as-written rows are keepalive rows")


@dataclass(frozen=True)
class ClientConfig:
    """How a strategy must fetch: the same for every strategy in one comparison."""

    concurrency: int
    policy: str = "keepalive"
    timeout_s: float = 10.0
    method: str = "GET"
    #: Request body for POST (sent as application/x-www-form-urlencoded); empty for GET.
    body: bytes = b""
    profile: str = "tuned"
    #: ``http`` or ``https``: the scheme of every URL the strategy will be given.
    scheme: str = "http"
    #: PEM file of the CA(s) to verify the server's certificate against over https; None: the system's store.
    ca_file: str | None = None

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {self.concurrency}")
        if self.policy not in POLICIES:
            raise ValueError(f"policy must be one of {POLICIES}, got {self.policy!r}")
        if self.method not in ("GET", "POST"):
            raise ValueError(f"method must be GET or POST, got {self.method!r}")
        if self.profile not in PROFILES:
            raise ValueError(f"profile must be one of {PROFILES}, got {self.profile!r}")
        if self.scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {SCHEMES}, got {self.scheme!r}")

    @property
    def as_written(self) -> bool:
        return self.profile == "as-written"

    @property
    def tls(self) -> bool:
        return self.scheme == "https"


@dataclass
class Outcome:
    """What one request gave: a status and body, or an error; and how long it took."""

    status: int | None
    body: bytes | None
    error: str | None
    latency_s: float

    @classmethod
    def ok(cls, status: int, body: bytes, started: float) -> Outcome:
        return cls(status, body, None, time.perf_counter() - started)

    @classmethod
    def failed(cls, error: BaseException | str, started: float, cause: BaseException | None = None) -> Outcome:
        """A failed request. ``cause``: the exception that a text ``error`` describes, so that its kind is
        known (a TLS failure's text starts with ``tls:``, see the HTTPS rules above)."""
        text = (error if isinstance(error, str) else f"{type(error).__name__}: {error}") or "unknown error"
        cause = cause if isinstance(error, str) else error
        if cause is not None and _is_tls_failure(cause):
            text = f"{TLS_KIND}: {text}"
        return cls(None, None, text, time.perf_counter() - started)


#: The error kind of a TLS failure (``strategies._tls``); kept here too so that base imports no ssl.
TLS_KIND = "tls"


def _is_tls_failure(error: BaseException) -> bool:
    # Imported on the first failure only: ssl must not be loaded when the registry imports this module
    # (gevent's patch_all, at a strategy's import, comes first).
    from strategies._tls import is_tls_failure

    return is_tls_failure(error)


class Fetcher(Protocol):
    def fetch(self, urls: Sequence[str]) -> list[Outcome]: ...

    def close(self) -> None: ...


class Stack(Protocol):
    """An HTTP stack for the models that block a worker per request (threads, greenlets, processes).

    The model runs C workers over each round's URLs (``strategies._rounds``); each worker makes its
    requests with the callable ``stack.worker()`` gave it: ``request(url) -> Outcome``, on the calling
    thread, greenlet or process, never raising. A library that pools connections for every caller returns
    itself (requests' Session, ``strategies._requests.Requester``: the recipe's idiom, one pool of C); our
    codec a connection of the worker's own (``strategies._blocking_codec.CodecStack``). ``begin_round()``
    is called before each round's workers start, ``close()`` releases every connection. So a model is
    written once, for both stacks."""

    def worker(self) -> Callable[[str], Outcome]: ...

    def begin_round(self) -> None: ...

    def close(self) -> None: ...


#: How such a model builds its stack: ``new_stack(config, workers)``, for ``workers`` workers that will call
#: it (C in one process; 1 in each child of the processes model).
NewStack = Callable[[ClientConfig, int], Stack]
