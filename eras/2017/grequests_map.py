"""grequests (2017): ``grequests.map(requests, size=C)`` on grequests 0.3.0, gevent 1.2.2 and requests 2.18.4;
today's ``strategies/impl/grequests_map.py`` on the old API.

As today: ``monkey.patch_all()`` first (grequests' own import then patches with ``thread=False,
select=False``, a subset, silently in gevent 1.2); a ``_TimedRequest`` times each send; the
``exception_handler`` keeps the exception in its slot, and a slot grequests leaves ``None`` is an error.
tuned: every AsyncRequest on one Session sized to C, ``map(size=C)``. as-written: ``grequests.map([grequests
.get(url) ...])`` in waves of C, ``size=None``.

What differs, as the 2017 library does it: grequests 0.3.0 never closes the Session an AsyncRequest made
for itself (0.7 does): as written, each request opens its own connection, asks for keep-alive (requests'
default header) and leaves it open until the Session is garbage-collected, after its wave.
"""

from gevent import monkey

monkey.patch_all()

import time

import grequests
import requests

import _outcome
from _requests import new_session


class _TimedRequest(grequests.AsyncRequest):
    latency_s = 0.0

    def send(self, **kwargs):
        started = time.perf_counter()
        try:
            return super().send(**kwargs)
        finally:
            self.latency_s = time.perf_counter() - started


def _keep_exception(request, exception):
    return exception if exception is not None else "NoResponse: the request's greenlet ended without one"


def _outcome_of(request, result):
    if isinstance(result, requests.Response):
        outcome = _outcome.ok(result.status_code, result.content, 0.0)
    elif result is None:  # 0.3.0 calls the handler only when the greenlet stored an exception
        outcome = _outcome.failed(_keep_exception(request, None), 0.0)
    else:
        outcome = _outcome.failed(result, 0.0)
    outcome.latency_s = request.latency_s  # map returns after the whole batch: the send's own time
    return outcome


class GrequestsFetcher:
    def __init__(self, config):
        self._config = config
        self._session = None
        if config.as_written:
            self._kwargs = {"headers": _outcome.FORM_HEADERS} if config.method == "POST" else {}
        else:
            self._session = new_session(config, pool_size=config.concurrency)
            self._kwargs = {"session": self._session}

    def fetch(self, urls):
        concurrency = self._config.concurrency
        batch, size = (concurrency, None) if self._config.as_written else (max(len(urls), 1), concurrency)
        outcomes = []
        for first in range(0, len(urls), batch):
            sends = [_TimedRequest(self._config.method, url, data=self._config.body or None,
                                   timeout=self._config.timeout_s, **self._kwargs)
                     for url in urls[first:first + batch]]
            results = grequests.map(sends, size=size, exception_handler=_keep_exception)
            outcomes += [_outcome_of(send, result) for send, result in zip(sends, results)]
        return outcomes

    def close(self):
        if self._session is not None:
            self._session.close()


def start(config):
    return GrequestsFetcher(config)
