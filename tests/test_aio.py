"""``strategies._aio``: ``exchange``, one request over a stream as the codec strategies on streams make it,
and ``LoopRunner``'s admission of C requests at a time.

In memory, with a scripted ``read``: what is written, what comes back, and above all when the connection
may carry another request, which decides whether ``asyncio`` and ``tornado-raw`` reuse it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from strategies._aio import READ_BYTES, LoopRunner, exchange
from strategies.base import Outcome
from strategies.http1 import ProtocolError

REQUEST = b"GET /work HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


def _reader(chunks: list[bytes]) -> tuple[Callable[[int], Awaitable[bytes]], list[int]]:
    """A ``read`` that returns ``chunks`` one per call, then ``b""`` (the peer closed); and its sizes asked."""
    asked: list[int] = []

    async def read(size: int) -> bytes:
        asked.append(size)
        return chunks.pop(0) if chunks else b""

    return read, asked


def _exchange(chunks: list[bytes]) -> tuple[int, bytes, bool, list[bytes], list[int]]:
    written: list[bytes] = []
    read, asked = _reader(chunks)
    response, reusable = asyncio.run(exchange(REQUEST, written.append, read))
    return response.status, response.body, reusable, written, asked


def test_a_kept_alive_response_leaves_the_connection_reusable() -> None:
    status, body, reusable, written, asked = _exchange([OK[:20], OK[20:]])
    assert (status, body, reusable) == (200, b"hello", True)
    assert written == [REQUEST]
    assert asked == [READ_BYTES, READ_BYTES]  # stops at the response's end, never waits for more


@pytest.mark.parametrize("chunks", [
    [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"],  # the server will close
    [b"HTTP/1.1 200 OK\r\n\r\nhello"],  # a body only the close delimits: complete on EOF, connection gone
    [OK + b"HTTP/1.1 200 OK\r\n"],  # bytes after the response: the connection's state is unknown
], ids=["connection-close", "eof-delimited", "trailing-bytes"])
def test_a_connection_that_cannot_carry_another_request_is_not_reusable(chunks: list[bytes]) -> None:
    status, body, reusable, _, _ = _exchange(chunks)
    assert (status, body, reusable) == (200, b"hello", False)


@pytest.mark.parametrize("chunks", [[], [OK[:-2]], [b"garbage\r\n\r\n"]], ids=["nothing", "truncated", "garbage"])
def test_an_incomplete_or_malformed_response_raises(chunks: list[bytes]) -> None:
    with pytest.raises(ProtocolError):
        _exchange(chunks)


def test_a_read_error_propagates() -> None:
    async def read(size: int) -> bytes:
        raise ConnectionResetError("reset by peer")

    with pytest.raises(ConnectionResetError):
        asyncio.run(exchange(REQUEST, lambda data: None, read))


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
    assert admitted == urls and peak == min(n, concurrency)
    assert [o.body for o in outcomes] == [None if u.endswith("3") else u.encode() for u in urls]
    assert all(o.error == "ConnectionResetError: reset by peer" for o in outcomes if o.body is None)
