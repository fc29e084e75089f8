"""What the Twisted strategies share: one reactor per process, and C worker coroutines taking turns at the URLs.

Kept in one place so that ``twisted`` (Agent), ``twisted-raw`` (our codec on a ``Protocol``) and ``treq``
differ only in how one request is made (diff them: that is the point), never in how the reactor runs or
how requests are admitted, timed or reported; ``strategies.shared._aio`` is the same for the asyncio loop.

Rules this module keeps:
- the reactor runs once per process (it cannot be restarted), in a daemon thread started by the first
  ``ReactorRunner`` with ``installSignalHandlers=False`` (signals belong to the main thread), and is
  stopped at interpreter exit. Every Twisted call is made in that thread through ``blockingCallFromThread``
  (``ReactorRunner.call``), so one worker runs many rounds and several ``start``/``close`` cycles with
  different C;
- C worker coroutines a round (``Deferred.fromCoroutine``) cap requests in flight: each takes the round's
  next URL when its request is done (``strategies.shared._rounds``), as the codec strategies of every model do; a
  ``DeferredSemaphore(C)`` with a Deferred per URL cost more per request and is no closer to the libraries'
  idioms, which are the Agent's and treq's pools, kept as they are. ``started`` is taken when a worker takes
  the URL;
- a total deadline of ``timeout_s`` per request, from when it is issued to its last byte, by the deadlines'
  queue of ``strategies.shared._deadlines`` (``Deferred.addTimeout`` per request cost 67,000 instructions, a
  ``reactor.callLater`` per request 15,500, the queue 2,300, measured on 2026-12-07: see the deadlines' module): an expired request's Deferred, whatever it is
  waiting on (a connect, a response, a body), is cancelled, which releases what it holds, and the slot
  reports ``TimeoutError``;
- every failure is that slot's outcome, never ``fetch``'s exception (``describe`` names Twisted's wrapped
  reasons; the exception goes with the text, so a TLS failure in them is of kind ``tls``);
- TLS (``trust_root``, ``OncePerHost``): the CA file as Twisted's trust root (``platformTrust`` when None).
  Twisted's idiom, ``BrowserLikePolicyForHTTPS(trustRoot=...)``, calls ``optionsForClientTLS`` for every new
  connection, a pyOpenSSL context each (the recipe's cost, kept as-written); ``OncePerHost`` makes the
  options (context, host name to verify, ALPN ``http/1.1``, TLS >= 1.2 as ``strategies.tls``) once per host,
  at its first connection, and hands them to every later one.
"""

from __future__ import annotations

import atexit
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar

from twisted.internet import reactor as _installed_reactor
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.ssl import Certificate, TLSVersion, optionsForClientTLS, trustRootFromCertificates
from twisted.internet.threads import blockingCallFromThread
from twisted.web.iweb import IPolicyForHTTPS
from zope.interface import implementer

from strategies.base import ClientConfig, Outcome
from strategies.shared._deadlines import Deadlines
from strategies.shared._rounds import Round

#: The process's reactor (epoll on Linux, installed by the import). Any: Twisted types it as a module.
reactor: Any = _installed_reactor
_reactor_thread: threading.Thread | None = None

#: Makes one request in the reactor's thread; gets the URL and when it was admitted. Its Deferred fires
#: with the outcome or fails; cancelling it must release whatever the request holds (the deadline does).
FetchOne = Callable[[str, float], Deferred[Outcome]]

P = ParamSpec("P")
T = TypeVar("T")


class ReactorRunner:
    """The process's running reactor, as one fetcher sees it, and the C workers every round uses."""

    def __init__(self, concurrency: int, timeout_s: float):
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.deadlines = Deadlines(timeout_s, reactor.callLater)
        _ensure_reactor_running()

    def call(self, function: Callable[P, T] | Callable[P, Deferred[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """``function(*args)`` in the reactor's thread; its result, or its Deferred's, back in this one."""
        return blockingCallFromThread(reactor, function, *args, **kwargs)

    def fetch(self, urls: Sequence[str], request: FetchOne) -> list[Outcome]:
        """A library strategy's round: C ``RequestWorker``s making their requests with ``request``."""
        return self.run_round(urls, [RequestWorker(request, self.deadlines) for _ in range(self.concurrency)])

    def run_round(self, urls: Sequence[str], workers: Sequence[Any]) -> list[Outcome]:
        """A round of ``urls`` shared by ``workers``, each with a ``drain(round)`` coroutine."""
        return self.call(self._round, Round(urls), workers)

    def _round(self, round_: Round, workers: Sequence[Any]) -> Deferred[list[Outcome]]:
        drains = [Deferred.fromCoroutine(worker.drain(round_)) for worker in workers[:len(round_.slots)]]
        return DeferredList(drains).addCallback(lambda _: round_.outcomes())

    def close(self) -> None:
        self.call(self.deadlines.close)


class RequestWorker:
    """One of a library strategy's C workers: the round's next URL with the library's ``request``."""

    __slots__ = ("_deadlines", "_request", "_waiting", "deadline", "expired")

    def __init__(self, request: FetchOne, deadlines: Deadlines):
        self._request = request
        self._deadlines = deadlines
        self._waiting: Deferred[Outcome] | None = None
        self.deadline: tuple[float, Any] | None = None
        self.expired = False

    async def drain(self, round_: Round) -> None:
        slots, deadlines = round_.slots, self._deadlines
        for slot, url in round_.source:
            started = time.perf_counter()
            deadlines.start(self, started)
            try:
                self._waiting = self._request(url, started)
                slots[slot] = await self._waiting
                self.deadline = None
            except Exception as exc:  # noqa: BLE001 - every failure is this slot's outcome, never fetch's exception
                self.deadline = None
                slots[slot] = failed(exc, started, self.expired, deadlines.timeout_s)
                self.expired = False

    def expire(self) -> None:
        self.expired = True
        self._waiting.cancel()  # type: ignore[union-attr]


def failed(error: BaseException, started: float, expired: bool, timeout_s: float) -> Outcome:
    """A failed request's outcome: ``TimeoutError`` when its deadline expired it (the error is then the
    cancellation's, whatever the library wrapped it in), else the error, its wrapped reason named."""
    if expired:
        return Outcome.failed(f"TimeoutError: no complete response within {timeout_s} s", started)
    return Outcome.failed(describe(error), started, cause=error)


def _ensure_reactor_running() -> None:
    global _reactor_thread
    if _reactor_thread is None:
        _reactor_thread = threading.Thread(
            target=reactor.run, kwargs={"installSignalHandlers": False}, name="twisted-reactor", daemon=True,
        )
        _reactor_thread.start()
        atexit.register(_stop_reactor, _reactor_thread)


def _stop_reactor(thread: threading.Thread) -> None:
    reactor.callFromThread(reactor.stop)
    thread.join()


def describe(error: BaseException) -> str:
    """The error's type, plus the first underlying reason for Twisted's wrapper exceptions."""
    # twisted.web's ResponseFailed, ResponseNeverReceived and RequestGenerationFailed carry a list of Failures.
    reasons = getattr(error, "reasons", None)
    if reasons:
        return f"{type(error).__name__}: {type(reasons[0].value).__name__}: {reasons[0].value}"
    return f"{type(error).__name__}: {error}"


def trust_root(config: ClientConfig) -> Any:
    """The CA file's certificates as a Twisted trust root; None (``platformTrust``, the system's) without one."""
    if config.ca_file is None:
        return None
    with open(config.ca_file, "rb") as pem:
        blocks = pem.read().split(b"-----END CERTIFICATE-----")
    return trustRootFromCertificates([Certificate.loadPEM(block + b"-----END CERTIFICATE-----")
                                      for block in blocks if b"-----BEGIN CERTIFICATE-----" in block])


@implementer(IPolicyForHTTPS)
class OncePerHost:
    """``BrowserLikePolicyForHTTPS``'s verification (certificate and host name against ``trust_root``), its
    options made once per host and reused by every connection to it (see the module's rules)."""

    def __init__(self, root: Any):
        self._root = root
        self._options: dict[bytes, Any] = {}

    def creatorForNetloc(self, hostname: bytes, port: int) -> Any:
        options = self._options.get(hostname)
        if options is None:
            options = self._options[hostname] = optionsForClientTLS(
                hostname.decode("ascii"), trustRoot=self._root, acceptableProtocols=[b"http/1.1"],
                extraCertificateOptions={"raiseMinimumTo": TLSVersion.TLSv1_2},
            )
        return options
