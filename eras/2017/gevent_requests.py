"""gevent (2017): ``monkey.patch_all()`` + requests, ``gevent.pool.Pool(C)``; today's ``strategies/impl/gevent_requests.py``
on gevent 1.2.2 (greenlet 0.4.12) and requests 2.18.4, the same code.

tuned: one Session shared by the C greenlets, its pool sized to C (``_requests``). as-written:
``requests.get(url)`` per greenlet, a Session per call. ``Pool(C).map`` admits C at a time in both.
"""

from gevent import monkey

monkey.patch_all()

import gevent.pool

from _requests import Requester


class GeventFetcher:
    def __init__(self, config):
        self._request = Requester(config, config.concurrency)
        self._pool = gevent.pool.Pool(config.concurrency)

    def fetch(self, urls):
        return self._pool.map(self._request, urls)

    def close(self):
        self._pool.kill()
        self._request.close()


def start(config):
    return GeventFetcher(config)
