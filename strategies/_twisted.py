"""What the Twisted strategies share: one reactor per process, and C requests admitted at a time.

Kept in one place so that ``twisted`` (Agent), ``twisted-raw`` (our codec on a ``Protocol``) and ``treq``
differ only in how one request is made (diff them: that is the point), never in how the reactor runs or
how requests are admitted, timed or reported; ``strategies._aio`` is the same for the asyncio loop.

Rules this module keeps:
- the reactor runs once per process (it cannot be restarted), in a daemon thread started by the first
  ``ReactorRunner`` with ``installSignalHandlers=False`` (signals belong to the main thread), and is
  stopped at interpreter exit. Every Twisted call is made in that thread through ``blockingCallFromThread``
  (``ReactorRunner.call``), so one worker runs many rounds and several ``start``/``close`` cycles with
  different C;
- ``DeferredSemaphore(C)`` caps requests in flight; ``started`` is taken when a request is admitted, and a
  ``DeferredList`` gathers the outcomes in URL order;
- ``Deferred.addTimeout(timeout_s)`` bounds each request from admission to last body byte: it cancels
  whatever the request is waiting on (a connect, a response, a body), and the slot reports ``TimeoutError``;
- every failure is that slot's outcome, never ``fetch``'s exception: the semaphore's Deferred never fails.
"""

from __future__ import annotations

import atexit
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar

from twisted.internet import reactor as _installed_reactor
from twisted.internet.defer import Deferred, DeferredList, DeferredSemaphore, maybeDeferred
from twisted.internet.threads import blockingCallFromThread
from twisted.python.failure import Failure

from strategies.base import Outcome

#: The process's reactor (epoll on Linux, installed by the import). Any: Twisted types it as a module.
reactor: Any = _installed_reactor
_reactor_thread: threading.Thread | None = None

#: Makes one request in the reactor's thread; gets the URL and when it was admitted. Its Deferred fires
#: with the outcome or fails; cancelling it must release whatever the request holds (the timeout does).
FetchOne = Callable[[str, float], Deferred[Outcome]]

P = ParamSpec("P")
T = TypeVar("T")


class ReactorRunner:
    """The process's running reactor, as one fetcher sees it, and the bounded fan-out every round uses."""

    def __init__(self, concurrency: int, timeout_s: float):
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        _ensure_reactor_running()

    def call(self, function: Callable[P, T] | Callable[P, Deferred[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """``function(*args)`` in the reactor's thread; its result, or its Deferred's, back in this one."""
        return blockingCallFromThread(reactor, function, *args, **kwargs)

    def fetch(self, urls: Sequence[str], request: FetchOne) -> list[Outcome]:
        return self.call(self._fetch_all, urls, request)

    def _fetch_all(self, urls: Sequence[str], request: FetchOne) -> Deferred[list[Outcome]]:
        semaphore = DeferredSemaphore(self.concurrency)
        gathered = DeferredList([semaphore.run(self._admitted, url, request) for url in urls])
        return gathered.addCallback(lambda results: [outcome for _, outcome in results])

    def _admitted(self, url: str, request: FetchOne) -> Deferred[Outcome]:
        started = time.perf_counter()
        made = maybeDeferred(request, url, started)  # a request that raises at once fails its Deferred
        made.addTimeout(self.timeout_s, reactor, onTimeoutCancel=_timed_out)
        return made.addErrback(lambda failure: Outcome.failed(describe(failure), started))


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


def _timed_out(result: object, timeout: float) -> object:
    if isinstance(result, Failure):
        raise TimeoutError(f"no complete response within {timeout} s")
    return result


def describe(failure: Failure) -> str:
    """The error's type, plus the first underlying reason for Twisted's wrapper exceptions."""
    error = failure.value
    # twisted.web's ResponseFailed, ResponseNeverReceived and RequestGenerationFailed carry a list of Failures.
    reasons = getattr(error, "reasons", None)
    if reasons:
        return f"{type(error).__name__}: {type(reasons[0].value).__name__}: {reasons[0].value}"
    return f"{type(error).__name__}: {error}"
