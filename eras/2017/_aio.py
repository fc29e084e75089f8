"""What the era's asyncio recipes share (``asyncio``, ``asyncio-executor``, ``aiohttp``): today's
``strategies/shared/_aio.py`` on Python 3.6's asyncio.

- one event loop per fetcher, made in ``start`` (untimed), every ``fetch`` run on it with
  ``run_until_complete`` (3.6 has no ``asyncio.run``; the libraries' pools, bound to the loop, survive from
  round to round);
- C admission tasks in front of the library, each taking the next URL when its request is done;
  ``started`` taken on admission; any exception of one request is that slot's outcome.
"""

import asyncio
import time

import _outcome


class LoopRunner:
    def __init__(self, concurrency):
        self.concurrency = concurrency
        self.loop = asyncio.new_event_loop()

    def run(self, awaitable):
        return self.loop.run_until_complete(awaitable)

    def fetch(self, urls, request):
        return self.run(self._fetch_all(urls, request))

    async def _fetch_all(self, urls, request):
        outcomes = [None] * len(urls)
        queue = iter(enumerate(urls))  # shared by the admission tasks: each URL is taken once, in order
        tasks = min(self.concurrency, len(urls))
        await asyncio.gather(*(_admit(queue, request, outcomes) for _ in range(tasks)), loop=self.loop)
        return outcomes

    def close(self):
        self.run(asyncio.sleep(0, loop=self.loop))  # one more turn: closing transports finish
        self.run(self.loop.shutdown_asyncgens())
        self.loop.close()


async def _admit(queue, request, outcomes):
    for slot, url in queue:
        started = time.perf_counter()
        try:
            outcomes[slot] = await request(url, started)
        except Exception as exc:  # noqa: BLE001 - every failure is this slot's outcome
            outcomes[slot] = _outcome.failed(exc, started)
