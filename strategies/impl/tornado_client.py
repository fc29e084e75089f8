"""tornado: ``AsyncHTTPClient`` (simple_httpclient) with ``max_clients=C``, on one reused event loop.

Knobs, all explicit:
- ``AsyncHTTPClient(force_instance=True, max_clients=C)``: the default of 10 silently queues every request
  above 10 (measured on 2026-11-23: 100 requests of 200 ms at C=50 took 2.07 s instead of 0.4 s;
  every run's as-written tornado rows show the cap as their peak in flight). Given to this instance, not to
  the class-wide ``configure()``, so no setting outlives the fetcher: the next setup in this worker (another
  C, or as-written) starts from tornado's defaults. ``force_instance=True`` makes the client ours alone
  rather than the loop's shared cached instance, so ``close`` may close it;
- C admission tasks in front of the client (``strategies.shared._aio``), so tornado's own queue stays
  empty: a request queued there fails with "Timeout in request queue" after ``min(connect_timeout,
  request_timeout)`` without ever being sent (20 of 40 at max_clients=1, delay 50 ms, timeout 1 s);
- ``connect_timeout`` and ``request_timeout`` are ``timeout_s`` (both default to 20 s); ``request_timeout``
  bounds each request from connect to last body byte;
- ``max_buffer_size`` / ``max_body_size`` keep their defaults (100 MB), far above the largest body we fetch;
- ``close`` only: simple_httpclient sends ``Connection: close`` itself and closes the stream after every
  response (``_HTTPConnection._on_end_request``), so ``keepalive`` is unsupported (see the registry);
- ``raise_error=False``: a non-200 status is a status, not an error; transport failures and timeouts
  (tornado's code 599) still raise, and become the slot's error;
- over https: ``HTTPRequest(ssl_options=context)``, the context ``strategies.tls.client_context``, made
  once in ``start``. as-written: ``HTTPRequest(ca_certs=CA)``, tornado's documented argument, from which
  simple_httpclient makes a context per request (``_get_ssl_options``): the recipe's cost, kept.

as-written: ``AsyncHTTPClient()`` as the tutorials write it, under the same admission. Defaults kept:
- ``max_clients=10`` (``SimpleAsyncHTTPClient.initialize``; nothing in this process calls ``configure``):
  at most 10 requests in flight whatever C is. The rest wait in tornado's queue, and one that waits there
  longer than ``min(connect_timeout, request_timeout)`` fails with "Timeout in request queue" unsent: a
  result of the recipe, returned in its slot like any error;
- the loop's shared cached client (no ``force_instance``); ``close`` closes it with the fetcher's own loop,
  which tornado's docs allow, so the next fetcher's loop gets a fresh one;
- tornado's 20 s ``connect_timeout`` and ``request_timeout`` are still replaced by ``timeout_s``: the
  workload's timeout is the same for every strategy, and it is also what bounds the queue wait.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from strategies.base import ClientConfig, Outcome
from strategies.shared._aio import LoopRunner
from strategies.tls import client_context


class TornadoFetcher:
    def __init__(self, config: ClientConfig):
        if config.policy != "close":
            raise ValueError("tornado's simple_httpclient never reuses connections: keepalive is unsupported")
        self._config = config
        self._runner = LoopRunner(config.concurrency)
        self._client: AsyncHTTPClient = self._runner.run(self._open_client())
        form = {"Content-Type": "application/x-www-form-urlencoded"}  # how ClientConfig.body is encoded
        self._headers = form if config.method == "POST" else {}
        self._tls: dict[str, Any] = {}
        if config.tls:
            self._tls = {"ca_certs": config.ca_file} if config.as_written else {"ssl_options": client_context(config)}

    async def _open_client(self) -> AsyncHTTPClient:
        # Made inside the running loop: the client binds to IOLoop.current().
        if self._config.as_written:
            return AsyncHTTPClient()
        return AsyncHTTPClient(force_instance=True, max_clients=self._config.concurrency)

    def fetch(self, urls: Sequence[str]) -> list[Outcome]:
        return self._runner.fetch(urls, self._request)

    async def _request(self, url: str, started: float) -> Outcome:
        request = HTTPRequest(
            url, method=self._config.method, headers=self._headers,
            body=self._config.body if self._config.method == "POST" else None,
            connect_timeout=self._config.timeout_s, request_timeout=self._config.timeout_s, **self._tls,
        )
        response = await self._client.fetch(request, raise_error=False)
        return Outcome.ok(response.code, response.body, started)

    def close(self) -> None:
        self._client.close()
        self._runner.close()


def start(config: ClientConfig) -> TornadoFetcher:
    return TornadoFetcher(config)
