"""asyncio: ``asyncio.open_connection`` streams, HTTP through the sans-IO ``strategies.http1``.

Knobs, all explicit:
- ``asyncio.Semaphore(C)`` caps requests in flight; one task per URL waits on it (the canonical pattern);
- keep-alive: a LIFO list of idle (reader, writer) pairs; only a request holding the semaphore takes or
  returns one, so at most C connections ever exist;
- ``asyncio.timeout(timeout_s)`` bounds each request from connect to last body byte;
- one event loop, made in ``start`` and reused by every ``fetch`` (run_until_complete), closed in ``close``:
  loop creation stays out of the timed region, like every other strategy's setup.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

from strategies.base import ClientConfig, Outcome
from strategies.http1 import ResponseParser, build_request

#: StreamReader.read chunk: a small response in one call, a 256 KiB body in a few.
READ_BYTES = 65536

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class AsyncioFetcher:
    def __init__(self, config: ClientConfig):
        self._config = config
        self._keepalive = config.policy == "keepalive"
        self._loop = asyncio.new_event_loop()
        self._idle: list[Connection] = []

    def fetch(self, urls: Sequence[str]) -> list[Outcome]:
        return self._loop.run_until_complete(self._fetch_all(urls))

    async def _fetch_all(self, urls: Sequence[str]) -> list[Outcome]:
        # Let the loop see EOFs that arrived on idle connections while it was not running.
        await asyncio.sleep(0)
        self._idle = [conn for conn in self._idle if not _closed(conn)]
        semaphore = asyncio.Semaphore(self._config.concurrency)
        return await asyncio.gather(*(self._fetch_one(url, semaphore) for url in urls))

    async def _fetch_one(self, url: str, semaphore: asyncio.Semaphore) -> Outcome:
        async with semaphore:
            started = time.perf_counter()
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
            except Exception as exc:  # noqa: BLE001 - every failure is this slot's outcome, never fetch's exception
                if conn is not None:
                    conn[1].close()
                return Outcome.failed(exc, started)
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
        # One more turn lets the transports finish closing, so none is reported unclosed at loop close.
        self._loop.run_until_complete(asyncio.sleep(0))
        self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        self._loop.close()


def _closed(conn: Connection) -> bool:
    return conn[0].at_eof() or conn[1].is_closing()


def start(config: ClientConfig) -> AsyncioFetcher:
    return AsyncioFetcher(config)
