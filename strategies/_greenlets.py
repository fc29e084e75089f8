"""The greenlets model: ``gevent.pool.Pool(C)`` greenlets calling one shared stack in a patched process.

``gevent`` (requests) and ``gevent-raw`` (our codec) are this model with their stack: diff the two modules
and only the stack differs. Each of them calls ``monkey.patch_all()`` as its first statement, before it
imports this module or its stack: the worker imports the strategy module before anything else, so every
socket and lock the stack ever makes in the process is a cooperative one.

Knobs, all explicit:
- ``Pool(C)`` caps requests in flight: ``Pool.map`` never runs more than C greenlets at once, and returns
  the outcomes in URL order;
- one stack shared by the C greenlets, allowed C connections: a stack per greenlet would never see its
  connection again;
- ``started`` is taken in the greenlet (by the stack), when the request is issued, not when it is queued.
"""

from __future__ import annotations

from collections.abc import Sequence

import gevent.pool

from strategies.base import ClientConfig, NewStack, Outcome


class GeventFetcher:
    def __init__(self, config: ClientConfig, new_stack: NewStack):
        self._request = new_stack(config, config.concurrency)
        self._pool = gevent.pool.Pool(config.concurrency)

    def fetch(self, urls: Sequence[str]) -> list[Outcome]:
        return self._pool.map(self._request, urls)

    def close(self) -> None:
        self._pool.kill()
        self._request.close()
