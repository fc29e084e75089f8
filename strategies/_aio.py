"""What the asyncio-based strategies share: one event loop per fetcher, and C requests admitted at a time.

Kept in one place so that ``asyncio``, ``aiohttp`` and ``tornado`` differ only in how one request is made
(diff them: that is the point), never in how requests are admitted, timed or reported.

Rules this module keeps:
- the loop is made in ``start`` (untimed) and every ``fetch`` runs on it with ``run_until_complete``: loop
  creation never lands in a timed round, and the libraries' connection pools, bound to the loop, survive
  from round to round;
- ``asyncio.Semaphore(C)`` in front of the library caps requests in flight; one task per URL waits on it.
  A library's own queue would start its timeout while a request waits there (aiohttp, tornado), so
  requests queued behind C others would time out without ever being sent. The ``as-written`` profile keeps
  it too: it is the harness's admission, not a tuning; what a library's defaults then hold back (tornado's
  ``max_clients=10``) is the result that profile measures;
- ``started`` is taken on admission, so latency covers the request, not the wait for a slot;
- any exception from one request is that slot's outcome, never ``fetch``'s exception.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from strategies.base import Outcome

#: Makes one request; gets the URL and when it was admitted, returns its outcome or raises.
Request = Callable[[str, float], Awaitable[Outcome]]


class LoopRunner:
    """An event loop owned by one fetcher, and the bounded fan-out every round uses."""

    def __init__(self, concurrency: int):
        self.concurrency = concurrency
        self.loop = asyncio.new_event_loop()

    def run(self, awaitable: Awaitable[Any]) -> Any:
        return self.loop.run_until_complete(awaitable)

    def fetch(self, urls: Sequence[str], request: Request) -> list[Outcome]:
        return self.run(self._fetch_all(urls, request))

    async def _fetch_all(self, urls: Sequence[str], request: Request) -> list[Outcome]:
        semaphore = asyncio.Semaphore(self.concurrency)
        return await asyncio.gather(*(_admitted(url, semaphore, request) for url in urls))

    def close(self) -> None:
        # One more turn lets closing transports finish, so none is reported unclosed at loop close.
        self.run(asyncio.sleep(0))
        self.run(self.loop.shutdown_asyncgens())
        self.loop.close()


async def _admitted(url: str, semaphore: asyncio.Semaphore, request: Request) -> Outcome:
    async with semaphore:
        started = time.perf_counter()
        try:
            return await request(url, started)
        except Exception as exc:  # noqa: BLE001 - every failure is this slot's outcome, never fetch's exception
            return Outcome.failed(exc, started)
