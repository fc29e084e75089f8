"""What ``httpx`` and ``httpx2`` share: one ``AsyncClient`` limited to C on one reused event loop, the library
module a parameter.

httpx2 (pydantic/httpx2) is httpx's maintained fork: the same API (``AsyncClient``, ``Limits``, ``Timeout``),
its own pool (httpcore2). Both strategies run this one fetcher, so ``httpx`` against ``httpx2`` measures the
library and nothing else. The knobs, and why each is set, are in ``strategies.impl.httpx_client``'s docstring;
what httpx2 changes in ``strategies.impl.httpx2_client``'s.

Rules this module keeps:
- the module (``httpx`` or ``httpx2``) is given by the strategy, which imports it: nothing here imports
  either, so each strategy needs only its own library;
- tuned: ``AsyncClient(limits=Limits(max_connections=C, max_keepalive_connections=C), timeout=Timeout(timeout_s),
  http1=True, http2=False)``, made on the fetcher's loop and closed before it; under ``close`` a
  ``Connection: close`` header. as-written: ``async with AsyncClient() as client`` per request, only the
  timeout replaced;
- C admission tasks in front (``strategies.shared._aio``): a request admitted always finds a free slot, so the
  pool timeout never runs while a request waits behind C others;
- over https: ``verify=`` an ``ssl.SSLContext`` from ``strategies.tls.client_context`` (a path would be the
  old idiom: httpx2 warns that it is deprecated), made once in ``start`` when tuned, once per client (per
  request) as written, where the recipe makes a client per call.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any

from strategies.base import ClientConfig, Outcome
from strategies.shared._aio import LoopRunner
from strategies.tls import client_context


class HttpxFetcher:
    def __init__(self, config: ClientConfig, httpx: ModuleType):
        self._httpx = httpx
        self._config = config
        self._runner = LoopRunner(config.concurrency)
        self._timeout = httpx.Timeout(config.timeout_s)
        # Over https, tuned: one context, made here; as-written: one per client, as the recipe makes them.
        self._context = client_context(config) if config.tls and not config.as_written else None
        self._client: Any = None if config.as_written else self._runner.run(self._open_client())
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if config.method == "POST" else {}
        if config.policy == "close" and not config.as_written:
            headers["Connection"] = "close"
        self._headers = headers

    async def _open_client(self) -> Any:
        # Made inside the running loop, like aiohttp's session: the pool's locks belong to it.
        c, httpx = self._config.concurrency, self._httpx
        tls = {} if self._context is None else {"verify": self._context}
        return httpx.AsyncClient(
            limits=httpx.Limits(max_connections=c, max_keepalive_connections=c),
            timeout=self._timeout, http1=True, http2=False, **tls,
        )

    def fetch(self, urls: Sequence[str]) -> list[Outcome]:
        return self._runner.fetch(urls, self._request)

    async def _request(self, url: str, started: float) -> Outcome:
        if self._client is None:
            tls = {"verify": client_context(self._config)} if self._config.tls else {}
            async with self._httpx.AsyncClient(timeout=self._timeout, **tls) as client:
                response = await self._send(client, url)
        else:
            response = await self._send(self._client, url)
        return Outcome.ok(response.status_code, response.content, started)

    async def _send(self, client: Any, url: str) -> Any:
        # Reads the whole body and closes the response, so its connection is back in the pool (or closed).
        return await client.request(self._config.method, url, content=self._config.body or None,
                                    headers=self._headers)

    def close(self) -> None:
        if self._client is not None:
            self._runner.run(self._client.aclose())
        self._runner.close()
