"""uvloop: the ``asyncio`` strategy, line for line, on uvloop's event loop (libuv and Cython underneath).

Only the loop differs (``strategies.impl.asyncio_streams.AsyncioFetcher`` with ``new_loop=uvloop.new_event_loop``):
the same streams, the same sans-IO HTTP (``strategies.http1``), the same C worker tasks each on a connection
of its own, and the same deadlines' queue. So ``uvloop`` against ``asyncio`` is the loop's own cost per
request and nothing else.

Over https: the ``asyncio`` strategy's context, made once in ``start``; the TLS state machine is uvloop's
(``uvloop.sslproto``, Cython) instead of ``asyncio.sslproto``'s Python.

Knobs: none of its own. The loop is made with ``uvloop.new_event_loop()`` for this fetcher, not installed
as the process's policy (``uvloop.install()``), so nothing else in the worker changes loops.

``features`` turns the codec strategy's pieces off for the rungs of the model ladder (``strategies.shared._codec``,
``python -m bench.ladder``); the strategy is ``FULL``.

as-written: the same code, as for ``asyncio``; uvloop has no cap to keep at a default.
"""

from __future__ import annotations

import uvloop

from strategies.base import ClientConfig
from strategies.impl.asyncio_streams import AsyncioFetcher
from strategies.shared._codec import FULL, Features


def start(config: ClientConfig, features: Features = FULL) -> AsyncioFetcher:
    return AsyncioFetcher(config, features, new_loop=uvloop.new_event_loop)
