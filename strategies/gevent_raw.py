"""gevent-raw: ``monkey.patch_all()`` + our codec, ``gevent.pool.Pool(C)`` greenlets, one shared idle pool.

The model (``Pool(C)``, ``started`` taken in the greenlet) is ``strategies._greenlets``; the stack is
``strategies._blocking_codec``: ``strategies.http1`` over gevent's cooperative sockets, one LIFO pool of at
most C idle connections shared by the C greenlets, under a lock that patching makes cooperative.
``monkey.patch_all()`` is the module's first statement: every socket and lock the stack ever makes in this
process is a cooperative one. Against ``gevent`` it measures what requests costs; against ``asyncio``,
what the model costs. requests is not imported.

as-written: the same code. The stack is ours, so there is no library default to keep; as-written rows are
``close`` rows, a connection per request, which is what every recipe does.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

from strategies._blocking_codec import CodecRequester
from strategies._greenlets import GeventFetcher
from strategies.base import ClientConfig


def start(config: ClientConfig) -> GeventFetcher:
    return GeventFetcher(config, CodecRequester)
