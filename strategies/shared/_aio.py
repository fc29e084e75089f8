"""What the asyncio-based strategies share: one event loop per fetcher, and C workers taking turns at the URLs.

Kept in one place so that ``asyncio``, ``uvloop``, ``aiohttp``, ``httpx``, ``tornado`` and ``tornado-raw``
differ only in how one request is made (diff them: that is the point), never in how requests are admitted,
timed or reported.

Rules this module keeps:
- the loop is made in ``start`` (untimed) by ``new_loop`` (asyncio's own unless the strategy measures
  another implementation of it: ``uvloop``) and every ``fetch`` runs on it with ``run_until_complete``: loop
  creation never lands in a timed round, and the libraries' connection pools, bound to the loop, survive
  from round to round;
- C worker tasks per round cap requests in flight: each takes the round's next URL when its request is done
  (``strategies.shared._rounds``), so a library is never handed more than C. A library's own queue would start its
  timeout while a request waits there (aiohttp, tornado), so requests queued behind C others would time
  out without ever being sent. The ``as-written`` profile keeps them too: they are the harness's
  admission, not a tuning; what a library's defaults then hold back (tornado's ``max_clients=10``) is the
  result that profile measures;
- why C tasks taking turns and not the recipe's task per URL behind ``asyncio.Semaphore(C)``: that cost
  ~65,000 instructions more per request when measured on 2026-11-24 (N tasks made at once, each waiting on the semaphore and woken,
  and a gather of N), a third of the ``asyncio`` strategy's request, all of it the harness's and none of it
  the library's (docs/methodology.md, "What the shared code costs per request");
- a library strategy's ``request(url, started)`` (``LoopRunner.fetch``) gets ``started`` taken when its
  worker takes the URL, so latency covers the request, not the wait for a slot; any exception is that
  slot's outcome, never ``fetch``'s exception;
- the codec strategies on streams (``asyncio``, ``uvloop``, ``tornado-raw``) are a ``StreamFetcher``: each of
  its C workers (``StreamWorker``) owns at most one connection, opened by its first request, reused by its
  next ones under ``keepalive``, dropped when a request on it fails or the response does not leave it
  reusable; a connection per request under ``close``. They differ only in ``open``, how a connection is made
  and read (asyncio's streams or tornado's ``IOStream``). Their deadline is ``strategies.shared._deadlines``' queue
  (``asyncio.timeout`` per request cost 40,100 instructions, the queue 3,400, measured on 2026-12-07:
  see the deadlines' module): an expired
  request's task is cancelled, the cancellation taken back (``Task.uncancel``) and reported as
  ``TimeoutError``. A connection left idle between rounds that the server closed (its idle timeout) is seen
  by the loop, which gets one turn before the round (its EOF), and dropped by the worker before its first
  request; a reused connection that fails is an error, not retried, as in the other codec strategies.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, Protocol, cast

from strategies.base import ClientConfig, Outcome
from strategies.shared._codec import FULL, Features, Key, checked, new_codec
from strategies.shared._deadlines import Deadlines
from strategies.shared._rounds import Round

#: Makes one request; gets the URL and when it was admitted, returns its outcome or raises.
FetchOne = Callable[[str, float], Awaitable[Outcome]]
#: Makes the fetcher's event loop: ``asyncio.new_event_loop`` or another implementation's (``uvloop``).
NewLoop = Callable[[], asyncio.AbstractEventLoop]


class LoopRunner:
    """An event loop owned by one fetcher, and the bounded fan-out the library strategies' rounds use."""

    def __init__(self, concurrency: int, new_loop: NewLoop = asyncio.new_event_loop):
        self.concurrency = concurrency
        self.loop = new_loop()

    def run(self, awaitable: Awaitable[Any]) -> Any:
        return self.loop.run_until_complete(awaitable)

    def fetch(self, urls: Sequence[str], request: FetchOne) -> list[Outcome]:
        return self.run(self._fetch_all(urls, request))

    async def _fetch_all(self, urls: Sequence[str], request: FetchOne) -> list[Outcome]:
        round_ = Round(urls)
        tasks = min(self.concurrency, len(urls))
        await asyncio.gather(*(_admit(round_.source, request, round_.slots) for _ in range(tasks)))
        return round_.outcomes()

    def close(self) -> None:
        # One more turn lets closing transports finish, so none is reported unclosed at loop close.
        self.run(asyncio.sleep(0))
        self.run(self.loop.shutdown_asyncgens())
        self.loop.close()


async def _admit(queue: Iterator[tuple[int, str]], request: FetchOne, outcomes: list[Outcome | None]) -> None:
    """One of the C worker tasks of a library strategy: requests the next URL of ``queue`` until none is left."""
    for slot, url in queue:
        started = time.perf_counter()
        try:
            outcomes[slot] = await request(url, started)
        except Exception as exc:  # noqa: BLE001 - every failure is this slot's outcome, never fetch's exception
            outcomes[slot] = Outcome.failed(exc, started)


#: How much one read of a stream asks for: a small response in one call, a 256 KiB body in a few.
READ_BYTES = 65536


class Stream(Protocol):
    """One connection as a ``StreamWorker`` uses it. ``read(n)`` returns up to n bytes, ``b""`` once the peer
    has closed; ``closed()`` is whether the loop has seen it end (asked once per round)."""

    def write(self, data: bytes) -> object: ...

    def read(self, size: int) -> Awaitable[bytes]: ...

    def close(self) -> None: ...

    def closed(self) -> bool: ...


class StreamFetcher:
    """A codec strategy on a loop's streams: C ``StreamWorker`` tasks a round, each on a connection of its own.

    A subclass says how a connection is made (``open``) and closes what it made (``close``)."""

    def __init__(self, config: ClientConfig, features: Features = FULL,
                 new_loop: NewLoop = asyncio.new_event_loop):
        self._runner = LoopRunner(config.concurrency, new_loop)
        self.config = config
        self.features = features
        self.codec = new_codec(config, features)
        self.deadlines = Deadlines(config.timeout_s, self._runner.loop.call_later) if features.deadline else None
        self._workers = [StreamWorker(self) for _ in range(config.concurrency)]

    async def open(self, key: Key) -> Stream:
        raise NotImplementedError

    def fetch(self, urls: Sequence[str]) -> list[Outcome]:
        # A turn of the loop first, so that it sees the EOFs that arrived on idle connections meanwhile.
        self._runner.run(asyncio.sleep(0))
        return cast(list[Outcome], self._runner.run(self._fetch_all(Round(urls))))

    async def _fetch_all(self, round_: Round) -> list[Outcome]:
        await asyncio.gather(*(worker.drain(round_) for worker in self._workers[:len(round_.slots)]))
        return round_.outcomes()

    def close(self) -> None:
        for worker in self._workers:
            worker.drop()
        if self.deadlines is not None:
            self.deadlines.close()
        self._runner.close()


class StreamWorker:
    """One of a ``StreamFetcher``'s C workers: the round's next URL, on its connection, until none is left."""

    __slots__ = ("_fetcher", "_key", "_stream", "_task", "deadline", "expired")

    def __init__(self, fetcher: StreamFetcher):
        self._fetcher = fetcher
        self._stream: Stream | None = None
        self._key: Key | None = None
        self._task: asyncio.Task[Any] | None = None
        #: Its request's entry in the fetcher's ``Deadlines`` while one is in flight.
        self.deadline: tuple[float, Any] | None = None
        self.expired = False

    async def drain(self, round_: Round) -> None:
        self._task = asyncio.current_task()
        if self._stream is not None and self._stream.closed():  # the server closed it while it was idle
            self.drop()
        slots = round_.slots
        for slot, url in round_.source:
            slots[slot] = await self.request(url)

    async def request(self, url: str) -> Outcome:
        fetcher = self._fetcher
        features, deadlines = fetcher.features, fetcher.deadlines
        started = time.perf_counter() if deadlines is not None or features.record else 0.0
        try:
            if deadlines is not None:
                deadlines.start(self, started)
            key, data = fetcher.codec.request(url)
            stream = self._stream
            if stream is None or key != self._key:
                self.drop()
                self._stream = stream = await fetcher.open(key)
                self._key = key
            stream.write(data)
            parser = fetcher.codec.parser()
            while True:
                chunk = await stream.read(READ_BYTES)
                if parser.feed(chunk) if chunk else parser.feed_eof():
                    break
            self.deadline = None
            response = parser.response
            assert response is not None
            # ``chunk`` empty: the response ended on EOF, the server has closed this connection.
            if not (fetcher.config.policy == "keepalive" and parser.keep_alive and not parser.trailing and chunk):
                self.drop()
            if features.record:
                return Outcome.ok(response.status, response.body, started)
            return checked(features, response.status, response.body)
        except asyncio.CancelledError:
            if not self.expired:
                raise
            self.expired = False
            self._task.uncancel()  # type: ignore[union-attr]
            self.drop()
            return Outcome.failed(TimeoutError(f"no complete response within {fetcher.config.timeout_s} s"),
                                  started)
        except Exception as exc:  # noqa: BLE001 - every failure is this slot's outcome, never fetch's exception
            self.deadline = None
            self.drop()
            return Outcome.failed(exc, started)

    def expire(self) -> None:
        """Its request's deadline has passed (``Deadlines``): cancel what the request is waiting for."""
        self.expired = True
        self._task.cancel()  # type: ignore[union-attr]

    def drop(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
