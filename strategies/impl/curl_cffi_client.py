"""curl-cffi: libcurl (curl-impersonate) through cffi, its ``AsyncSession`` on one reused asyncio loop.

Knobs, all explicit:
- ``AsyncSession(max_clients=C)``: the default ``max_clients=10`` is a pool of 10 curl handles, and a request
  waits in the session's queue (``pop_curl``) until one is free: **at most 10 in flight** whatever the
  caller hands it (measured: peak 10 at C=50, 100 requests of 200 ms in 2.03 s instead of 0.4). libcurl's
  connection cache belongs to the multi handle; its default size (4 x the handles) did not bind at C=50 or
  100 (no new connection in warm rounds);
- ``timeout=timeout_s``: libcurl's ``CURLOPT_TIMEOUT_MS``, a **total** deadline from connect to the last
  body byte (the default is 30 s). The wait for a handle comes before it and is not counted; the admission
  in front keeps that wait at zero;
- ``close`` sends ``Connection: close``: libcurl then closes the connection after the response (measured:
  100 connections for 100 requests);
- no impersonation, ``trust_env``, ``verify`` and ``retry=0`` left at their defaults; over http://
  libcurl speaks HTTP/1.1 (``CURL_HTTP_VERSION_1_1``). It sends no User-Agent or Accept, only
  ``Accept-Encoding``, which the bundled server ignores;
- C admission tasks in front (``strategies.shared._aio``); the session is made on the fetcher's loop and closed
  before it;
- over https: ``verify=ca_file`` (libcurl's ``CAINFO``; the environment's ``CURL_CA_BUNDLE`` does not override
  it), verification on as always; tuned offers HTTP/1.1 only (``http_version=V1_1``: libcurl would offer h2
  by ALPN), as-written keeps libcurl's offer. libcurl's TLS is its own (BoringSSL in curl-impersonate),
  not ``strategies.tls``' context: made once per session, in ``start``, in both profiles. Its TLS failures
  are its own ``SSLError`` (``CertificateVerifyError`` ...), not ``ssl``'s, so the strategy gives them the
  kind ``tls`` itself.

as-written: the README's "More concurrency" recipe, ``async with AsyncSession() as s:`` and
``asyncio.gather(*(s.get(url) for url in urls))``: one session for every request, so **the recipe keeps
connections alive** (its as-written rows are ``keepalive`` rows, ``StrategySpec.as_written_policy``, as
treq's) and keeps ``max_clients=10``: **at most 10 in flight**, which the server's ``peak_in_flight`` shows.
The harness still admits C at a time (a gather of C, not of N); only the default timeout (30 s) is
replaced, by ``timeout_s``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from curl_cffi import AsyncSession, CurlHttpVersion
from curl_cffi.requests.exceptions import SSLError

from strategies.base import ClientConfig, Outcome
from strategies.shared._aio import LoopRunner
from strategies.tls import TLS_KIND


class CurlCffiFetcher:
    def __init__(self, config: ClientConfig):
        self._config = config
        self._runner = LoopRunner(config.concurrency)
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if config.method == "POST" else {}
        if config.policy == "close":
            headers["Connection"] = "close"
        self._headers = headers or None
        self._session: AsyncSession[Any] = self._runner.run(self._open_session())

    async def _open_session(self) -> AsyncSession[Any]:
        # Made inside the running loop: its multi handle's timers and sockets are registered with it.
        config = self._config
        # Over https: libcurl's CAINFO (a path; the environment's CURL_CA_BUNDLE does not override it).
        tls: dict[str, Any] = {"verify": config.ca_file} if config.tls and config.ca_file else {}
        if config.as_written:
            return AsyncSession(timeout=config.timeout_s, **tls)  # max_clients=10
        # Tuned offers HTTP/1.1 only, as every strategy does (libcurl would offer h2 by ALPN).
        return AsyncSession(max_clients=config.concurrency, timeout=config.timeout_s,
                            http_version=CurlHttpVersion.V1_1, **tls)

    def fetch(self, urls: Sequence[str]) -> list[Outcome]:
        return self._runner.fetch(urls, self._request)

    async def _request(self, url: str, started: float) -> Outcome:
        try:
            response = await self._session.request(self._config.method, url,  # type: ignore[arg-type]
                                                   data=self._config.body or None, headers=self._headers)
        except SSLError as exc:  # libcurl's TLS failures (curl 35, 58, 60 ...): its own type, not ssl's
            return Outcome.failed(f"{TLS_KIND}: {type(exc).__name__}: {exc}", started)
        return Outcome.ok(response.status_code, response.content, started)

    def close(self) -> None:
        self._runner.run(self._session.close())
        self._runner.close()


def start(config: ClientConfig) -> CurlCffiFetcher:
    return CurlCffiFetcher(config)
