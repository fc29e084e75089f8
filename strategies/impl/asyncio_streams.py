"""asyncio: ``asyncio.open_connection`` streams, HTTP through the sans-IO ``strategies.http1``.

Knobs, all explicit:
- C worker tasks a round, each taking the next URL when its request is done and owning at most one
  connection (a ``(reader, writer)`` pair), reused under ``keepalive``: at most C connections ever exist
  (``strategies.shared._aio.StreamFetcher``);
- a total deadline of ``timeout_s`` per request, from when it is issued to its last body byte: the
  deadlines' queue of ``strategies.shared._deadlines``, one timer for the oldest request (``asyncio.timeout``
  per request cost 40,100 instructions, the queue 3,400, measured on 2026-12-07: see that module);
- one event loop, made in ``start`` and reused by every ``fetch``: loop creation stays out of the timed
  region, like every other strategy's setup. Which loop is ``new_loop``'s choice: asyncio's own here, uvloop's
  in ``strategies.impl.uvloop_streams``, the same code on both.

Over https: ``asyncio.open_connection(host, port, ssl=context, server_hostname=host)``, the context
``strategies.tls.client_context``, made once in ``start`` for both profiles (the HTTP is ours: no recipe's
way to keep); asyncio's TLS runs in Python over a memory BIO (``asyncio.sslproto``), uvloop's in Cython.

``features`` turns the codec strategy's pieces off for the rungs of the model ladder (``strategies.shared._codec``,
``python -m bench.ladder``); the strategy is ``FULL``.

as-written: the same code. asyncio's streams have no hidden cap (no pool, no client limit) to keep at a
default; the recipe's hand-written HTTP/1.0 request opens a connection per request, which is what
``close`` already does here (HTTP/1.1 with ``Connection: close``).
"""

from __future__ import annotations

import asyncio

from strategies.base import ClientConfig
from strategies.shared._aio import NewLoop, StreamFetcher
from strategies.shared._codec import FULL, Features, Key
from strategies.tls import client_context


class _Streams:
    """A ``(reader, writer)`` pair as ``strategies.shared._aio.Stream``: their own methods, no call in between."""

    __slots__ = ("_reader", "_writer", "close", "read", "write")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self._reader, self._writer = reader, writer
        self.write, self.read, self.close = writer.write, reader.read, writer.close

    def closed(self) -> bool:
        return self._reader.at_eof() or self._writer.is_closing()


class AsyncioFetcher(StreamFetcher):
    def __init__(self, config: ClientConfig, features: Features = FULL,
                 new_loop: NewLoop = asyncio.new_event_loop):
        super().__init__(config, features, new_loop)
        self._ssl = client_context(config) if config.tls else None

    async def open(self, key: Key) -> _Streams:
        if self._ssl is None:
            return _Streams(*await asyncio.open_connection(*key))
        return _Streams(*await asyncio.open_connection(*key, ssl=self._ssl, server_hostname=key[0]))


def start(config: ClientConfig, features: Features = FULL) -> AsyncioFetcher:
    return AsyncioFetcher(config, features)
