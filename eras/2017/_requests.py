"""What the era's requests-based recipes share (``gevent``, ``asyncio-executor``): today's
``strategies/shared/_requests.py`` on requests 2.18.4 and urllib3 1.22, whose APIs for this are the same.

- tuned: one Session, ``HTTPAdapter(pool_connections=1, pool_maxsize=C, pool_block=True)``; under ``close``
  a ``Connection: close`` header and a urllib3 pool that closes every returned connection (``_OneShotPool``);
- as-written: ``requests.request(method, url)``, a Session per call (closed by requests after it);
- ``timeout=timeout_s`` on every request; retries at requests' default of 0.
"""

import time

import requests
from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool

import _outcome


class _OneShotPool(HTTPConnectionPool):
    """A urllib3 pool whose connections each carry one request: returned connections are closed."""

    def _put_conn(self, conn):
        if conn is not None:
            conn.close()
        super()._put_conn(None)  # the free slot goes back: pool_block still bounds C


def new_session(config, pool_size):
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, pool_block=True)
    if config.policy == "close":
        adapter.poolmanager.pool_classes_by_scheme = {"http": _OneShotPool}
        session.headers["Connection"] = "close"
    session.mount("http://", adapter)
    if config.method == "POST":
        session.headers.update(_outcome.FORM_HEADERS)
    return session


class Requester:
    """One request under the profile: ``Requester(config, C)(url)`` returns its ``Outcome``, never raises."""

    def __init__(self, config, pool_size):
        self._config = config
        self._session = None if config.as_written else new_session(config, pool_size)
        self._headers = _outcome.FORM_HEADERS if config.as_written and config.method == "POST" else None

    def __call__(self, url):
        send = requests.request if self._session is None else self._session.request
        started = time.perf_counter()
        try:
            response = send(self._config.method, url, data=self._config.body or None, headers=self._headers,
                            timeout=self._config.timeout_s)
            return _outcome.ok(response.status_code, response.content, started)
        except Exception as exc:  # noqa: BLE001 - every failure is this slot's outcome
            return _outcome.failed(exc, started)

    def close(self):
        if self._session is not None:
            self._session.close()
