"""asyncio: ``asyncio.open_connection`` streams, HTTP through the sans-IO ``strategies.http1``.

Knobs, all explicit:
- C admission tasks cap requests in flight, each taking the next URL when its request is done
  (``strategies._aio``);
- keep-alive: a LIFO list of idle (reader, writer) pairs; only a request in flight takes or returns one,
  so at most C connections ever exist;
- ``asyncio.timeout(timeout_s)`` bounds each request from connect to last body byte;
- one event loop, made in ``start`` and reused by every ``fetch``: loop creation stays out of the timed
  region, like every other strategy's setup. Which loop is ``new_loop``'s choice: asyncio's own here, uvloop's
  in ``strategies.uvloop_streams``, the same code on both.

as-written: the same code. asyncio's streams have no hidden cap (no pool, no client limit) to keep at a
default; the recipe's hand-written HTTP/1.0 request opens a connection per request, which is what
``close`` already does here (HTTP/1.1 with ``Connection: close``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from strategies._aio import LoopRunner, NewLoop, exchange
from strategies.base import ClientConfig, Outcome
from strategies.http1 import build_request, host_header, split_url

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class AsyncioFetcher:
    def __init__(self, config: ClientConfig, new_loop: NewLoop = asyncio.new_event_loop):
        self._config = config
        self._keepalive = config.policy == "keepalive"
        self._runner = LoopRunner(config.concurrency, new_loop)
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
                host, port, target = split_url(url)
                conn = self._idle.pop() if self._idle else await asyncio.open_connection(host, port)
                request = build_request(self._config.method, host_header(host, port), target,
                                        keepalive=self._keepalive, body=self._config.body)
                response, reusable = await exchange(request, conn[1].write, conn[0].read)
        except BaseException:
            if conn is not None:
                conn[1].close()
            raise
        if self._keepalive and reusable:
            self._idle.append(conn)
        else:
            conn[1].close()
        return Outcome.ok(response.status, response.body, started)

    def close(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()
        self._runner.close()


def _closed(conn: Connection) -> bool:
    return conn[0].at_eof() or conn[1].is_closing()


def start(config: ClientConfig) -> AsyncioFetcher:
    return AsyncioFetcher(config)
