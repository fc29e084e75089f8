"""treq: ``treq.request`` on an explicit ``HTTPConnectionPool``, ``treq.content``, C worker coroutines.

treq is requests' API on Twisted's Agent (getPage's heir): against ``twisted`` it measures what treq adds
per request on the same Agent and pool (its wrapping agents for cookies, redirects and gzip, a buffered
response, hyperlink's URL parsing), against ``twisted-raw`` what the whole of ``twisted.web`` costs.

Knobs, all explicit:
- the reactor (once per process, in a thread), the admission (C worker coroutines a round) and the deadline
  per request (connect to last body byte, the deadlines' queue) are ``strategies.shared._twisted``'s, shared with
  ``twisted`` and ``twisted-raw``;
- ``pool=HTTPConnectionPool(reactor, persistent=(policy == "keepalive"))`` with ``maxPersistentPerHost=C``.
  Without ``pool=`` treq uses its process-wide global pool (``treq.api.default_pool``), persistent with
  Twisted's default ``maxPersistentPerHost=2``: 2 idle connections kept per host, so every round after the
  first would reopen C - 2 of them; ``persistent=False`` for ``close``, where the agent sends
  ``Connection: close`` itself and opens a connection per request;
- treq's own ``timeout=`` is not passed: it bounds a request only until the response *headers* arrive
  (``HTTPClient.request`` cancels it then), and, due at the same moment as the shared deadline, it
  fired first and reported a stalled request as ``ResponseNeverReceived: CancelledError``. The shared
  deadline bounds the whole request, body included, and reports ``TimeoutError``;
- ``treq.content`` reads the body; unlike the Agent's ``readBody`` it takes a body that only the
  connection's close delimits (``PotentialDataLoss``) as complete, as HTTP allows; a short Content-Length
  body still fails (``ResponseFailed``);
- kept at their defaults, and visible: the pool's ``retryAutomatically`` (a GET that fails on a reused
  connection before any response is retried once on a new one, as for ``twisted``); ``allow_redirects``
  (the workload has no redirects, its wrapper costs per request all the same); the gzip decoder's
  ``Accept-Encoding: gzip`` (our server never compresses); the Agent's ``HostnameEndpoint``, which
  resolves every host, an IP literal too, in the reactor's thread pool (at most 10 threads), as ``twisted``
  keeps it. None of them caps requests in flight: treq has no queue or client limit of its own.

- over https: ``agent=Agent(reactor, contextFactory=OncePerHost(trust_root), pool=pool)``, made in ``start``
  (treq takes a CA only through an agent of one's own; ``strategies.shared._twisted``): one pyOpenSSL
  context per host.

as-written: ``treq.get(url)`` (``treq.post(url, data=body)``) and ``treq.content``, the admission and the
deadline kept (the harness's admission and the workload's timeout). Defaults kept:
- the global pool ``HTTPConnectionPool(reactor, persistent=True)``, ``maxPersistentPerHost=2``,
  ``cachedConnectionTimeout=240``: **the recipe keeps connections alive**, the one recipe here that does.
  No ``Connection: close`` is sent, and a connection whose response is done is back in the pool before
  the next request is admitted, so C connections carry a whole round; between rounds only 2 stay cached
  (one more going idle closes the oldest), so every round after the first opens C - 2. Its as-written
  rows are therefore ``keepalive`` rows, the only ones of the profile (the registry's
  ``as_written_policy``); no cap on requests in flight (the pool caches idle connections, it never queues);
- the global pool is the process's and outlives the fetcher: ``close`` closes its cached connections, so
  none stays open after the fetcher, and the next as-written fetcher in the worker gets the same, empty,
  pool;
- over https: ``treq.get(url, agent=Agent(reactor, contextFactory=BrowserLikePolicyForHTTPS(trustRoot=CA),
  pool=<the global pool>))``, the agent made once in ``start`` as a recipe makes it once, on the same global
  pool the recipe's requests share; the policy makes a context for every connection (Twisted's idiom).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import treq
from treq.api import default_pool, get_global_pool
from twisted.internet.defer import Deferred
from twisted.web.client import Agent, BrowserLikePolicyForHTTPS, HTTPConnectionPool
from twisted.web.iweb import IResponse

from strategies.base import ClientConfig, Outcome
from strategies.shared._twisted import OncePerHost, ReactorRunner, reactor, trust_root

#: How ``ClientConfig.body`` is encoded; treq would set it only for a dict of fields.
FORM: dict[bytes | str, bytes | str] = {"Content-Type": "application/x-www-form-urlencoded"}


class TreqFetcher:
    def __init__(self, config: ClientConfig):
        self._config = config
        self._runner = ReactorRunner(config.concurrency, config.timeout_s)
        self._pool: HTTPConnectionPool | None = None
        if not config.as_written:
            self._pool = self._runner.call(HTTPConnectionPool, reactor, persistent=config.policy == "keepalive")
            self._pool.maxPersistentPerHost = config.concurrency
        self._headers = FORM if config.method == "POST" else None
        self._body = config.body if config.method == "POST" else None
        #: Over https, treq's way to a CA: an agent of one's own (on the fetcher's pool, or the recipe's global one).
        self._agent: Any = self._runner.call(self._open_agent) if config.tls else None

    def _open_agent(self) -> Any:  # an IAgent: Twisted types it as a zope interface
        if self._pool is None:
            policy = BrowserLikePolicyForHTTPS(trustRoot=trust_root(self._config))
            return Agent(reactor, contextFactory=policy, pool=default_pool(reactor, None, None))
        return Agent(reactor, contextFactory=OncePerHost(trust_root(self._config)), pool=self._pool)

    def fetch(self, urls: Sequence[str]) -> list[Outcome]:
        return self._runner.fetch(urls, self._request)

    def _request(self, url: str, started: float) -> Deferred[Outcome]:
        if self._pool is None:  # as-written: the recipe, treq's global pool
            if self._config.method == "POST":
                response = treq.post(url, data=self._body, headers=self._headers, agent=self._agent)
            else:
                response = treq.get(url, agent=self._agent)
        else:  # an agent (https) has the pool already: treq then takes no pool of its own
            response = treq.request(self._config.method, url, data=self._body, headers=self._headers,
                                    pool=self._pool, agent=self._agent)
        return response.addCallback(_read_response, started)

    def close(self) -> None:
        pool = self._pool or get_global_pool()
        if pool is not None:  # None: as-written never made a request, so treq never made its pool
            self._runner.call(pool.closeCachedConnections)


def _read_response(response: IResponse, started: float) -> Deferred[Outcome]:
    return treq.content(response).addCallback(lambda body: Outcome.ok(response.code, body, started))


def start(config: ClientConfig) -> TreqFetcher:
    return TreqFetcher(config)
