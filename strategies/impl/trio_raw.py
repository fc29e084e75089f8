"""trio-raw: our sans-IO HTTP (``strategies.http1``) on trio's streams, C tasks each owning a connection.

The codec rows' structure on trio's structured concurrency: a round is one nursery of C worker tasks
(``_Worker``), each taking the round's next URL when its request is done (``strategies.shared._rounds``) and owning at
most one ``trio.SocketStream``, reused under ``keepalive``, dropped when a request on it fails or its
response does not leave it reusable; a connection per request under ``close``. So ``trio-raw`` against
``asyncio`` (``strategies.shared._aio.StreamFetcher``) is trio's loop and streams against asyncio's, the codec,
the admission and the connection rules the same.

Knobs, all explicit:
- one ``trio.run`` for the fetcher's life, in a thread of its own started in ``start`` (``_TrioThread``); a
  round is one ``trio.from_thread.run`` into it from the calling thread. trio has no loop to keep between
  ``trio.run`` calls, and a ``trio.run`` per round costs about 0.2 ms of CPU (measured, 300 rounds: 220 us
  for an empty round against 37 us for the hop into a running trio thread); the thread also keeps every
  stream inside the run that made it (a trio socket cannot even be closed outside a run). The I/O then runs
  on that thread, not the caller's; in the sweep's pinned worker both share the core, and CPU per request
  counts the process;
- connections: ``trio.open_tcp_stream(host, port)`` (``TCP_NODELAY`` set by trio; an IP literal is not
  resolved through a thread); ``send_all`` the request, ``receive_some(65536)`` into the parser, ``b""`` is
  EOF. A stream the server closed while idle is found before the worker's first request of a round by one
  non-blocking ``MSG_PEEK`` (as ``strategies.shared._blocking_codec`` does: trio's streams have no ``at_eof``), and
  dropped;
- a total deadline of ``timeout_s`` per request, from when it is issued to its last body byte:
  ``trio.move_on_after`` around the request, trio's own cancel scope (its deadlines are one heap in the run,
  no timer per request); an expired request is reported as ``TimeoutError``, its connection dropped;
- over https: ``trio.open_ssl_over_tcp_stream`` with ``strategies.tls``' client context, made once in
  ``start`` (``https_compatible``: an EOF without close_notify ends a response, as over TCP); the idle peek
  looks at the TCP socket under the TLS stream;
- errors are reported as the other codec rows report them: trio's ``BrokenResourceError`` as the
  ``OSError`` under it (a reset is ``ConnectionResetError``), a failed connect as the first of its attempts'
  errors (``ConnectionRefusedError``), not trio's wrappers. No retry.

``features`` turns the codec strategy's pieces off for the rungs of the model ladder (``strategies.shared._codec``,
``python -m bench.ladder``); the strategy is ``FULL``.

as-written: the same code. The HTTP is ours, so there is no library default to keep; as-written rows are
``close`` rows, a connection per request, as every recipe opens.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar, cast

import trio

from strategies.base import ClientConfig, Outcome
from strategies.shared._codec import FULL, Features, Key, checked, new_codec
from strategies.shared._rounds import Round
from strategies.tls import client_context

#: How much one read of a stream asks for: a small response in one call, a 256 KiB body in a few.
READ_BYTES = 65536
#: How long ``start`` waits for the trio thread to be running: microseconds normally; a guard only.
START_TIMEOUT_S = 60.0

_T = TypeVar("_T")


class _TrioThread:
    """``trio.run`` in a daemon thread until ``close``: ``run(fn, *args)`` runs ``await fn(*args)`` in it."""

    def __init__(self) -> None:
        self._token: trio.lowlevel.TrioToken | None = None
        self._stop: trio.Event | None = None
        ready = threading.Event()

        async def main() -> None:
            self._token = trio.lowlevel.current_trio_token()
            self._stop = trio.Event()
            ready.set()
            await self._stop.wait()

        self._thread = threading.Thread(target=trio.run, args=(main,), name="trio", daemon=True)
        self._thread.start()
        if not ready.wait(START_TIMEOUT_S):
            raise RuntimeError(f"trio's thread did not start within {START_TIMEOUT_S:.0f} s")

    def run(self, fn: Callable[..., Awaitable[_T]], *args: Any) -> _T:
        return trio.from_thread.run(fn, *args, trio_token=self._token)

    def run_sync(self, fn: Callable[..., _T], *args: Any) -> _T:
        return trio.from_thread.run_sync(fn, *args, trio_token=self._token)

    def close(self) -> None:
        assert self._stop is not None
        self.run_sync(self._stop.set)
        self._thread.join(START_TIMEOUT_S)


class TrioRawFetcher:
    def __init__(self, config: ClientConfig, features: Features = FULL):
        self.config = config
        self.features = features
        self.codec = new_codec(config, features)
        #: Over https: the one client context (``strategies.tls``), made here, for every connection.
        self.context = client_context(config) if config.tls else None
        self._trio = _TrioThread()
        self._workers = [_Worker(self) for _ in range(config.concurrency)]

    def fetch(self, urls: Sequence[str]) -> list[Outcome]:
        round_ = Round(urls)
        self._trio.run(self._fetch_all, round_)
        return round_.outcomes()

    async def _fetch_all(self, round_: Round) -> None:
        async with trio.open_nursery() as nursery:
            for worker in self._workers[:len(round_.slots)]:
                nursery.start_soon(worker.drain, round_)

    def close(self) -> None:
        def drop_all() -> None:
            for worker in self._workers:
                worker.drop()

        self._trio.run_sync(drop_all)  # inside the run: a trio socket is closed through its I/O manager
        self._trio.close()


class _Worker:
    """One of the C workers: the round's next URL, on its connection, until none is left."""

    __slots__ = ("_fetcher", "_key", "_socket", "_stream")

    def __init__(self, fetcher: TrioRawFetcher):
        self._fetcher = fetcher
        self._stream: trio.abc.Stream | None = None
        #: The stream's TCP socket (under TLS, the one under the ``SSLStream``).
        self._socket: trio.socket.SocketType | None = None
        self._key: Key | None = None

    async def drain(self, round_: Round) -> None:
        if self._socket is not None and not _still_open(self._socket):  # closed by the server while idle
            self.drop()
        slots = round_.slots
        for slot, url in round_.source:
            slots[slot] = await self.request(url)

    async def request(self, url: str) -> Outcome:
        fetcher = self._fetcher
        features = fetcher.features
        started = time.perf_counter() if features.deadline or features.record else 0.0
        try:
            if not features.deadline:
                return await self._exchange(url, started)
            with trio.move_on_after(fetcher.config.timeout_s) as scope:
                return await self._exchange(url, started)
            # Only reached when the deadline cancelled the exchange.
            assert scope.cancelled_caught
            self.drop()
            return Outcome.failed(TimeoutError(f"no complete response within {fetcher.config.timeout_s} s"),
                                  started)
        except Exception as exc:  # noqa: BLE001 - every failure is this slot's outcome, never fetch's exception
            self.drop()
            return Outcome.failed(_real_error(exc), started)

    async def _exchange(self, url: str, started: float) -> Outcome:
        fetcher = self._fetcher
        key, data = fetcher.codec.request(url)
        stream = self._stream
        if stream is None or key != self._key:
            self.drop()
            self._stream = stream = await self._open(key)
            self._key = key
        await stream.send_all(data)
        parser = fetcher.codec.parser()
        while True:
            # bytes from a SocketStream; an SSLStream's may be a bytearray, which the parsers take alike.
            chunk = cast(bytes, await stream.receive_some(READ_BYTES))
            if parser.feed(chunk) if chunk else parser.feed_eof():
                break
        response = parser.response
        assert response is not None
        # ``chunk`` empty: the response ended on EOF, the server has closed this connection.
        if not (fetcher.config.policy == "keepalive" and parser.keep_alive and not parser.trailing and chunk):
            self.drop()
        if fetcher.features.record:
            return Outcome.ok(response.status, response.body, started)
        return checked(fetcher.features, response.status, response.body)

    async def _open(self, key: Key) -> trio.abc.Stream:
        context = self._fetcher.context
        if context is None:
            tcp = await trio.open_tcp_stream(*key)
            self._socket = tcp.socket
            return tcp
        # https_compatible: an EOF without TLS's close_notify ends a response as it does over TCP (a
        # close-delimited body, the server's close), as browsers and every other client here take it.
        tls = await trio.open_ssl_over_tcp_stream(*key, ssl_context=context, https_compatible=True)
        self._socket = cast(trio.SocketStream, tls.transport_stream).socket
        return tls

    def drop(self) -> None:
        if self._socket is not None:
            self._socket.close()
        self._stream = self._socket = None


def _still_open(sock: trio.socket.SocketType) -> bool:
    """Whether an idle connection can carry a request: nothing to read on it (no FIN, reset or stray bytes).
    One non-blocking peek through a stdlib view of the descriptor (trio's socket is already non-blocking)."""
    view = socket.socket(fileno=sock.fileno())
    try:
        view.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        view.detach()
    return False


def _real_error(exc: Exception) -> BaseException:
    """The error the other codec rows would report: the ``OSError`` under trio's ``BrokenResourceError``, the
    first attempt's under a failed ``open_tcp_stream`` (an ``OSError`` caused by an exception group)."""
    cause = exc.__cause__
    if isinstance(exc, trio.BrokenResourceError) and isinstance(cause, OSError):
        return cause
    if isinstance(exc, OSError) and isinstance(cause, BaseExceptionGroup) and cause.exceptions:
        return cause.exceptions[0]
    return exc


def start(config: ClientConfig, features: Features = FULL) -> TrioRawFetcher:
    return TrioRawFetcher(config, features)
