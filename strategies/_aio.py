"""What the asyncio-based strategies share: one event loop per fetcher, and C requests admitted at a time.

Kept in one place so that ``asyncio``, ``uvloop``, ``aiohttp``, ``httpx``, ``tornado`` and ``tornado-raw``
differ only in how one request is made (diff them: that is the point), never in how requests are admitted,
timed or reported.

Rules this module keeps:
- the loop is made in ``start`` (untimed) by ``new_loop`` (asyncio's own unless the strategy measures
  another implementation of it: ``uvloop``) and every ``fetch`` runs on it with ``run_until_complete``: loop
  creation never lands in a timed round, and the libraries' connection pools, bound to the loop, survive
  from round to round;
- C admission tasks in front of the library cap requests in flight: each takes the next URL only when its
  request is done, so the library is never handed more than C. A library's own queue would start its
  timeout while a request waits there (aiohttp, tornado), so requests queued behind C others would time
  out without ever being sent. The ``as-written`` profile keeps them too: they are the harness's
  admission, not a tuning; what a library's defaults then hold back (tornado's ``max_clients=10``) is the
  result that profile measures;
- why C tasks taking turns and not the recipe's task per URL behind ``asyncio.Semaphore(C)``: that costs
  ~65,000 instructions more per request (N tasks made at once, each waiting on the semaphore and woken,
  and a gather of N), a third of the ``asyncio`` strategy's request, all of it the harness's and none of it
  the library's (docs/methodology.md, "What the shared code costs per request");
- ``started`` is taken on admission, so latency covers the request, not the wait for a slot;
- any exception from one request is that slot's outcome, never ``fetch``'s exception;
- the codec strategies on streams (``asyncio``, ``tornado-raw``) make a request with ``exchange``, given
  their stream's ``write`` and ``read``: they differ in the I/O calls alone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, cast

from strategies.base import Outcome
from strategies.http1 import Response, ResponseParser

#: Makes one request; gets the URL and when it was admitted, returns its outcome or raises.
FetchOne = Callable[[str, float], Awaitable[Outcome]]
#: Makes the fetcher's event loop: ``asyncio.new_event_loop`` or another implementation's (``uvloop``).
NewLoop = Callable[[], asyncio.AbstractEventLoop]


class LoopRunner:
    """An event loop owned by one fetcher, and the bounded fan-out every round uses."""

    def __init__(self, concurrency: int, new_loop: NewLoop = asyncio.new_event_loop):
        self.concurrency = concurrency
        self.loop = new_loop()

    def run(self, awaitable: Awaitable[Any]) -> Any:
        return self.loop.run_until_complete(awaitable)

    def fetch(self, urls: Sequence[str], request: FetchOne) -> list[Outcome]:
        return self.run(self._fetch_all(urls, request))

    async def _fetch_all(self, urls: Sequence[str], request: FetchOne) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(urls)
        queue = iter(enumerate(urls))  # shared by the admission tasks: each URL is taken once, in order
        tasks = min(self.concurrency, len(urls))
        await asyncio.gather(*(_admit(queue, request, outcomes) for _ in range(tasks)))
        # Every slot is filled: only a BaseException ends an admission task early, and gather raises it.
        return cast(list[Outcome], outcomes)

    def close(self) -> None:
        # One more turn lets closing transports finish, so none is reported unclosed at loop close.
        self.run(asyncio.sleep(0))
        self.run(self.loop.shutdown_asyncgens())
        self.loop.close()


async def _admit(queue: Iterator[tuple[int, str]], request: FetchOne, outcomes: list[Outcome | None]) -> None:
    """One of the C admission tasks: requests the next URL of ``queue`` until none is left."""
    for slot, url in queue:
        started = time.perf_counter()
        try:
            outcomes[slot] = await request(url, started)
        except Exception as exc:  # noqa: BLE001 - every failure is this slot's outcome, never fetch's exception
            outcomes[slot] = Outcome.failed(exc, started)


#: How much one read of a stream asks for: a small response in one call, a 256 KiB body in a few.
READ_BYTES = 65536


async def exchange(request: bytes, write: Callable[[bytes], object],
                   read: Callable[[int], Awaitable[bytes]]) -> tuple[Response, bool]:
    """One request over a stream connection, HTTP through ``strategies.http1``: the codec strategies on
    asyncio's streams and tornado's ``IOStream`` differ only in the ``write`` and ``read`` they pass.

    ``read(n)`` returns up to n bytes, ``b""`` once the peer has closed. Returns the response and whether
    the connection may carry another: the server agreed to keep it, the response did not end on EOF, and
    no byte followed it. Raises ``http1.ProtocolError`` or whatever ``read`` raises."""
    write(request)
    parser = ResponseParser()
    while True:
        data = await read(READ_BYTES)
        if parser.feed(data) if data else parser.feed_eof():
            break
    assert parser.response is not None
    return parser.response, parser.keep_alive and not parser.trailing and bool(data)
