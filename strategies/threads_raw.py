"""threads-raw: ``ThreadPoolExecutor(C)`` + our codec, one shared idle pool, results through futures.

The model (C threads started in setup, ``started`` taken in the thread) is ``strategies._threads``; the
stack is ``strategies._blocking_codec``: ``strategies.http1`` over blocking sockets, one LIFO pool of at
most C idle connections shared by the C threads, each reused under ``keepalive``. Against ``threads`` it
measures what requests costs; against ``asyncio`` or ``select``, what the model costs.

as-written: the same code. The stack is ours, so there is no library default to keep; as-written rows are
``close`` rows, a connection per request, which is what every recipe does.
"""

from __future__ import annotations

from strategies._blocking_codec import CodecRequester
from strategies._threads import ThreadsFetcher
from strategies.base import ClientConfig


def start(config: ClientConfig) -> ThreadsFetcher:
    return ThreadsFetcher(config, CodecRequester)
