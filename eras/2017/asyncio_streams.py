"""asyncio (2017): ``asyncio.open_connection`` streams on Python 3.6, HTTP parsed by httptools 0.0.10; today's
``strategies/impl/asyncio_streams.py`` on the old interpreter.

As today: C admission tasks (``_aio``); under ``keepalive`` a LIFO list of idle connections that only a
request in flight takes or returns (at most C connections); a request of HTTP/1.1 with ``Connection: close``
or ``keep-alive``, the bytes today's ``http1.build_request`` sends; a connection is reused only when the
server agreed and the response did not end on EOF; each request bounded from connect to last body byte.
The as-written recipe is the same code, as today: streams have no hidden cap to keep.

What differs, as the 2017 stack does it: the parser is httptools 0.0.10 (joyent's http-parser; today's
codec runs httptools 0.7 on llhttp), driven here by its callbacks, since ``strategies/http1.py`` is today's
code and does not run on 3.6; the timeout is ``async_timeout.timeout`` (2.0.0, installed with aiohttp), the
library 3.11's ``asyncio.timeout`` came from, since 3.6 has only ``wait_for``, which costs a task per request.
"""

import asyncio
from urllib.parse import urlsplit

import async_timeout
import httptools

import _outcome
from _aio import LoopRunner

#: How much one read asks for: a small response in one call, a 256 KiB body in a few (today's READ_BYTES).
READ_BYTES = 65536


class ProtocolError(Exception):
    """The peer sent something that is not a complete HTTP/1.x response (today's ``http1.ProtocolError``)."""


class _Response:
    """httptools' callbacks: the body's pieces, and whether the message is complete."""

    def __init__(self):
        self.pieces = []
        self.complete = False

    def on_body(self, body):
        self.pieces.append(body)

    def on_message_complete(self):
        self.complete = True


def _split(url):
    parts = urlsplit(url)
    target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
    return parts.hostname, parts.port or 80, target


class AsyncioFetcher:
    def __init__(self, config):
        self._config = config
        self._keepalive = config.policy == "keepalive"
        self._runner = LoopRunner(config.concurrency)
        self._idle = []

    def fetch(self, urls):
        self._runner.run(asyncio.sleep(0, loop=self._runner.loop))  # let the loop see EOFs on idle connections
        self._idle = [conn for conn in self._idle if not _closed(conn)]
        return self._runner.fetch(urls, self._request)

    async def _request(self, url, started):
        conn = None
        try:
            with async_timeout.timeout(self._config.timeout_s, loop=self._runner.loop):
                host, port, target = _split(url)
                conn = self._idle.pop() if self._idle else await asyncio.open_connection(
                    host, port, loop=self._runner.loop)
                status, body, reusable = await _exchange(self._head(host, port, target), conn)
        except BaseException:
            if conn is not None:
                conn[1].close()
            raise
        if self._keepalive and reusable:
            self._idle.append(conn)
        else:
            conn[1].close()
        return _outcome.ok(status, body, started)

    def _head(self, host, port, target):
        config = self._config
        connection = "keep-alive" if self._keepalive else "close"
        head = f"{config.method} {target} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: {connection}\r\n"
        if config.body or config.method == "POST":
            head += f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(config.body)}\r\n"
        return (head + "\r\n").encode("latin-1") + config.body

    def close(self):
        for _, writer in self._idle:
            writer.close()
        self._idle = []
        self._runner.close()


async def _exchange(request, conn):
    """One request on a connection: (status, body, whether the connection may carry another)."""
    reader, writer = conn
    writer.write(request)
    response = _Response()
    parser = httptools.HttpResponseParser(response)
    data = b""
    while not response.complete:
        data = await reader.read(READ_BYTES)
        try:
            parser.feed_data(data)  # b"": EOF, which ends a body that has no length
        except httptools.HttpParserError as exc:
            raise ProtocolError(f"malformed response: {exc}") from exc
        if not data and not response.complete:
            raise ProtocolError("the connection closed before the response was complete")
    return parser.get_status_code(), b"".join(response.pieces), parser.should_keep_alive() and bool(data)


def _closed(conn):
    return conn[0].at_eof() or conn[1].transport.is_closing()


def start(config):
    return AsyncioFetcher(config)
