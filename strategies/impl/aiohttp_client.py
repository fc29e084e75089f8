"""aiohttp: one ``ClientSession`` with a ``TCPConnector`` limited to C, on one reused event loop.

Knobs, all explicit:
- ``TCPConnector(limit=C, limit_per_host=C)``: the defaults (100 in total, unlimited per host) would cap
  C above 100 and let a pool grow past C; ``force_close=True`` under ``close`` opens a new connection per
  request, closes it after the response and makes aiohttp send ``Connection: close`` itself;
- C admission tasks in front of the connector (``strategies.shared._aio``): the connector alone would also
  hold C, but aiohttp starts a request's ``ClientTimeout`` before it waits for a free connection, so at
  N >> C healthy requests time out without ever being sent (21 of 40 at limit=1, delay 50 ms, total=1 s);
- ``ClientTimeout(total=timeout_s)``, passed with each request (so both profiles set it in one place),
  bounds it from connect to last body byte (the default is 300 s total, 30 s to connect);
- the session is made on the fetcher's loop and closed before it, so no transport is left unclosed;
- over https: ``TCPConnector(ssl=context)``, the context ``strategies.tls.client_context``, made once in
  ``start``; as-written passes ``ssl=`` a context made per call, as the recipe's ``aiohttp.request`` makes a
  session (and connector) per call.

as-written: ``async with aiohttp.request(method, url) as response`` per URL, under the same admission.
Defaults kept: ``aiohttp.request`` makes a ClientSession with its own ``TCPConnector(force_close=True)``
per call and closes both after it, so every request opens its own connection (aiohttp sends
``Connection: close`` itself) and the connector's default ``limit=100`` never binds: the admission's C is
the only cap. Only the default ``ClientTimeout`` (300 s total) is replaced, by ``total=timeout_s``.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager

import aiohttp

from strategies.base import ClientConfig, Outcome
from strategies.shared._aio import LoopRunner
from strategies.tls import client_context

#: ``aiohttp.request`` (the recipe: a session per call) or ``ClientSession.request`` (tuned: one session).
Send = Callable[..., AbstractAsyncContextManager[aiohttp.ClientResponse]]


class AiohttpFetcher:
    def __init__(self, config: ClientConfig):
        self._config = config
        self._runner = LoopRunner(config.concurrency)
        self._timeout = aiohttp.ClientTimeout(total=config.timeout_s)
        self._session: aiohttp.ClientSession | None = (
            None if config.as_written else self._runner.run(self._open_session()))
        form = {"Content-Type": "application/x-www-form-urlencoded"}  # how ClientConfig.body is encoded
        self._headers = form if config.method == "POST" else {}

    async def _open_session(self) -> aiohttp.ClientSession:
        # Made inside the running loop: aiohttp binds session and connector to it.
        connector = aiohttp.TCPConnector(
            limit=self._config.concurrency, limit_per_host=self._config.concurrency,
            force_close=self._config.policy == "close", ssl=self._ssl(),
        )
        return aiohttp.ClientSession(connector=connector)

    def fetch(self, urls: Sequence[str]) -> list[Outcome]:
        return self._runner.fetch(urls, self._request)

    async def _request(self, url: str, started: float) -> Outcome:
        # The recipe: a session per call, and so a context per call over https; tuned: the connector's.
        send: Send = aiohttp.request if self._session is None else self._session.request
        async with send(
            self._config.method, url, data=self._config.body or None, headers=self._headers,
            timeout=self._timeout, ssl=self._ssl() if self._session is None else True,
        ) as response:
            return Outcome.ok(response.status, await response.read(), started)

    def _ssl(self) -> ssl.SSLContext | bool:
        """A new verifying context over https; aiohttp's default otherwise (``True``: its own, verifying)."""
        return client_context(self._config) if self._config.tls else True

    def close(self) -> None:
        # ClientSession.close awaits the connector closing its transports, so none outlives the loop.
        if self._session is not None:
            self._runner.run(self._session.close())
        self._runner.close()


def start(config: ClientConfig) -> AiohttpFetcher:
    return AiohttpFetcher(config)
