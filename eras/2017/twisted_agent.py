"""twisted (2017): ``twisted.web.client.Agent``, ``DeferredSemaphore(C)``, on Twisted 17.9.0; today's
``strategies/impl/twisted_agent.py`` and its reactor (``strategies/shared/_twisted.py``) on the old API, which has every
piece: the reactor run once in a thread (``installSignalHandlers=False``) and called through
``blockingCallFromThread``; ``DeferredSemaphore(C)`` admission, ``started`` taken on admission; a
``DeferredList`` in URL order; ``Deferred.addTimeout(timeout_s)`` per request (Twisted 16.5+); ``readBody``.

tuned: ``HTTPConnectionPool(persistent=(policy == "keepalive"))``, ``maxPersistentPerHost=C``. as-written:
``Agent(reactor)``, whose own pool is not persistent: a connection per request, ``Connection: close`` sent.
As today, the Agent resolves even ``127.0.0.1`` through ``HostnameEndpoint`` in the reactor's thread pool.
"""

import atexit
import threading
import time
import warnings
from io import BytesIO

from twisted.internet import reactor
from twisted.internet.defer import DeferredList, DeferredSemaphore, maybeDeferred
from twisted.internet.threads import blockingCallFromThread
from twisted.web.client import Agent, FileBodyProducer, HTTPConnectionPool, readBody
from twisted.web.http_headers import Headers

import _outcome

# readBody warns on every call that the response's transport has no abortConnection (Twisted's own noise).
warnings.filterwarnings("ignore", "Using readBody with a transport that does not have an abortConnection",
                        DeprecationWarning)

_thread = []


def _ensure_reactor_running():
    if not _thread:
        thread = threading.Thread(target=reactor.run, kwargs={"installSignalHandlers": False},
                                  name="twisted-reactor", daemon=True)
        thread.start()
        _thread.append(thread)
        atexit.register(_stop_reactor, thread)


def _stop_reactor(thread):
    reactor.callFromThread(reactor.stop)
    thread.join()


def _timed_out(result, timeout):
    from twisted.python.failure import Failure

    if isinstance(result, Failure):
        raise TimeoutError(f"no complete response within {timeout} s")
    return result


def _describe(failure):
    error = failure.value
    reasons = getattr(error, "reasons", None)  # ResponseFailed, ResponseNeverReceived: a list of Failures
    if reasons:
        return f"{type(error).__name__}: {type(reasons[0].value).__name__}: {reasons[0].value}"
    return f"{type(error).__name__}: {error}"


class TwistedFetcher:
    def __init__(self, config):
        self._config = config
        _ensure_reactor_running()
        self._pool, self._agent = blockingCallFromThread(reactor, self._open_agent)
        headers = {b"Content-Type": [b"application/x-www-form-urlencoded"]} if config.method == "POST" else {}
        self._headers = Headers(headers)

    def _open_agent(self):
        if self._config.as_written:
            return None, Agent(reactor)
        pool = HTTPConnectionPool(reactor, persistent=self._config.policy == "keepalive")
        pool.maxPersistentPerHost = self._config.concurrency
        return pool, Agent(reactor, pool=pool)

    def fetch(self, urls):
        return blockingCallFromThread(reactor, self._fetch_all, urls)

    def _fetch_all(self, urls):
        semaphore = DeferredSemaphore(self._config.concurrency)
        gathered = DeferredList([semaphore.run(self._admitted, url) for url in urls])
        return gathered.addCallback(lambda results: [outcome for _, outcome in results])

    def _admitted(self, url):
        started = time.perf_counter()
        made = maybeDeferred(self._request, url, started)
        made.addTimeout(self._config.timeout_s, reactor, onTimeoutCancel=_timed_out)
        return made.addErrback(lambda failure: _outcome.failed(_describe(failure), started))

    def _request(self, url, started):
        body = None
        if self._config.method == "POST":
            body = FileBodyProducer(BytesIO(self._config.body))
        request = self._agent.request(self._config.method.encode(), url.encode(), self._headers, body)
        return request.addCallback(_read_response, started)

    def close(self):
        if self._pool is not None:
            blockingCallFromThread(reactor, self._pool.closeCachedConnections)


def _read_response(response, started):
    return readBody(response).addCallback(lambda body: _outcome.ok(response.code, body, started))


def start(config):
    return TwistedFetcher(config)
