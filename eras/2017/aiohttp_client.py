"""aiohttp (2017): one ``ClientSession`` with a ``TCPConnector`` limited to C, on aiohttp 2.3.10 and Python 3.6;
today's ``strategies/impl/aiohttp_client.py`` on the old API.

As today: C admission tasks in front of the connector (``_aio``); the session made on the fetcher's loop and
closed before it. tuned: ``TCPConnector(limit=C, limit_per_host=C, force_close=(policy == "close"))``.
as-written: ``async with aiohttp.request(method, url) as response`` per URL, a session and a
``TCPConnector(force_close=True)`` per call (its default ``limit=100`` never binds under C admission).

What differs, as the 2017 library does it: there is no ``ClientTimeout`` (aiohttp 3.3). tuned passes
``timeout=timeout_s`` to ``session.request``, aiohttp 2.3's one number for the whole request;
``aiohttp.request`` takes no timeout at all (its session's default is 5 minutes), so the recipe's request is
bounded by ``async_timeout.timeout(timeout_s)``, the context manager aiohttp itself times requests with.
"""

import aiohttp
import async_timeout

import _outcome
from _aio import LoopRunner


class AiohttpFetcher:
    def __init__(self, config):
        self._config = config
        self._runner = LoopRunner(config.concurrency)
        self._session = None if config.as_written else self._runner.run(self._open_session())
        self._headers = _outcome.FORM_HEADERS if config.method == "POST" else {}

    async def _open_session(self):
        # Made inside the running loop: aiohttp binds session and connector to it.
        connector = aiohttp.TCPConnector(
            limit=self._config.concurrency, limit_per_host=self._config.concurrency,
            force_close=self._config.policy == "close", loop=self._runner.loop,
        )
        return aiohttp.ClientSession(connector=connector, loop=self._runner.loop)

    def fetch(self, urls):
        return self._runner.fetch(urls, self._request)

    async def _request(self, url, started):
        data = self._config.body or None
        if self._session is None:
            with async_timeout.timeout(self._config.timeout_s, loop=self._runner.loop):
                async with aiohttp.request(self._config.method, url, data=data, headers=self._headers,
                                           loop=self._runner.loop) as response:
                    return _outcome.ok(response.status, await response.read(), started)
        async with self._session.request(self._config.method, url, data=data, headers=self._headers,
                                         timeout=self._config.timeout_s) as response:
            return _outcome.ok(response.status, await response.read(), started)

    def close(self):
        if self._session is not None:
            self._runner.run(self._session.close())  # 2.3 closes at the call and returns a no-op to await
        self._runner.close()


def start(config):
    return AiohttpFetcher(config)
