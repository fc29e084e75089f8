"""A raw-socket HTTP client for the server tests: send exact bytes, read what comes back.

Rules this module keeps: every read has a timeout (a broken server fails a test, never hangs it); responses
are parsed with httptools' response parser, so the tests do not trust a hand-written parser either.
"""

from __future__ import annotations

import selectors
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httptools

#: Per-read timeout: generous for a loaded 2-core CI box, short enough to fail fast on a hang.
READ_TIMEOUT_S = 10.0


@dataclass
class Response:
    status: int
    headers: dict[bytes, bytes]
    body: bytes


@dataclass
class Exchange:
    """What came back on one connection."""

    responses: list[Response] = field(default_factory=list)
    closed: bool = False  # the server closed (EOF) or reset the connection
    reset: bool = False
    garbage: bool = False  # bytes that are not an HTTP response


class _Collector:
    def __init__(self) -> None:
        self.done: list[Response] = []
        self.headers: dict[bytes, bytes] = {}
        self.body = b""
        self.status = 0
        self.parser = httptools.HttpResponseParser(self)

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.lower()] = value

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.done.append(Response(self.status, self.headers, self.body))
        self.headers, self.body = {}, b""


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def connect(url: str) -> socket.socket:
    sock = socket.create_connection(address(url), timeout=READ_TIMEOUT_S)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_responses(sock: socket.socket, count: int | None = None,
                   timeout: float = READ_TIMEOUT_S) -> Exchange:
    """Read until ``count`` responses arrived (None: until the server closes)."""
    collector = _Collector()
    result = Exchange(collector.done)
    deadline = time.monotonic() + timeout
    while count is None or len(collector.done) < count:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            result.closed = result.reset = True
            break
        if not data:
            result.closed = True
            break
        try:
            collector.parser.feed_data(data)
        except httptools.HttpParserError:
            result.garbage = True
            break
    return result


def exchange(url: str, data: bytes, count: int | None = None, chunk: int | None = None,
             timeout: float = READ_TIMEOUT_S) -> Exchange:
    """Send ``data`` on a new connection (in ``chunk``-byte writes if given) and read the answers."""
    with connect(url) as sock:
        if chunk is None:
            sock.sendall(data)
        else:
            for start in range(0, len(data), chunk):
                sock.sendall(data[start:start + chunk])
        return read_responses(sock, count, timeout)


def get(url: str, target: str, headers: str = "", version: str = "1.1") -> Response:
    """One GET on a fresh connection that asks to close."""
    request = f"GET {target} HTTP/{version}\r\nHost: t\r\nConnection: close\r\n{headers}\r\n".encode()
    result = exchange(url, request, 1)
    assert len(result.responses) == 1, result
    return result.responses[0]


def read_many(socks: list[socket.socket], count: int = 1, timeout: float = 30.0) -> list[Exchange]:
    """Read ``count`` responses from each socket concurrently (one selector, no threads)."""
    collectors = [_Collector() for _ in socks]
    results = [Exchange(c.done) for c in collectors]
    pending = {}
    with selectors.DefaultSelector() as selector:
        for index, sock in enumerate(socks):
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ, index)
            pending[index] = sock
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for key, _ in selector.select(max(0.0, deadline - time.monotonic())):
                index = key.data
                result, collector = results[index], collectors[index]
                try:
                    data = pending[index].recv(65536)
                except BlockingIOError:
                    continue
                except ConnectionResetError:
                    data, result.reset = b"", True
                try:
                    collector.parser.feed_data(data)
                except httptools.HttpParserError:
                    result.garbage = True
                if not data:
                    result.closed = True
                if not data or result.garbage or len(result.responses) >= count:
                    selector.unregister(pending.pop(index))
    return results
