"""twisted: ``twisted.web.client.Agent`` on an ``HTTPConnectionPool``, C worker coroutines, one reactor.

Knobs, all explicit:
- the reactor (once per process, in a thread), the admission (C worker coroutines a round, each taking the
  next URL when its request is done) and the deadline per request (the deadlines' queue, which cancels an
  expired request's Deferred) are ``strategies.shared._twisted``'s, shared with ``twisted-raw`` and ``treq``: the
  Agent and its pool are the library's, the rest is the model's, as ``twisted-raw`` has it;
- ``keepalive``: ``HTTPConnectionPool(persistent=True)`` with ``maxPersistentPerHost=C``. The default of 2
  keeps only 2 idle connections, so every round after the first reopened 48 of them at C=50;
- ``close``: ``HTTPConnectionPool(persistent=False)``; the agent then sends ``Connection: close`` itself
  (``_newclient.Request._writeHeaders``) and opens a new connection per request;
- ``retryAutomatically`` stays at its default (True): a GET that fails on a *reused* connection before any
  response is retried once on a new one, Twisted's guard against idle connections the server closed;
- the deadline bounds each request from connect to last body byte; the timeout is reported as
  ``TimeoutError`` (the agent wraps the cancellation in ``ResponseNeverReceived``);
- a body that ends early is an error, never a body: a short Content-Length body fails ``readBody`` with
  ``ResponseFailed`` (``_DataLoss``), and a body ended by the connection closing with no length to check
  it against fails it with ``PartialDownloadError`` (``PotentialDataLoss``) even though HTTP allows it.

- over https: ``Agent(reactor, contextFactory=OncePerHost(trust_root))`` (``strategies.shared._twisted``):
  the options, one pyOpenSSL context, made once per host at its first connection, ALPN ``http/1.1``.

as-written: ``Agent(reactor)`` with no pool, ``readBody``; the admission and the deadline stay (the
harness's admission, the recipe's ``DeferredSemaphore(C)``, and the workload's timeout). Defaults kept:
- the Agent's own pool is ``HTTPConnectionPool(reactor, persistent=False)``: a new connection per request,
  ``Connection: close`` sent by the agent (what the tuned ``close`` row configures explicitly);
- ``HostnameEndpoint`` resolves every host, an IP literal too, with ``getaddrinfo`` in the reactor's thread
  pool (at most 10 threads): it paces new connections, not requests in flight. Tuned keeps it as well;
- the endpoint's 30 s connect timeout, which the deadline cuts short anyway;
- over https: ``Agent(reactor, contextFactory=BrowserLikePolicyForHTTPS(trustRoot=CA))``, Twisted's idiom,
  which makes a context (``optionsForClientTLS``) for every connection, offers no ALPN and accepts TLS 1.0
  and up (the bundled server speaks one version, 1.3 or 1.2, so the version is the same).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from io import BytesIO
from typing import cast

from twisted.internet.defer import Deferred
from twisted.web.client import (
    Agent,
    BrowserLikePolicyForHTTPS,
    FileBodyProducer,
    HTTPConnectionPool,
    readBody,
)
from twisted.web.http_headers import Headers
from twisted.web.iweb import IBodyProducer, IResponse

from strategies.base import ClientConfig, Outcome
from strategies.shared._twisted import OncePerHost, ReactorRunner, reactor, trust_root

# readBody warns on every call that the response's transport (a TransportProxyProducer) has no
# abortConnection (twisted/twisted#8227, open since 2016): Twisted's own noise, which a worker run under
# -W error would turn into a failed request. The cost is narrow: a timeout that fires while a body is
# arriving fails the request without closing its connection; a timeout before the response (the stall
# fault) cancels the agent's request, which does abort the connection.
warnings.filterwarnings(
    "ignore", "Using readBody with a transport that does not have an abortConnection method",
    DeprecationWarning,
)


class TwistedFetcher:
    def __init__(self, config: ClientConfig):
        self._config = config
        self._runner = ReactorRunner(config.concurrency, config.timeout_s)
        self._pool, self._agent = self._runner.call(self._open_agent)
        headers = {b"Content-Type": [b"application/x-www-form-urlencoded"]} if config.method == "POST" else {}
        self._headers = Headers(headers)

    def _open_agent(self) -> tuple[HTTPConnectionPool | None, Agent]:
        config = self._config
        if config.as_written:  # the recipe: the agent makes its own non-persistent pool
            if config.tls:
                return None, Agent(reactor, contextFactory=BrowserLikePolicyForHTTPS(trustRoot=trust_root(config)))
            return None, Agent(reactor)
        pool = HTTPConnectionPool(reactor, persistent=config.policy == "keepalive")
        pool.maxPersistentPerHost = config.concurrency
        if config.tls:
            return pool, Agent(reactor, contextFactory=OncePerHost(trust_root(config)), pool=pool)
        return pool, Agent(reactor, pool=pool)

    def fetch(self, urls: Sequence[str]) -> list[Outcome]:
        return self._runner.fetch(urls, self._request)

    def _request(self, url: str, started: float) -> Deferred[Outcome]:
        body = None
        if self._config.method == "POST":
            body = cast(IBodyProducer, FileBodyProducer(BytesIO(self._config.body)))
        request = self._agent.request(self._config.method.encode(), url.encode(), self._headers, body)
        return request.addCallback(_read_response, started)

    def close(self) -> None:
        if self._pool is not None:  # a non-persistent pool (as-written's) caches no connection
            self._runner.call(self._pool.closeCachedConnections)


def _read_response(response: IResponse, started: float) -> Deferred[Outcome]:
    return readBody(response).addCallback(lambda body: Outcome.ok(response.code, body, started))


def start(config: ClientConfig) -> TwistedFetcher:
    return TwistedFetcher(config)
