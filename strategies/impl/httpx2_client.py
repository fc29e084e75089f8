"""httpx2: httpx's maintained fork (pydantic/httpx2, httpcore2's pool), as ``httpx``: one ``AsyncClient``
limited to C on one reused event loop.

The fetcher is ``strategies.shared._httpx``'s, the one ``httpx`` runs, given the ``httpx2`` module: the two rows
differ only in the library, so ``httpx2`` against ``httpx`` is the fork's pool against the original's.

Knobs, all explicit (httpx's, for the same reasons: ``strategies.impl.httpx_client``):
- ``Limits(max_connections=C, max_keepalive_connections=C)``: the defaults (100 / 20) would cap C at 100
  and, above 20 idle connections, close the surplus as they come back. httpcore2 counts only *idle*
  connections against ``max_keepalive_connections`` (httpx's httpcore 1.0.9 counts all of them), so a
  shared default client at C=50 reopens 30 connections a wave (httpx's: 80);
- ``http1=True, http2=False``, ``Timeout(timeout_s)`` per phase (pool wait, connect, each read, each
  write: no total), ``Connection: close`` under ``close``, C admission tasks in front, the client made on
  the fetcher's loop and closed before it: as for httpx.

What the fork changed, and this strategy measures (httpcore2 2.17.0): each released connection is
assigned to one queued request (2.8.0, pydantic/httpx2#1075, the half of encode/httpcore#1035 that httpx
still lacks), so no request is woken to fail with ``ConnectionNotAvailable``; an idle connection already
assigned is not handed out again; sniffio's availability is cached (2.11.0); idle connections are no longer
polled per request (2.17.0). So tuned keep-alive holds C in flight (the tests assert exactly C, where
httpx's row promises no share of it).

as-written: ``async with httpx2.AsyncClient() as client: await client.request(method, url)`` per URL
(httpx2's README shows ``httpx2.get(url)``, a client per call), under the same admission. Defaults kept: a
client per call, closed after its one response, so every request opens its own connection and
``Limits``' default ``max_connections=100`` never binds: the admission's C is the only cap. Each client
also builds an SSL context from the OS trust store (truststore), even for plain http: the recipe's cost,
kept. Only the default ``Timeout(5.0)`` is replaced, by ``timeout_s``.
"""

from __future__ import annotations

import httpx2

from strategies.base import ClientConfig
from strategies.shared._httpx import HttpxFetcher


def start(config: ClientConfig) -> HttpxFetcher:
    return HttpxFetcher(config, httpx2)
