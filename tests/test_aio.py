"""``strategies.shared._aio``: ``StreamWorker``, the codec strategies' worker on a stream, and ``LoopRunner``'s
admission of C requests at a time.

In memory, with scripted streams: what is written, what comes back, and above all when the connection
may carry another request, which decides whether ``asyncio``, ``uvloop`` and ``tornado-raw`` reuse it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from strategies.base import ClientConfig, Outcome
from strategies.shared._aio import READ_BYTES, LoopRunner, StreamFetcher
from strategies.shared._codec import Key

URL = "http://h:80/work"
REQUEST = b"GET /work HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


class _Script:
    """One connection: each ``read`` returns the next chunk, then ``b""`` (the peer closed); records what
    was written and asked, and whether it was closed."""

    def __init__(self, chunks: Sequence[bytes | BaseException]):
        self.chunks = list(chunks)
        self.written: list[bytes] = []
        self.asked: list[int] = []
        self.is_closed = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    async def read(self, size: int) -> bytes:
        self.asked.append(size)
        chunk = self.chunks.pop(0) if self.chunks else b""
        if isinstance(chunk, BaseException):
            raise chunk
        return chunk

    def close(self) -> None:
        self.is_closed = True

    def closed(self) -> bool:
        return self.is_closed


class _Scripted(StreamFetcher):
    """A ``StreamFetcher`` whose connections are the given scripts, one per ``open``."""

    def __init__(self, scripts: list[_Script], timeout_s: float = 5.0):
        super().__init__(ClientConfig(1, "keepalive", timeout_s=timeout_s))
        self.scripts = scripts
        self.opened = 0

    async def open(self, key: Key) -> _Script:
        self.opened += 1
        return self.scripts.pop(0)


def _fetch(*connections: Sequence[bytes | BaseException], urls: int = 1) -> tuple[list[Outcome], _Scripted,
                                                                                 list[_Script]]:
    scripts = [_Script(chunks) for chunks in connections]
    fetcher = _Scripted(list(scripts))
    try:
        return fetcher.fetch([URL] * urls), fetcher, scripts
    finally:
        fetcher.close()


def test_a_kept_alive_response_leaves_the_connection_reusable() -> None:
    outcomes, fetcher, (conn,) = _fetch([OK[:20], OK[20:], OK], urls=2)
    assert [(o.status, o.body) for o in outcomes] == [(200, b"hello")] * 2
    assert fetcher.opened == 1
    assert conn.written == [REQUEST, REQUEST]
    assert conn.asked == [READ_BYTES] * 3  # stops at each response's end, never waits for more


@pytest.mark.parametrize("chunks", [
    [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"],  # the server will close
    [b"HTTP/1.1 200 OK\r\n\r\nhello"],  # a body only the close delimits: complete on EOF, connection gone
    [OK + b"HTTP/1.1 200 OK\r\n"],  # bytes after the response: the connection's state is unknown
], ids=["connection-close", "eof-delimited", "trailing-bytes"])
def test_a_connection_that_cannot_carry_another_request_is_not_reused(chunks: list[bytes]) -> None:
    outcomes, fetcher, (first, _) = _fetch(chunks, [OK], urls=2)
    assert [(o.status, o.body) for o in outcomes] == [(200, b"hello")] * 2
    assert fetcher.opened == 2
    assert first.is_closed


@pytest.mark.parametrize("chunks", [[], [OK[:-2]], [b"garbage\r\n\r\n"], [ConnectionResetError("reset by peer")]],
                         ids=["nothing", "truncated", "garbage", "reset"])
def test_an_incomplete_or_failed_response_is_its_slots_error_and_drops_the_connection(
        chunks: list[bytes | BaseException]) -> None:
    outcomes, fetcher, (failed, _) = _fetch(chunks, [OK], urls=2)
    kind = "ConnectionResetError" if chunks and isinstance(chunks[0], BaseException) else "ProtocolError"
    assert outcomes[0].error is not None, outcomes[0]
    assert outcomes[0].error.startswith(kind), outcomes[0]
    assert (outcomes[1].status, outcomes[1].body) == (200, b"hello")  # on a new connection: never re-sent
    assert failed.is_closed
    assert fetcher.opened == 2
    assert failed.written == [REQUEST]


def test_a_request_past_its_deadline_is_a_timeout_and_the_worker_goes_on() -> None:
    class _Stalled(_Script):
        async def read(self, size: int) -> bytes:
            await asyncio.sleep(3600)
            return b""

    stalled = _Stalled([])
    fetcher = _Scripted([stalled, _Script([OK])], timeout_s=0.05)
    try:
        outcomes = fetcher.fetch([URL, URL])
    finally:
        fetcher.close()
    assert outcomes[0].error is not None, outcomes[0]
    assert outcomes[0].error.startswith("TimeoutError"), outcomes[0]
    assert outcomes[0].latency_s >= 0.05
    assert stalled.is_closed
    assert (outcomes[1].status, outcomes[1].body) == (200, b"hello")


# -- LoopRunner's admission: C tasks taking turns ----------------------------------------------------------

@pytest.mark.parametrize(("n", "concurrency"), [(0, 3), (2, 3), (10, 3), (7, 1)])
def test_admission_holds_c_in_flight_and_fills_every_slot_in_order(n: int, concurrency: int) -> None:
    in_flight, peak, admitted = 0, 0, []

    async def request(url: str, started: float) -> Outcome:
        nonlocal in_flight, peak
        admitted.append(url)
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.001 * (len(url) % 3))  # finish out of order
        in_flight -= 1
        if url.endswith("3"):
            raise ConnectionResetError("reset by peer")
        return Outcome.ok(200, url.encode(), started)

    runner = LoopRunner(concurrency)
    try:
        urls = [f"u{k}" * (k % 3 + 1) for k in range(n)]
        outcomes = runner.fetch(urls, request)
    finally:
        runner.close()
    assert admitted == urls
    assert peak == min(n, concurrency)
    assert [o.body for o in outcomes] == [None if u.endswith("3") else u.encode() for u in urls]
    assert all(o.error == "ConnectionResetError: reset by peer" for o in outcomes if o.body is None)
