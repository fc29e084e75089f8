"""tornado-raw: our sans-IO HTTP (``strategies.http1``) on tornado's ``TCPClient`` and ``IOStream``.

The ``tornado`` strategy's loop without ``simple_httpclient``: ``tornado`` against ``tornado-raw`` is what
the HTTP client costs per request, and tornado's loop gets a keep-alive row, which its simple client
cannot have. Against ``asyncio`` (the same loop underneath, ``asyncio.open_connection``'s streams) it is
the cost of tornado's ``IOStream`` layer: the two differ only in the I/O calls (``strategies._aio.exchange``
makes the request in both).

Knobs, all explicit:
- C admission tasks and one reused loop (``strategies._aio.LoopRunner``), as ``tornado``;
- connections: ``TCPClient(resolver=...).connect(host, port)`` with a resolver that passes an IP literal
  through as its own address. Tornado's default resolver calls ``loop.getaddrinfo``, a thread-pool round
  trip per connection even for ``127.0.0.1`` (asyncio's ``open_connection`` skips it for an IP literal);
  a host name is still resolved by it;
- requests: ``write(http1.build_request(...))``, then ``read_bytes(65536, partial=True)`` into a fresh
  ``ResponseParser`` until it is complete; ``StreamClosedError`` is the peer's EOF (``feed_eof``), or, when
  it carries one, the real error (a reset is ``ConnectionResetError``);
- ``keepalive``: a LIFO list of idle streams; only a request in flight takes or returns one,
  so at most C connections ever exist. A stream goes back only when the server agreed to keep it, the
  response did not end on EOF and nothing followed it; one the server closed while idle is dropped before
  the next round (the loop sees its EOF: tornado listens for reads on idle streams). A reused connection
  that fails is an error, not retried, as in the other codec strategies;
- ``close``: ``Connection: close`` on every request, a new connection per request, closed after it;
- ``asyncio.timeout(timeout_s)`` bounds each request from connect to last body byte; a failed or
  timed-out request closes its stream.

as-written: the same code. The HTTP is ours, so there is no library default to keep; as-written rows are
``close`` rows, a connection per request, as every recipe opens.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
from collections.abc import Sequence
from typing import Any

from tornado.iostream import IOStream, StreamClosedError
from tornado.netutil import DefaultLoopResolver
from tornado.tcpclient import TCPClient

from strategies._aio import LoopRunner, exchange
from strategies.base import ClientConfig, Outcome
from strategies.http1 import build_request, host_header, split_url


class _LiteralResolver(DefaultLoopResolver):
    """An IP literal is its own address; anything else goes through tornado's default resolver."""

    async def resolve(self, host: str, port: int,
                      family: socket.AddressFamily = socket.AF_UNSPEC) -> list[tuple[int, Any]]:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return await super().resolve(host, port, family)
        return [(socket.AF_INET6 if address.version == 6 else socket.AF_INET, (host, port))]


class TornadoRawFetcher:
    def __init__(self, config: ClientConfig):
        self._config = config
        self._keepalive = config.policy == "keepalive"
        self._runner = LoopRunner(config.concurrency)
        self._tcp = TCPClient(resolver=_LiteralResolver())
        self._idle: list[IOStream] = []

    def fetch(self, urls: Sequence[str]) -> list[Outcome]:
        # Let the loop see EOFs that arrived on idle connections while it was not running.
        self._runner.run(asyncio.sleep(0))
        self._idle = [stream for stream in self._idle if not stream.closed()]
        return self._runner.fetch(urls, self._request)

    async def _request(self, url: str, started: float) -> Outcome:
        stream: IOStream | None = None
        try:
            async with asyncio.timeout(self._config.timeout_s):
                host, port, target = split_url(url)
                stream = self._idle.pop() if self._idle else await self._tcp.connect(host, port)
                request = build_request(self._config.method, host_header(host, port), target,
                                        keepalive=self._keepalive, body=self._config.body)
                response, reusable = await exchange(request, stream.write, functools.partial(_read, stream))
        except BaseException:
            if stream is not None:
                stream.close()
            raise
        if self._keepalive and reusable:
            self._idle.append(stream)
        else:
            stream.close()
        return Outcome.ok(response.status, response.body, started)

    def close(self) -> None:
        for stream in self._idle:
            stream.close()
        self._idle.clear()
        self._tcp.close()
        self._runner.close()


async def _read(stream: IOStream, size: int) -> bytes:
    """Up to ``size`` bytes as they arrive; ``b""`` once the peer has closed, as asyncio's streams say it."""
    try:
        return await stream.read_bytes(size, partial=True)
    except StreamClosedError as exc:
        if exc.real_error is not None:
            raise exc.real_error from None
        return b""


def start(config: ClientConfig) -> TornadoRawFetcher:
    return TornadoRawFetcher(config)
