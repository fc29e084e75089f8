"""httpx: one ``AsyncClient`` (httpcore's pool, h11, anyio) limited to C, on one reused event loop.

Knobs, all explicit:
- ``Limits(max_connections=C, max_keepalive_connections=C)``: the defaults (100 / 20) would cap C at 100
  and, above 20 connections, close every connection returned to the pool (httpcore compares the *total*
  number of connections with ``max_keepalive_connections``), so keep-alive would not be keep-alive above
  C=20;
- ``http1=True, http2=False``: HTTP/1.1 over h11, as every other strategy speaks (the defaults, stated);
- ``close`` sends ``Connection: close``: h11 then ends the connection after the response (its state is
  ``MUST_CLOSE``, not ``DONE``) whatever the server answers, and httpcore closes it and drops it from the
  pool, so every request opens its own connection; the pool's limits stay C, as under keep-alive;
- C admission tasks in front of the client (``strategies.shared._aio``), like aiohttp's connector: httpx's
  *pool* timeout runs while a request waits for a connection (httpcore restarts it each time one comes
  back), so healthy requests queued in the pool behind C stalled ones fail with ``PoolTimeout``, never
  sent (tests/test_httpx_client.py). A request admitted always finds a free slot (a response is closed, its
  connection back in the pool, before its admission task takes the next URL), so no request waits there;
- ``Timeout(timeout_s)``: httpx has no total timeout: it bounds each phase on its own (the wait for a
  pool slot, the connect, every read, every write), as requests does, so a stall is caught after
  ``timeout_s`` of silence. The default is 5 s per phase;
- ``keepalive_expiry`` stays at its default, 5 s: a connection left idle that long is closed. Rounds run
  back to back, so this never closes a pooled connection between rounds;
- the client is made on the fetcher's loop and closed before it, so no connection outlives the loop.

What keep-alive costs (httpcore 1.0.9; measured on 2026-11-24, docs/strategies.md, "httpx's keep-alive"). This is httpx as pip
installs it, and none of it is worked around here:
- when a connection comes back, the pool hands that one idle connection to *every* waiting request. All
  but one wake, fail with ``ConnectionNotAvailable`` and scan the pool again, polling each idle socket.
  The connections the pool never picks expire after 5 s; at C=50 (20 ms a request) no more than 28 of 50
  requests were in flight;
- with no ``sniffio`` installed (anyio >= 4.11 no longer requires it), every lock, event and cancel
  shield httpcore sets up tries ``import sniffio`` and fails: 9 to 14 failed imports per request, each a
  fresh search of ``sys.path``.

as-written: ``async with httpx.AsyncClient() as client: await client.request(method, url)`` per URL,
under the same admission: the recipe a request handler or a script writes when it needs one call (httpx's
docs warn against it in a loop). Defaults kept: a client (and a pool, and an SSL context with certifi's
CA bundle loaded, even for plain http) per call, closed after its one response, so every request opens its
own connection and ``Limits``' default ``max_connections=100`` never binds: the admission's C is the only
cap. Only the default ``Timeout(5.0)`` is replaced, by ``timeout_s``. The other common recipe, one client
with default limits for all requests, reuses connections: it is a keep-alive recipe, which as-written does
not run (``strategies.base.AS_WRITTEN_KEEPALIVE_REASON``); its defaults would cap C at 100 and churn
connections above 20.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from strategies.base import ClientConfig, Outcome
from strategies.shared._aio import LoopRunner


class HttpxFetcher:
    def __init__(self, config: ClientConfig):
        self._config = config
        self._runner = LoopRunner(config.concurrency)
        self._timeout = httpx.Timeout(config.timeout_s)
        self._client: httpx.AsyncClient | None = (
            None if config.as_written else self._runner.run(self._open_client()))
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if config.method == "POST" else {}
        if config.policy == "close" and not config.as_written:
            headers["Connection"] = "close"
        self._headers = headers

    async def _open_client(self) -> httpx.AsyncClient:
        # Made inside the running loop, like aiohttp's session: the pool's locks belong to it.
        c = self._config.concurrency
        return httpx.AsyncClient(
            limits=httpx.Limits(max_connections=c, max_keepalive_connections=c),
            timeout=self._timeout, http1=True, http2=False,
        )

    def fetch(self, urls: Sequence[str]) -> list[Outcome]:
        return self._runner.fetch(urls, self._request)

    async def _request(self, url: str, started: float) -> Outcome:
        if self._client is None:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await self._send(client, url)
        else:
            response = await self._send(self._client, url)
        return Outcome.ok(response.status_code, response.content, started)

    async def _send(self, client: httpx.AsyncClient, url: str) -> httpx.Response:
        # Reads the whole body and closes the response, so its connection is back in the pool (or closed).
        return await client.request(self._config.method, url, content=self._config.body or None,
                                    headers=self._headers)

    def close(self) -> None:
        if self._client is not None:
            self._runner.run(self._client.aclose())
        self._runner.close()


def start(config: ClientConfig) -> HttpxFetcher:
    return HttpxFetcher(config)
