"""aiohttp: one ``ClientSession`` with a ``TCPConnector`` limited to C, on one reused event loop.

Knobs, all explicit:
- ``TCPConnector(limit=C, limit_per_host=C)``: the defaults (100 in total, unlimited per host) would cap
  C above 100 and let a pool grow past C; ``force_close=True`` under ``close`` opens a new connection per
  request, closes it after the response and makes aiohttp send ``Connection: close`` itself;
- ``asyncio.Semaphore(C)`` caps requests in flight in front of the connector. The connector alone would
  also hold C, but a request waiting for a free connection is already inside its ``ClientTimeout``
  (aiohttp starts the timer before acquiring the connection): at N >> C healthy requests time out
  without ever being sent (21 of 40 at limit=1, delay 50 ms, total=1 s). Behind the semaphore the
  timeout and ``started`` cover the request itself, as in every other strategy;
- ``ClientTimeout(total=timeout_s)`` bounds each request from connect to last body byte (the default is
  300 s total, 30 s to connect);
- one event loop, made in ``start`` and reused by every ``fetch`` (run_until_complete), closed in ``close``
  after the session, so no transport is left unclosed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import aiohttp

from strategies.base import ClientConfig, Outcome


class AiohttpFetcher:
    def __init__(self, config: ClientConfig):
        self._config = config
        self._loop = asyncio.new_event_loop()
        self._session = self._loop.run_until_complete(self._open_session())
        form = {"Content-Type": "application/x-www-form-urlencoded"}  # how ClientConfig.body is encoded
        self._headers = form if config.method == "POST" else {}

    async def _open_session(self) -> aiohttp.ClientSession:
        # Made inside the running loop: aiohttp binds session and connector to it.
        connector = aiohttp.TCPConnector(
            limit=self._config.concurrency, limit_per_host=self._config.concurrency,
            force_close=self._config.policy == "close",
        )
        timeout = aiohttp.ClientTimeout(total=self._config.timeout_s)
        return aiohttp.ClientSession(connector=connector, timeout=timeout)

    def fetch(self, urls: Sequence[str]) -> list[Outcome]:
        return self._loop.run_until_complete(self._fetch_all(urls))

    async def _fetch_all(self, urls: Sequence[str]) -> list[Outcome]:
        semaphore = asyncio.Semaphore(self._config.concurrency)
        return await asyncio.gather(*(self._fetch_one(url, semaphore) for url in urls))

    async def _fetch_one(self, url: str, semaphore: asyncio.Semaphore) -> Outcome:
        async with semaphore:
            started = time.perf_counter()
            try:
                async with self._session.request(
                    self._config.method, url, data=self._config.body or None, headers=self._headers,
                ) as response:
                    return Outcome.ok(response.status, await response.read(), started)
            except Exception as exc:  # every failure is this slot's outcome, never fetch's exception
                return Outcome.failed(exc, started)

    def close(self) -> None:
        # ClientSession.close awaits the connector closing its transports, so none outlives the loop.
        self._loop.run_until_complete(self._session.close())
        self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        self._loop.close()


def start(config: ClientConfig) -> AiohttpFetcher:
    return AiohttpFetcher(config)
