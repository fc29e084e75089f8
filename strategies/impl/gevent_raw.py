"""gevent-raw: ``monkey.patch_all()`` + our codec, C greenlets a round, each on a connection of its own.

The model (C greenlets per round, ``started`` taken in the greenlet) is ``strategies.shared._greenlets``; the stack
is ``strategies.shared._blocking_codec``: ``strategies.http1`` over gevent's cooperative sockets, each greenlet
owning at most one connection, reused under ``keepalive``; the deadline is the queue of
``strategies.shared._deadlines`` on gevent's hub (``strategies.shared._greenlets.hub_deadlines``), which throws
``TimeoutError`` into an expired request's greenlet, rather than a gevent socket timeout, which starts a timer
for every wait. ``monkey.patch_all()`` is the module's first
statement: every socket the stack ever makes in this process is a cooperative one. Against ``gevent`` it
measures what requests costs; against ``asyncio``, what the model costs. requests is not imported.

Over https: the stack's one context, made in ``start`` after ``patch_all`` (so gevent's cooperative ``ssl``),
wraps each connection (``strategies.shared._blocking_codec``).

``features`` turns the codec strategy's pieces off for the rungs of the model ladder (``strategies.shared._codec``,
``python -m bench.ladder``); the strategy is ``FULL``.

as-written: the same code. The stack is ours, so there is no library default to keep; as-written rows are
``close`` rows, a connection per request, which is what every recipe does.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

from functools import partial

import gevent

from strategies.base import ClientConfig
from strategies.shared._blocking_codec import CodecStack, Expiry
from strategies.shared._codec import FULL, Features
from strategies.shared._greenlets import GeventFetcher, hub_deadlines


def start(config: ClientConfig, features: Features = FULL) -> GeventFetcher:
    expiry = Expiry(hub_deadlines(config), gevent.getcurrent)
    return GeventFetcher(config, partial(CodecStack, features=features, expiry=expiry))
