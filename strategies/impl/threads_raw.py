"""threads-raw: C threads started in setup + our codec, each thread on a connection of its own.

The model (C threads started in setup and handed every round, ``started`` taken in the thread) is
``strategies.shared._threads``; the stack is ``strategies.shared._blocking_codec``: ``strategies.http1`` over blocking
sockets, each thread owning at most one connection, reused under ``keepalive``. Against ``threads`` it
measures what requests costs; against ``asyncio`` or ``select``, what the model costs.

Over https: the stack's one context, made in ``start``, wraps each connection (``wrap_socket(server_hostname=)``,
``strategies.shared._blocking_codec``).

``features`` turns the codec strategy's pieces off for the rungs of the model ladder (``strategies.shared._codec``,
``python -m bench.ladder``); the strategy is ``FULL``.

as-written: the same code. The stack is ours, so there is no library default to keep; as-written rows are
``close`` rows, a connection per request, which is what every recipe does.
"""

from __future__ import annotations

from functools import partial

from strategies.base import ClientConfig
from strategies.shared._blocking_codec import CodecStack
from strategies.shared._codec import FULL, Features
from strategies.shared._threads import ThreadsFetcher


def start(config: ClientConfig, features: Features = FULL) -> ThreadsFetcher:
    return ThreadsFetcher(config, partial(CodecStack, features=features))
