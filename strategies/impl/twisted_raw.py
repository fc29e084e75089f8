"""twisted-raw: our sans-IO HTTP (``strategies.http1``) on Twisted's reactor, a ``Protocol`` per connection.

The ``twisted`` strategy's model without ``twisted.web``: ``twisted`` against ``twisted-raw`` is what the
Agent costs per request, ``twisted-raw`` against ``asyncio`` what the reactor costs against asyncio's loop.

Knobs, all explicit:
- the reactor (once per process, in a thread), C worker coroutines a round and the deadlines' queue
  (connect to last body byte) are ``strategies.shared._twisted``'s, shared with ``twisted`` and ``treq``;
- each worker owns at most one connection, ``connectProtocol(TCP4ClientEndpoint(reactor, host, port,
  timeout=timeout_s), ...)``, no Agent: an IP literal is connected to directly, with no ``getaddrinfo`` in
  the reactor's thread pool (the Agent's ``HostnameEndpoint`` resolves every host, an IP literal too);
- ``keepalive``: a worker's connection carries its next request when the server agreed to keep it
  (``parser.keep_alive``), no byte followed the response (``parser.trailing``) and it is still open: one the
  server closes while idle is seen closed at once (``connectionLost``), as are any bytes it sends unasked,
  and the worker connects anew. A reused connection that fails is an error, not retried, as in the other
  codec strategies;
- ``close``: ``Connection: close`` on every request, a new connection per request, closed after it;
- over https: ``wrapClientTLS(options, endpoint)``, the options ``strategies.shared._twisted.OncePerHost``'s
  (one pyOpenSSL context per host, made at its first connection, for both profiles: the HTTP is ours, so
  there is no recipe's way to keep); Twisted's TLS runs through pyOpenSSL's memory BIO;
- a failed or timed-out request aborts its connection (``transport.abortConnection()``), so no connection
  outlives the request it failed;
- every failure is the real exception, named as every codec strategy names it: ``ConnectionRefusedError``,
  ``ConnectionResetError`` (Twisted reports a reset as ``ConnectionLost``, with no errno),
  ``http1.ProtocolError`` (garbage, a truncated body), ``TimeoutError``.

``features`` turns the codec strategy's pieces off for the rungs of the model ladder (``strategies.shared._codec``,
``python -m bench.ladder``); the strategy is ``FULL``.

as-written: the same code. The HTTP is ours, so there is no library default to keep; as-written rows are
``close`` rows, a connection per request, as every recipe opens.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol, wrapClientTLS
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure

from strategies.base import ClientConfig, Outcome
from strategies.http1 import ProtocolError
from strategies.shared._codec import FULL, Features, Key, Parser, checked, new_codec
from strategies.shared._rounds import Round
from strategies.shared._twisted import OncePerHost, ReactorRunner, failed, reactor, trust_root


class HTTP1Connection(Protocol):
    """One TCP connection carrying one request at a time: received bytes into the request's parser."""

    def __init__(self) -> None:
        #: The request in flight: its parser, and the Deferred that gets the parser once it is complete.
        self._pending: tuple[Parser, Deferred[Parser]] | None = None
        self.closed = False
        #: The connection's ``tcp.Client``. Any: Twisted types it as zope interfaces, which mypy cannot check.
        self._tcp: Any = None

    def connectionMade(self) -> None:
        self._tcp = self.transport

    def exchange(self, request: bytes, parser: Parser) -> Deferred[Parser]:
        """Send one request; fires with its complete parser, or fails (the connection then aborted)."""
        # Cancelled (the deadline): forget the request and drop the connection it was using.
        response: Deferred[Parser] = Deferred(lambda _: self.abort())
        self._pending = (parser, response)
        self._tcp.write(request)
        return response

    def dataReceived(self, data: bytes) -> None:
        if self._pending is None:  # bytes nobody asked for: this connection cannot carry another request
            self._tcp.abortConnection()
            return
        self._step(self._pending[0].feed, data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.closed = True
        if self._pending is None:
            return
        if reason.check(ConnectionDone):  # the peer's FIN: the end of a body that runs until the close
            self._step(self._pending[0].feed_eof)
        elif reason.check(ConnectionLost):  # a reset (Twisted keeps no errno): named as every model names it
            self._fail(ConnectionResetError(f"the connection was reset ({reason.value})"))
        else:
            self._fail(reason.value)

    def _step(self, feed: Callable[..., bool], *data: bytes) -> None:
        assert self._pending is not None
        parser, response = self._pending
        try:
            complete = feed(*data)
        except ProtocolError as exc:
            self._fail(exc)
            return
        if complete:
            self._pending = None
            response.callback(parser)

    def _fail(self, error: BaseException) -> None:
        assert self._pending is not None
        _, response = self._pending
        self.abort()
        response.errback(Failure(error))

    def abort(self) -> None:
        self._pending = None
        self._tcp.abortConnection()

    def close(self) -> None:
        """After a complete response: FIN, once what was written is sent."""
        self._tcp.loseConnection()


class TwistedRawFetcher:
    def __init__(self, config: ClientConfig, features: Features = FULL):
        self.config = config
        self.features = features
        self.codec = new_codec(config, features)
        self._runner = ReactorRunner(config.concurrency, config.timeout_s)
        self.tls = OncePerHost(trust_root(config)) if config.tls else None
        self.deadlines = self._runner.deadlines if features.deadline else None
        self._workers = [_Worker(self) for _ in range(config.concurrency)]

    def fetch(self, urls: Sequence[str]) -> list[Outcome]:
        return self._runner.run_round(urls, self._workers)

    def close(self) -> None:
        self._runner.call(self._close_all)
        self._runner.close()

    def _close_all(self) -> None:
        for worker in self._workers:
            worker.close()


class _Worker:
    """One of the C workers: the round's next URL, on its connection, until none is left."""

    __slots__ = ("_conn", "_fetcher", "_key", "_waiting", "deadline", "expired")

    def __init__(self, fetcher: TwistedRawFetcher):
        self._fetcher = fetcher
        self._conn: HTTP1Connection | None = None
        self._key: Key | None = None
        self._waiting: Deferred[Any] | None = None
        self.deadline: tuple[float, Any] | None = None
        self.expired = False

    async def drain(self, round_: Round) -> None:
        slots = round_.slots
        for slot, url in round_.source:
            slots[slot] = await self.request(url)

    async def request(self, url: str) -> Outcome:
        fetcher = self._fetcher
        features, deadlines = fetcher.features, fetcher.deadlines
        started = time.perf_counter() if deadlines is not None or features.record else 0.0
        try:
            if deadlines is not None:
                deadlines.start(self, started)
            key, data = fetcher.codec.request(url)
            conn = self._conn
            if conn is None or conn.closed or key != self._key:
                self.drop()
                endpoint: Any = TCP4ClientEndpoint(reactor, key[0], key[1], timeout=fetcher.config.timeout_s)
                if fetcher.tls is not None:
                    endpoint = wrapClientTLS(fetcher.tls.creatorForNetloc(key[0].encode(), key[1]), endpoint)
                self._waiting = connectProtocol(endpoint, HTTP1Connection())
                self._conn = conn = await self._waiting
                self._key = key
            self._waiting = conn.exchange(data, fetcher.codec.parser())
            parser: Parser = await self._waiting
            self.deadline = None
            if not (fetcher.config.policy == "keepalive" and parser.keep_alive and not parser.trailing
                    and not conn.closed):
                self.close()
            response = parser.response
            assert response is not None
            if features.record:
                return Outcome.ok(response.status, response.body, started)
            return checked(features, response.status, response.body)
        except Exception as exc:  # noqa: BLE001 - every failure is this slot's outcome, never fetch's exception
            self.deadline = None
            self.drop()
            outcome = failed(exc, started, self.expired, fetcher.config.timeout_s)
            self.expired = False
            return outcome

    def expire(self) -> None:
        self.expired = True
        self._waiting.cancel()  # type: ignore[union-attr]

    def drop(self) -> None:
        """Abort its connection (a failed request's, or one closed meanwhile)."""
        if self._conn is not None:
            self._conn.abort()
            self._conn = None

    def close(self) -> None:
        """Close its connection gracefully (after a complete response, or at the end)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def start(config: ClientConfig, features: Features = FULL) -> TwistedRawFetcher:
    return TwistedRawFetcher(config, features)
