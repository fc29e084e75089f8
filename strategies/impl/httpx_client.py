"""httpx: one ``AsyncClient`` (httpcore's pool, h11, anyio) limited to C, on one reused event loop.

The fetcher is ``strategies.shared._httpx``'s, shared with ``httpx2`` (the fork, ``strategies.impl.httpx2_client``): the
two rows differ only in the library imported.

Knobs, all explicit:
- ``Limits(max_connections=C, max_keepalive_connections=C)``: the defaults (100 / 20) would cap C at 100
  and, above 20 connections, close every connection returned to the pool (httpcore compares the *total*
  number of connections with ``max_keepalive_connections``), so keep-alive would not be keep-alive above
  C=20;
- ``http1=True, http2=False``: HTTP/1.1 over h11, as every other strategy speaks (the defaults, stated);
- ``close`` sends ``Connection: close``: h11 then ends the connection after the response (its state is
  ``MUST_CLOSE``, not ``DONE``) whatever the server answers, and httpcore closes it and drops it from the
  pool, so every request opens its own connection; the pool's limits stay C, as under keep-alive;
- C admission tasks in front of the client (``strategies.shared._aio``), like aiohttp's connector: httpx's
  *pool* timeout runs while a request waits for a connection (httpcore restarts it each time one comes
  back), so healthy requests queued in the pool behind C stalled ones fail with ``PoolTimeout``, never
  sent (tests/test_httpx_client.py). A request admitted always finds a free slot (a response is closed, its
  connection back in the pool, before its admission task takes the next URL), so no request waits there;
- ``Timeout(timeout_s)``: httpx has no total timeout: it bounds each phase on its own (the wait for a
  pool slot, the connect, every read, every write), as requests does, so a stall is caught after
  ``timeout_s`` of silence. The default is 5 s per phase;
- ``keepalive_expiry`` stays at its default, 5 s: a connection left idle that long is closed. Rounds run
  back to back, so this never closes a pooled connection between rounds;
- the client is made on the fetcher's loop and closed before it, so no connection outlives the loop.

What keep-alive costs (httpcore 1.0.9; measured on 2026-11-24, docs/strategies.md, "httpx's keep-alive"). This is httpx as pip
installs it, and none of it is worked around here:
- when a connection comes back, the pool hands that one idle connection to *every* waiting request. All
  but one wake, fail with ``ConnectionNotAvailable`` and scan the pool again, polling each idle socket.
  The connections the pool never picks expire after 5 s; at C=50 (20 ms a request) no more than 28 of 50
  requests were in flight;
- with no ``sniffio`` installed (anyio >= 4.11 no longer requires it), every lock, event and cancel
  shield httpcore sets up tries ``import sniffio`` and fails: 9 to 14 failed imports per request, each a
  fresh search of ``sys.path``. trio requires sniffio, so a venv with the ``trio`` extra (``all`` has it)
  no longer pays this, and the pool's order of waking changes with it: at C=50 (20 ms a request) 35-50
  in flight with sniffio, 27-33 without. The row records sniffio's presence only through the venv it ran in.

as-written: ``async with httpx.AsyncClient() as client: await client.request(method, url)`` per URL,
under the same admission: the recipe a request handler or a script writes when it needs one call (httpx's
docs warn against it in a loop). Defaults kept: a client (and a pool, and an SSL context with certifi's
CA bundle loaded, even for plain http) per call, closed after its one response, so every request opens its
own connection and ``Limits``' default ``max_connections=100`` never binds: the admission's C is the only
cap. Only the default ``Timeout(5.0)`` is replaced, by ``timeout_s``. The other common recipe, one client
with default limits for all requests, reuses connections: it is a keep-alive recipe, which as-written does
not run (``strategies.base.AS_WRITTEN_KEEPALIVE_REASON``); its defaults would cap C at 100 and churn
connections above 20.
"""

from __future__ import annotations

import httpx

from strategies.base import ClientConfig
from strategies.shared._httpx import HttpxFetcher


def start(config: ClientConfig) -> HttpxFetcher:
    return HttpxFetcher(config, httpx)
