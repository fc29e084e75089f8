"""tornado-raw: our sans-IO HTTP (``strategies.http1``) on tornado's ``TCPClient`` and ``IOStream``.

The ``tornado`` strategy's loop without ``simple_httpclient``: ``tornado`` against ``tornado-raw`` is what
the HTTP client costs per request, and tornado's loop gets a keep-alive row, which its simple client
cannot have. Against ``asyncio`` (the same loop underneath, ``asyncio.open_connection``'s streams) it is
the cost of tornado's ``IOStream`` layer: the two are one ``strategies.shared._aio.StreamFetcher`` and differ only
in ``open``, how a connection is made and read.

Knobs, all explicit:
- C worker tasks a round on one reused loop, each taking the next URL when its request is done and owning
  at most one stream, reused under ``keepalive`` (``strategies.shared._aio.StreamFetcher``), as ``asyncio``;
- connections: ``TCPClient(resolver=...).connect(host, port)`` with a resolver that passes an IP literal
  through as its own address. Tornado's default resolver calls ``loop.getaddrinfo``, a thread-pool round
  trip per connection even for ``127.0.0.1`` (asyncio's ``open_connection`` skips it for an IP literal);
  a host name is still resolved by it;
- reads: ``read_bytes(65536, partial=True)``; ``StreamClosedError`` is the peer's EOF, or, when it carries
  one, the real error (a reset is ``ConnectionResetError``). A stream the server closed while idle is seen
  closed before the next round (tornado listens for reads on idle streams);
- a total deadline of ``timeout_s`` per request, from when it is issued to its last body byte: the
  deadlines' queue of ``strategies.shared._deadlines`` as for ``asyncio`` (measured per request on 2026-12-07: tornado's
  ``gen.with_timeout`` 139,000 instructions, ``asyncio.timeout`` 32,400, the queue 3,900-6,800); a failed or
  timed-out request closes its stream;
- over https: ``connect(host, port, ssl_options=context)`` (its ``server_hostname`` is the host; tornado's
  ``SSLIOStream``), the context ``strategies.tls.client_context``, made once in ``start`` for both profiles
  (the HTTP is ours: no recipe's way to keep).

``features`` turns the codec strategy's pieces off for the rungs of the model ladder (``strategies.shared._codec``,
``python -m bench.ladder``); the strategy is ``FULL``.

as-written: the same code. The HTTP is ours, so there is no library default to keep; as-written rows are
``close`` rows, a connection per request, as every recipe opens.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from tornado.iostream import IOStream, StreamClosedError
from tornado.netutil import DefaultLoopResolver
from tornado.tcpclient import TCPClient

from strategies.base import ClientConfig
from strategies.shared._aio import StreamFetcher
from strategies.shared._codec import FULL, Features, Key
from strategies.tls import client_context


class _LiteralResolver(DefaultLoopResolver):
    """An IP literal is its own address; anything else goes through tornado's default resolver."""

    async def resolve(self, host: str, port: int,
                      family: socket.AddressFamily = socket.AF_UNSPEC) -> list[tuple[int, Any]]:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return await super().resolve(host, port, family)
        return [(socket.AF_INET6 if address.version == 6 else socket.AF_INET, (host, port))]


class _Stream:
    """An ``IOStream`` as ``strategies.shared._aio.Stream``."""

    __slots__ = ("_stream", "close", "closed", "write")

    def __init__(self, stream: IOStream):
        self._stream = stream
        self.write, self.close, self.closed = stream.write, stream.close, stream.closed

    async def read(self, size: int) -> bytes:
        """Up to ``size`` bytes as they arrive; ``b""`` once the peer has closed, as asyncio's streams say it."""
        try:
            return await self._stream.read_bytes(size, partial=True)
        except StreamClosedError as exc:
            if exc.real_error is not None:
                raise exc.real_error from None
            return b""


class TornadoRawFetcher(StreamFetcher):
    def __init__(self, config: ClientConfig, features: Features = FULL):
        super().__init__(config, features)
        self._tcp = TCPClient(resolver=_LiteralResolver())
        self._ssl = client_context(config) if config.tls else None

    async def open(self, key: Key) -> _Stream:
        if self._ssl is None:
            return _Stream(await self._tcp.connect(*key))
        return _Stream(await self._tcp.connect(*key, ssl_options=self._ssl))  # the host is its server_hostname

    def close(self) -> None:
        super().close()
        self._tcp.close()


def start(config: ClientConfig, features: Features = FULL) -> TornadoRawFetcher:
    return TornadoRawFetcher(config, features)
