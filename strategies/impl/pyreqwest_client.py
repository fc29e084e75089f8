"""pyreqwest: Rust's reqwest (hyper, tokio) under a Python API, its async ``Client`` awaited on one reused
asyncio loop.

Knobs, all explicit:
- ``ClientBuilder().max_connections(C).pool_max_idle_per_host(C)``: ``max_connections`` is reqwest's cap on
  requests in flight (default: none), ``pool_max_idle_per_host`` how many idle connections the pool keeps
  (the default kept 50 idle at C=50: neither binds below it, both are set so none can);
- ``.timeout(timeout_s)``: a **total** deadline, from connecting to the last body byte (a 4 s trickle with
  2 s failed at 2 s); pyreqwest has **no timeout at all** by default (``timeout``, ``read_timeout`` and
  ``connect_timeout`` unset). A stalled response is reported as ``ConnectTimeoutError`` even on a connected
  socket (reqwest's naming), a trickle as ``ReadTimeoutError``; both are ``TimeoutError`` subclasses;
- ``.http1_only()``: HTTP/1.1, as every other strategy speaks (already the default: HTTP/2 is opt-in);
- ``close`` sends ``Connection: close``: hyper then closes the connection after the response (measured: 100
  connections for 100 requests);
- C admission tasks in front (``strategies.shared._aio``), as for aiohttp; the client is built on the fetcher's
  loop and closed before it;
- over https: the CA file's PEM, read once in ``start``, added with ``add_root_certificate_pem`` (to rustls'
  built-in roots: pyreqwest takes no ``ssl.SSLContext``, so ``strategies.tls``' context does not apply);
  verification on; ``http1_only`` makes its ALPN offer ``http/1.1``. The as-written recipe's client per call
  adds the same PEM per call (the recipe's cost). A refused certificate is a ``ConnectError`` whose causes say
  ``invalid peer certificate``: pyreqwest has no TLS error type (its errors are reqwest's, as text), so for
  that one type ``strategies.tls.is_tls_failure`` reads rustls' error texts, and its kind is ``tls``.

The I/O is not on asyncio's loop: the client runs on a tokio runtime in a thread of its own (``pyreqwest``
in ``/proc/self/task``), and asyncio awaits futures that thread completes. In the sweep's pinned worker both
threads share the core; CPU per request counts both (the process's CPU).

Exit: after a connection-level failure (reset, close, truncate, garbage, stall) the interpreter sometimes
aborts at exit (``Fatal Python error: PyGILState_Release ... finalizing``, status 134): 3 of 20 runs of a
fault mix, never after clean rounds, not reproduced in 48 runs of a minimal script. It happens after the
worker has answered ``exit``, so every round it ran stands (``strategies.worker.runner``: the exit status of a
worker that answered is not its rows' fate). Closing the client and giving the loop a turn before exit does
not prevent it; nothing here hides it.

as-written: the README's quickstart, ``async with ClientBuilder().error_for_status(True).build() as client:
await client.get(url).build().send()``, per URL, under the same admission. Defaults kept: a client per
call (and a connection per request: ``max_connections`` none, so the admission's C is the only cap);
``error_for_status(True)`` as the recipe has it, so a 500 is a ``StatusError`` (the verification fails it
either way; only its kind differs). The one change: ``.timeout(timeout_s)``, the workload's, which the
recipe lacks (without it a stalled request would hang the round).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from pyreqwest.client import Client, ClientBuilder

from strategies.base import ClientConfig, Outcome
from strategies.shared._aio import LoopRunner


class PyreqwestFetcher:
    def __init__(self, config: ClientConfig):
        self._config = config
        self._timeout = timedelta(seconds=config.timeout_s)
        self._runner = LoopRunner(config.concurrency)
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if config.method == "POST" else {}
        if config.policy == "close" and not config.as_written:
            headers["Connection"] = "close"
        self._headers = headers
        # Over https with a CA file: its PEM, read once, added to the client's roots (rustls' webpki store).
        self._ca_pem: bytes | None = None
        if config.tls and config.ca_file:
            with open(config.ca_file, "rb") as pem:
                self._ca_pem = pem.read()
        self._client: Client | None = None if config.as_written else self._runner.run(self._open_client())

    def _builder(self) -> ClientBuilder:
        builder = ClientBuilder()
        return builder if self._ca_pem is None else builder.add_root_certificate_pem(self._ca_pem)

    async def _open_client(self) -> Client:
        c = self._config.concurrency
        return (self._builder().max_connections(c).pool_max_idle_per_host(c).timeout(self._timeout)
                .http1_only().build())

    def fetch(self, urls: Sequence[str]) -> list[Outcome]:
        return self._runner.fetch(urls, self._request)

    async def _request(self, url: str, started: float) -> Outcome:
        if self._client is None:
            async with self._builder().error_for_status(True).timeout(self._timeout).build() as client:
                return await self._send(client, url, started)
        return await self._send(self._client, url, started)

    async def _send(self, client: Client, url: str, started: float) -> Outcome:
        request: Any = client.request(self._config.method, url)
        if self._headers:
            request = request.headers(self._headers)
        if self._config.body:
            request = request.body_bytes(self._config.body)
        response = await request.build().send()
        # ``bytes()`` is pyreqwest's own buffer type: copied once into the bytes every strategy reports.
        return Outcome.ok(response.status, bytes(await response.bytes()), started)

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            self._runner.run(client.close())
            # ``close`` leaves the pool's idle connections open (3 of 3 after 5 s, measured): hyper closes them
            # when the Rust client is dropped, i.e. when its last Python reference goes.
            del client
        self._runner.close()


def start(config: ClientConfig) -> PyreqwestFetcher:
    return PyreqwestFetcher(config)
