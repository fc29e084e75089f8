"""asyncio: ``asyncio.open_connection`` streams, HTTP through the sans-IO ``strategies.http1``.

Knobs, all explicit:
- ``asyncio.Semaphore(C)`` caps requests in flight; one task per URL waits on it (``strategies._aio``);
- keep-alive: a LIFO list of idle (reader, writer) pairs; only a request holding the semaphore takes or
  returns one, so at most C connections ever exist;
- ``asyncio.timeout(timeout_s)`` bounds each request from connect to last body byte;
- one event loop, made in ``start`` and reused by every ``fetch``: loop creation stays out of the timed
  region, like every other strategy's setup.

as-written: the same code. asyncio's streams have no hidden cap (no pool, no client limit) to keep at a
default; the recipe's hand-written HTTP/1.0 request opens a connection per request, which is what
``close`` already does here (HTTP/1.1 with ``Connection: close``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from urllib.parse import urlsplit

from strategies._aio import LoopRunner
from strategies.base import ClientConfig, Outcome
from strategies.http1 import ResponseParser, build_request

#: StreamReader.read chunk: a small response in one call, a 256 KiB body in a few.
READ_BYTES = 65536

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class AsyncioFetcher:
    def __init__(self, config: ClientConfig):
        self._config = config
        self._keepalive = config.policy == "keepalive"
        self._runner = LoopRunner(config.concurrency)
        self._idle: list[Connection] = []

    def fetch(self, urls: Sequence[str]) -> list[Outcome]:
        # Let the loop see EOFs that arrived on idle connections while it was not running.
        self._runner.run(asyncio.sleep(0))
        self._idle = [conn for conn in self._idle if not _closed(conn)]
        return self._runner.fetch(urls, self._request)

    async def _request(self, url: str, started: float) -> Outcome:
        conn: Connection | None = None
        try:
            async with asyncio.timeout(self._config.timeout_s):
                parts = urlsplit(url)
                host, port = parts.hostname or "127.0.0.1", parts.port or 80
                conn = self._idle.pop() if self._idle else await asyncio.open_connection(host, port)
                target = f"{parts.path}?{parts.query}" if parts.query else parts.path
                conn[1].write(build_request(
                    self._config.method, f"{host}:{port}", target,
                    keepalive=self._keepalive, body=self._config.body))
                parser = ResponseParser()
                while True:
                    data = await conn[0].read(READ_BYTES)
                    if parser.feed(data) if data else parser.feed_eof():
                        break
        except BaseException:
            if conn is not None:
                conn[1].close()
            raise
        if self._keepalive and parser.keep_alive and not parser.trailing and data:
            self._idle.append(conn)
        else:
            conn[1].close()
        assert parser.response is not None
        return Outcome.ok(parser.response.status, parser.response.body, started)

    def close(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()
        self._runner.close()


def _closed(conn: Connection) -> bool:
    return conn[0].at_eof() or conn[1].is_closing()


def start(config: ClientConfig) -> AsyncioFetcher:
    return AsyncioFetcher(config)
