"""twisted-raw: our sans-IO HTTP (``strategies.http1``) on Twisted's reactor, a ``Protocol`` per connection.

The ``twisted`` strategy's model without ``twisted.web``: ``twisted`` against ``twisted-raw`` is what the
Agent costs per request, ``twisted-raw`` against ``asyncio`` what the reactor costs against asyncio's loop.

Knobs, all explicit:
- the reactor (once per process, in a thread), ``DeferredSemaphore(C)`` admission and ``addTimeout`` per
  request (connect to last body byte) are ``strategies._twisted``'s, shared with ``twisted`` and ``treq``;
- connections: ``connectProtocol(TCP4ClientEndpoint(reactor, host, port, timeout=timeout_s), ...)``, no
  Agent: an IP literal is connected to directly, with no ``getaddrinfo`` in the reactor's thread pool
  (the Agent's ``HostnameEndpoint`` resolves every host, an IP literal too);
- ``keepalive``: a LIFO list of idle protocols; only a request holding the semaphore takes or returns one,
  so at most C connections ever exist. A connection goes back only when the server agreed to keep it
  (``parser.keep_alive``), no byte followed the response (``parser.trailing``) and it is still open; one
  the server closes while idle is dropped (``connectionLost``), as are any bytes it sends unasked. A reused
  connection that fails is an error, not retried, as in the other codec strategies;
- ``close``: ``Connection: close`` on every request, a new connection per request, closed after it;
- a failed or timed-out request aborts its connection (``transport.abortConnection()``), so no connection
  outlives the request it failed;
- every failure is the real exception: Twisted's ``ConnectionRefusedError`` or ``ConnectionLost`` (a
  reset), ``http1.ProtocolError`` (garbage, a truncated body), ``TimeoutError``.

as-written: the same code. The HTTP is ours, so there is no library default to keep; as-written rows are
``close`` rows, a connection per request, as every recipe opens.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.error import ConnectionDone
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure

from strategies._twisted import ReactorRunner, reactor
from strategies.base import ClientConfig, Outcome
from strategies.http1 import ProtocolError, ResponseParser, build_request, host_header, split_url


class HTTP1Connection(Protocol):
    """One TCP connection carrying one request at a time: received bytes into a fresh ``ResponseParser``."""

    def __init__(self) -> None:
        #: The request in flight: its parser, and the Deferred that gets the parser once it is complete.
        self._pending: tuple[ResponseParser, Deferred[ResponseParser]] | None = None
        self.closed = False
        #: The connection's ``tcp.Client``. Any: Twisted types it as zope interfaces, which mypy cannot check.
        self._tcp: Any = None

    def connectionMade(self) -> None:
        self._tcp = self.transport

    def exchange(self, request: bytes) -> Deferred[ResponseParser]:
        """Send one request; fires with its complete parser, or fails (the connection then aborted)."""
        # Cancelled (the timeout): forget the request and drop the connection it was using.
        response: Deferred[ResponseParser] = Deferred(lambda _: self._drop())
        self._pending = (ResponseParser(), response)
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
        else:  # a reset or an abort
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
        self._drop()
        response.errback(Failure(error))

    def _drop(self) -> None:
        self._pending = None
        self._tcp.abortConnection()

    def close(self) -> None:
        """After a complete response: FIN, once what was written is sent."""
        self._tcp.loseConnection()


class TwistedRawFetcher:
    def __init__(self, config: ClientConfig):
        self._config = config
        self._keepalive = config.policy == "keepalive"
        self._runner = ReactorRunner(config.concurrency, config.timeout_s)
        self._idle: list[HTTP1Connection] = []

    def fetch(self, urls: Sequence[str]) -> list[Outcome]:
        return self._runner.fetch(urls, self._request)

    def _request(self, url: str, started: float) -> Deferred[Outcome]:
        return Deferred.fromCoroutine(self._exchange(url, started))

    async def _exchange(self, url: str, started: float) -> Outcome:
        host, port, target = split_url(url)
        conn = self._take_idle()
        if conn is None:
            endpoint = TCP4ClientEndpoint(reactor, host, port, timeout=self._config.timeout_s)
            conn = await connectProtocol(endpoint, HTTP1Connection())
        parser = await conn.exchange(build_request(
            self._config.method, host_header(host, port), target, keepalive=self._keepalive, body=self._config.body))
        if self._keepalive and parser.keep_alive and not parser.trailing and not conn.closed:
            self._idle.append(conn)
        else:
            conn.close()
        assert parser.response is not None
        return Outcome.ok(parser.response.status, parser.response.body, started)

    def _take_idle(self) -> HTTP1Connection | None:
        while self._idle:
            conn = self._idle.pop()  # LIFO: the most recently used connection, the least likely closed
            if not conn.closed:
                return conn
        return None

    def close(self) -> None:
        self._runner.call(self._close_idle)

    def _close_idle(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()


def start(config: ClientConfig) -> TwistedRawFetcher:
    return TwistedRawFetcher(config)
