"""gevent: ``monkey.patch_all()`` + requests, ``gevent.pool.Pool(C)`` greenlets, one shared Session.

Knobs, all explicit:
- ``monkey.patch_all()`` is the module's first statement: the worker imports the strategy module before
  anything else, so every socket requests/urllib3 ever makes in this process is a cooperative one;
- ``Pool(C)`` caps requests in flight: ``Pool.map`` never runs more than C greenlets at once, and returns
  the outcomes in URL order;
- one Session shared by the C greenlets, its urllib3 pool sized to C and blocking (``strategies._requests``):
  the default ``pool_maxsize=10`` made this model open 897 connections for 2000 keep-alive requests at C=50,
  and a Session per greenlet never sees its connection again (2000 connections for 2000 requests);
- ``started`` is taken in the greenlet, when the request is issued, not when it is queued.

as-written: ``gevent.spawn(requests.get, url)`` per URL, then ``joinall``. Defaults kept: requests makes a
Session per call, so every request opens and closes its own connection and no urllib3 pool is shared (its
``pool_maxsize=10`` never binds); gevent itself has no cap. The spawning goes through ``Pool(C).map``
(``Pool.spawn`` per URL), the harness's admission, so at most C greenlets request at once.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

from collections.abc import Sequence

import gevent.pool

from strategies._requests import Requester
from strategies.base import ClientConfig, Outcome


class GeventFetcher:
    def __init__(self, config: ClientConfig):
        self._request = Requester(config, pool_size=config.concurrency)
        self._pool = gevent.pool.Pool(config.concurrency)

    def fetch(self, urls: Sequence[str]) -> list[Outcome]:
        return self._pool.map(self._request, urls)

    def close(self) -> None:
        self._pool.kill()
        self._request.close()


def start(config: ClientConfig) -> GeventFetcher:
    return GeventFetcher(config)
