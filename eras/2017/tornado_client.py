"""tornado (2017): ``AsyncHTTPClient`` (simple_httpclient) on tornado 4.5.3; today's
``strategies/impl/tornado_client.py`` on the old API.

As today: C admission coroutines in front of the client, each taking the next URL when its request is
done, ``started`` taken on admission; ``connect_timeout = request_timeout = timeout_s``;
``raise_error=False``; ``close`` only (simple_httpclient closes after every response). tuned:
``AsyncHTTPClient(force_instance=True, max_clients=C)``. as-written: ``AsyncHTTPClient()``, the loop's shared
client with its default ``max_clients=10``: at most 10 requests in flight whatever C is.

What differs, as the 2017 library does it: the loop is tornado's own (``EPollIOLoop``; tornado 5 moved onto
asyncio's), made in ``start`` and run with ``IOLoop.run_sync``, the coroutines ``gen.coroutine``s, the
tutorials' idiom; and ``raise_error=False`` also keeps transport failures and timeouts as responses (code
599, ``response.error`` set; tornado 5.1 raises them), turned into that slot's error here.
"""

import time

from tornado import gen
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.ioloop import IOLoop

import _outcome


class TornadoFetcher:
    def __init__(self, config):
        if config.policy != "close":
            raise ValueError("tornado's simple_httpclient never reuses connections: keepalive is unsupported")
        self._config = config
        self._loop = IOLoop()  # its own, like today's fetcher's own event loop
        self._loop.make_current()
        if config.as_written:
            self._client = AsyncHTTPClient()  # the loop's shared instance, defaults kept
        else:
            self._client = AsyncHTTPClient(force_instance=True, max_clients=config.concurrency)
        self._headers = _outcome.FORM_HEADERS if config.method == "POST" else {}

    def fetch(self, urls):
        return self._loop.run_sync(lambda: self._fetch_all(urls))

    @gen.coroutine
    def _fetch_all(self, urls):
        outcomes = [None] * len(urls)
        queue = iter(enumerate(urls))  # shared by the admission coroutines: each URL taken once, in order
        yield [self._admit(queue, outcomes) for _ in range(min(self._config.concurrency, len(urls)))]
        return outcomes

    @gen.coroutine
    def _admit(self, queue, outcomes):
        for slot, url in queue:
            started = time.perf_counter()
            try:
                outcomes[slot] = yield self._request(url, started)
            except Exception as exc:  # noqa: BLE001 - every failure is this slot's outcome
                outcomes[slot] = _outcome.failed(exc, started)

    @gen.coroutine
    def _request(self, url, started):
        request = HTTPRequest(
            url, method=self._config.method, headers=self._headers,
            body=self._config.body if self._config.method == "POST" else None,
            connect_timeout=self._config.timeout_s, request_timeout=self._config.timeout_s,
        )
        response = yield self._client.fetch(request, raise_error=False)
        if response.code == 599:
            return _outcome.failed(response.error, started)
        return _outcome.ok(response.code, response.body or b"", started)  # 4.5: None for no body

    def close(self):
        self._client.close()
        self._loop.clear_current()
        self._loop.close(all_fds=True)


def start(config):
    return TornadoFetcher(config)
