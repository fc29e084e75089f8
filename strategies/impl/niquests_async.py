"""niquests-async: niquests' ``AsyncSession`` on one reused asyncio loop, its pool sized to C.

The session is ``strategies.shared._niquests``' (``pool_connections=1, pool_maxsize=C, retries=0``, ``trust_env``
off: why, and every knob), made on the fetcher's loop and closed before it; C admission tasks in front
(``strategies.shared._aio``), as for aiohttp and httpx. So ``niquests-async`` against ``niquests`` is the model (asyncio
against C threads) on one library, and against ``aiohttp`` the library on one model.

as-written: the README's ``async with niquests.AsyncSession() as session: await session.get(url, ...)``
per URL, under the same admission. Defaults kept: a session per call, closed after its one response, so
every request opens its own connection and the default ``pool_maxsize=10`` never binds: the admission's C
is the only cap. One default ``AsyncSession()`` shared by every request would cap the round at **10 in
flight** (measured peak 10 at C=50), a keep-alive recipe that as-written does not run. Only the default
timeout is replaced, by ``timeout_s``; ``trust_env`` stays True.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import niquests

from strategies.base import ClientConfig, Outcome
from strategies.shared._aio import LoopRunner
from strategies.shared._niquests import new_async_session, send_kwargs


class NiquestsAsyncFetcher:
    def __init__(self, config: ClientConfig):
        self._config = config
        self._runner = LoopRunner(config.concurrency)
        self._kwargs = send_kwargs(config)
        self._session: niquests.AsyncSession | None = (
            None if config.as_written else self._runner.run(self._open_session()))

    async def _open_session(self) -> niquests.AsyncSession:
        return new_async_session(self._config.concurrency)  # inside the running loop: its pool's locks belong to it

    def fetch(self, urls: Sequence[str]) -> list[Outcome]:
        return self._runner.fetch(urls, self._request)

    async def _request(self, url: str, started: float) -> Outcome:
        if self._session is None:
            async with niquests.AsyncSession() as session:
                response = await self._send(session, url)
        else:
            response = await self._send(self._session, url)
        return Outcome.ok(response.status_code, response.content, started)

    async def _send(self, session: niquests.AsyncSession, url: str) -> Any:
        # Not streamed: the whole body is read before the response comes back, its connection released.
        return await session.request(self._config.method, url, **self._kwargs)

    def close(self) -> None:
        if self._session is not None:
            self._runner.run(self._session.close())
        self._runner.close()


def start(config: ClientConfig) -> NiquestsAsyncFetcher:
    return NiquestsAsyncFetcher(config)
