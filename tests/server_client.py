"""A raw-socket HTTP client for the server tests: send exact bytes, read what comes back.

Rules this module keeps: every read has a timeout (a broken server fails a test, never hangs it); requests
are the tests' own bytes, sent as given (malformed ones included), while responses are parsed by the
suite's one response parser, ``strategies.http1``, one ``ResponseParser`` per response as it requires.
Given an ``ssl.SSLContext`` (``context=``), a connection speaks TLS, its handshake done before any byte is
sent, verified against the context's CA and the URL's host.
"""

from __future__ import annotations

import bisect
import selectors
import socket
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from strategies.http1 import ProtocolError, Response, ResponseParser

#: Per-read timeout: generous for a loaded 2-core CI box, short enough to fail fast on a hang.
READ_TIMEOUT_S = 10.0


@dataclass
class Exchange:
    """What came back on one connection."""

    responses: list[Response] = field(default_factory=list)
    closed: bool = False  # the server closed (EOF) or reset the connection
    reset: bool = False
    garbage: bool = False  # bytes that are not an HTTP response
    #: Why the server's close left a response incomplete (``strategies.http1``'s message), e.g. a body
    #: shorter than its Content-Length; empty when it did not.
    truncated: str = ""


def _response_end(data: bytes, low: int) -> int:
    """Length of the response at the start of ``data``, known to be longer than ``low`` bytes.

    ``ResponseParser`` reads one response and cannot say where it ended (httptools reports no offset), but
    pipelined responses arrive back to back. A prefix of ``data`` completes a fresh parser if and only if it
    holds the whole first response, so the end is the shortest such prefix, found by bisection."""
    return bisect.bisect_left(range(len(data) + 1), True, lo=low + 1,
                              key=lambda size: ResponseParser().feed(data[:size]))


class _Reader:
    """The responses of one connection, in order, from the bytes received on it."""

    def __init__(self) -> None:
        self.result = Exchange()
        self._parser = ResponseParser()
        self._pending = bytearray()  # bytes received since the response being read began

    def receive(self, data: bytes) -> None:
        """Feed what one recv returned; ``b""`` is the server's close (it ends an EOF-delimited body)."""
        result = self.result
        if not data:
            result.closed = True
            try:
                if self._parser.feed_eof():
                    result.responses.append(self._take())
            except ProtocolError as exc:
                if self._pending:  # else nothing had begun: a close between responses is no error
                    result.truncated = str(exc)
            return
        self._pending += data
        try:
            while self._parser.feed(data):
                trailing = self._parser.trailing  # the next response began in the same bytes
                received = bytes(self._pending) if trailing else b""
                result.responses.append(self._take())
                if not trailing:
                    return
                data = received[_response_end(received, len(received) - len(data)):]
                self._pending += data
        except ProtocolError:
            result.garbage = True

    def _take(self) -> Response:
        response = self._parser.response
        assert response is not None
        self._parser, self._pending = ResponseParser(), bytearray()
        return response


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    return parts.hostname, parts.port


def connect(url: str, context: ssl.SSLContext | None = None) -> socket.socket:
    sock = socket.create_connection(address(url), timeout=READ_TIMEOUT_S)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if context is None:
        return sock
    try:
        return context.wrap_socket(sock, server_hostname=address(url)[0])
    except BaseException:
        sock.close()
        raise


def read_responses(sock: socket.socket, count: int | None = None,
                   timeout: float = READ_TIMEOUT_S) -> Exchange:
    """Read until ``count`` responses arrived (None: until the server closes)."""
    reader = _Reader()
    result = reader.result
    deadline = time.monotonic() + timeout
    while (count is None or len(result.responses) < count) and not result.closed and not result.garbage:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            data, result.reset = b"", True
        reader.receive(data)
    return result


def exchange(url: str, data: bytes, count: int | None = None, chunk: int | None = None,
             timeout: float = READ_TIMEOUT_S, context: ssl.SSLContext | None = None) -> Exchange:
    """Send ``data`` on a new connection (in ``chunk``-byte writes if given) and read the answers."""
    with connect(url, context) as sock:
        if chunk is None:
            sock.sendall(data)
        else:
            for start in range(0, len(data), chunk):
                sock.sendall(data[start:start + chunk])
        return read_responses(sock, count, timeout)


def get(url: str, target: str, headers: str = "", version: str = "1.1",
        context: ssl.SSLContext | None = None) -> Response:
    """One GET on a fresh connection that asks to close."""
    request = f"GET {target} HTTP/{version}\r\nHost: t\r\nConnection: close\r\n{headers}\r\n".encode()
    result = exchange(url, request, 1, context=context)
    assert len(result.responses) == 1, result
    return result.responses[0]


def read_many(socks: list[socket.socket], count: int = 1, timeout: float = 30.0) -> list[Exchange]:
    """Read ``count`` responses from each socket concurrently (one selector, no threads)."""
    readers = [_Reader() for _ in socks]
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
                result = readers[index].result
                sock = pending[index]
                try:
                    data = sock.recv(65536)
                    while data and isinstance(sock, ssl.SSLSocket) and sock.pending():
                        data += sock.recv(65536)  # decrypted already: the selector will not report it
                except (BlockingIOError, ssl.SSLWantReadError):
                    continue
                except ConnectionResetError:
                    data, result.reset = b"", True
                readers[index].receive(data)
                if result.closed or result.garbage or len(result.responses) >= count:
                    selector.unregister(pending.pop(index))
    return [reader.result for reader in readers]
