"""uvloop: the ``asyncio`` strategy, line for line, on uvloop's event loop (libuv and Cython underneath).

Only the loop differs (``strategies.asyncio_streams.AsyncioFetcher`` with ``new_loop=uvloop.new_event_loop``):
the same streams, the same sans-IO HTTP (``strategies.http1``), the same C admission tasks, idle pool
of at most C connections and ``asyncio.timeout(timeout_s)`` per request. So ``uvloop`` against ``asyncio``
is the loop's own cost per request and nothing else.

Knobs: none of its own. The loop is made with ``uvloop.new_event_loop()`` for this fetcher, not installed
as the process's policy (``uvloop.install()``), so nothing else in the worker changes loops.

as-written: the same code, as for ``asyncio``; uvloop has no cap to keep at a default.
"""

from __future__ import annotations

import uvloop

from strategies.asyncio_streams import AsyncioFetcher
from strategies.base import ClientConfig


def start(config: ClientConfig) -> AsyncioFetcher:
    return AsyncioFetcher(config, new_loop=uvloop.new_event_loop)
