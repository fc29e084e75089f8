"""The codec stack on blocking sockets: each worker of a blocking model makes its requests on a connection of its own.

The counterpart of ``strategies.shared._requests.RequestsStack`` for the models that block a thread, a greenlet or a
process per request (``threads-raw``, ``gevent-raw``, ``processes-raw``): ``CodecStack(config, workers)``,
and ``stack.worker()`` for each of the model's workers, the callable that worker makes its requests with,
HTTP through ``strategies.shared._codec`` over a plain ``socket`` instead of requests and urllib3. So a model's two
strategies differ only in the stack, and the codec strategies of two models only in the model.

Rules this module keeps:
- a worker owns at most one connection (``Connection``), so nothing is shared between workers and nothing
  is locked: under ``keepalive`` it is opened by the worker's first request, reused by its next ones, and
  dropped when a request on it fails or the response does not leave it reusable (the server did not agree
  to keep it, ``parser.keep_alive``; it ended on EOF; bytes followed it, ``parser.trailing``); under
  ``close`` every request sends ``Connection: close`` on a new connection, closed after it. C workers:
  at most C connections;
- one request is: connect if the worker has no connection, ``send`` the codec's request bytes, ``recv``
  into a fresh parser until it is complete;
- ``timeout_s`` is a total deadline per request, from when it is issued to its last body byte (feature
  ``deadline``), kept one of two ways. Where a worker blocks in the kernel (threads, processes) nothing
  can interrupt it, so its socket's timeout bounds each call, by the rule: a call may never wait longer
  than the time the request has left. The socket's timeout is set when a connection opens, to
  ``TIMEOUT_SHARE`` of the time left, and lowered again only when a call comes with less time left than it
  (the request is by then past that share of its timeout): a healthy request on a kept-alive connection
  never calls ``settimeout``. A call that waits out a timeout shorter than the time left (set for an earlier
  request) waits again, for what is left; ``send``, not ``sendall``, so that a timed-out call has sent
  nothing and may be made again. Where a worker's waits can be interrupted (greenlets: ``Expiry``), the
  sockets have no timeout and the deadlines' queue of ``strategies.shared._deadlines`` throws ``TimeoutError`` into
  an expired request's greenlet, wherever it waits. The historical reason, measured on 2026-12-07 (commit 1d9bb22) against the ladder's
  ``codec`` rung (no deadline; callgrind, keep-alive, C=10, N=150, per request, the candidates swapped in by a throwaway
  script): threads, this rule 3,100-3,800 instructions (a clock read per call, and CPython's ``poll``
  before each call on a socket with a timeout), ``settimeout`` before every call 8,900-9,900; greenlets,
  ``gevent.Timeout`` around each request 16,000-20,000, the queue and a socket timeout within the counts'
  noise (about 3,000), but a gevent socket timeout starts a timer for every wait that must wait, which
  callgrind's slow client never does: in req/s (quiet machine, pinned, median of 5 rounds) the socket
  timeout cost 22 % of the ``codec`` rung at C=10 and at C=100;
- a connection left idle between rounds may have been closed by the server meanwhile (its idle timeout):
  at a worker's first request of a round (``begin_round``) an idle connection is checked, as urllib3's
  ``is_connection_dropped`` does, with one non-blocking ``recv(MSG_PEEK)``: anything to read (a FIN, a
  reset, stray bytes) drops it, and the request connects anew. Within a round a worker's next request
  follows its last response at once, so a per-request check (``MSG_PEEK`` and a raised
  ``BlockingIOError`` every time) would guard a window of microseconds. A reused connection that still
  fails before any response byte is an **error, not retried**: a retry re-sends the request (the server
  would count two, and a POST is not idempotent, RFC 9110 9.2.2), and the stacks this one is compared with
  do not retry either (requests with its 0 retries, the select and asyncio codec strategies);
- every failure is ``Outcome.failed`` with the real exception (``ConnectionResetError``, ``TimeoutError``,
  ``http1.ProtocolError``), so error kinds stay truthful; nothing raises out of a call;
- ``as-written`` is the same code: it is ours, so there is no library default to keep; as-written rows
  are ``close`` rows, which open a connection per request as any recipe does;
- over https a connection is the socket wrapped by the stack's one ``ssl.SSLContext``
  (``strategies.tls.client_context``, made once in the stack's construction, in ``start`` or in each
  process's child as it starts, for both profiles: the HTTP is ours, so there is no recipe's way to keep):
  ``wrap_socket(server_hostname=host)`` right after the connect, the handshake under the same socket
  timeout as the connect (gevent's patched ``ssl`` makes it cooperative, its deadline the queue's). An idle
  TLS connection cannot be peeked through (``SSLSocket.recv`` takes no flags): it is dropped when OpenSSL
  holds decrypted bytes for it (``pending()``) or a peek at the descriptor under it finds anything (a
  close_notify, a FIN, a reset).
"""

from __future__ import annotations

import _socket
import math
import socket
import ssl
from collections.abc import Callable
from time import perf_counter
from typing import Any, NamedTuple

from strategies.base import ClientConfig, Outcome
from strategies.shared._codec import FULL, Codec, Features, Key, checked, new_codec
from strategies.shared._deadlines import Deadlines
from strategies.tls import client_context

#: recv buffer: 64 KiB takes a small response in one call and a 256 KiB body in a handful (as ``select``).
RECV_BYTES = 65536

#: A new connection's socket timeout, as a share of the time its request has left: a healthy request
#: never comes near half its timeout (the timeout only fires on faults), so it never sets it again; one
#: that does has a call wait out the rest (see the rules above).
TIMEOUT_SHARE = 0.5


class Expiry(NamedTuple):
    """A model whose waits can be interrupted (greenlets): the deadlines' queue that expires its requests,
    and how a request finds the worker to interrupt (``current()``, which must have ``throw``)."""

    deadlines: Deadlines
    current: Callable[[], Any]


class CodecStack:
    """Our codec for up to ``workers`` workers, each with a ``Connection`` of its own (``worker()``)."""

    def __init__(self, config: ClientConfig, workers: int, features: Features = FULL,
                 expiry: Expiry | None = None):
        self._config = config
        self._features = features
        self._expiry = expiry if features.deadline else None
        self._codec = new_codec(config, features)
        self._tls = client_context(config) if config.tls else None
        self._connections: list[Connection] = []
        # Resolved once per (host, port), as the select client does: getaddrinfo must not be paid per
        # connection (under gevent it is a round trip through its resolver's thread pool).
        self._addresses: dict[Key, tuple[int, Any]] = {}

    def worker(self) -> Connection:
        connection = Connection(self._config, self._features, self._codec, self._addresses, self._expiry,
                                self._tls)
        self._connections.append(connection)
        return connection

    def begin_round(self) -> None:
        for connection in self._connections:
            connection.check_idle = True

    def close(self) -> None:
        for connection in self._connections:
            connection.drop()


class Connection:
    """One worker's requests, one at a time, on at most one connection: ``connection(url) -> Outcome``."""

    __slots__ = ("_addresses", "_deadline", "_expiry", "_features", "_keepalive", "_key", "_new_parser", "_record",
                 "_request_bytes", "_sock", "_timed", "_timeout", "_timeout_s", "_tls", "_worker", "check_idle",
                 "deadline")

    def __init__(self, config: ClientConfig, features: Features, codec: Codec,
                 addresses: dict[Key, tuple[int, Any]], expiry: Expiry | None = None,
                 tls: ssl.SSLContext | None = None):
        self._features = features
        self._expiry = expiry
        #: With ``expiry``: the worker running the request in flight, and its entry in the deadlines' queue.
        self._worker: Any = None
        self.deadline: tuple[float, Any] | None = None
        self._request_bytes, self._new_parser = codec.request, codec.parser
        self._addresses = addresses
        self._keepalive = config.policy == "keepalive"
        self._timeout_s = config.timeout_s
        self._deadline = features.deadline and expiry is None  # socket timeouts: this module's own deadline
        self._record = features.record
        self._timed = features.deadline or features.record
        self._sock: socket.socket | None = None
        self._tls = tls
        self._key: Key | None = None
        #: The socket's timeout, always at most the time left of the request it serves.
        self._timeout = math.inf
        #: Set by ``CodecStack.begin_round``: check the idle connection before this round's first request.
        self.check_idle = False

    def __call__(self, url: str) -> Outcome:
        started = perf_counter() if self._timed else 0.0
        try:
            if self._expiry is not None:
                self._worker = self._expiry.current()
                self._expiry.deadlines.start(self, started)
            key, data = self._request_bytes(url)
            deadline = started + self._timeout_s if self._deadline else None
            sock = self._sock
            if self.check_idle:
                self.check_idle = False
                if sock is not None and not (_still_open(sock) if self._tls is None else _tls_still_open(sock)):
                    self.drop()
                    sock = None
            if sock is not None and key != self._key:  # another origin: this connection cannot serve it
                self.drop()
                sock = None
            if sock is None:
                sock = self._connect(key, deadline)
            while data:
                if deadline is not None and deadline - perf_counter() < self._timeout:
                    self._shrink(sock, deadline)
                try:
                    data = data[sock.send(data):]
                except TimeoutError:
                    self._waited_out(deadline)
            parser = self._new_parser()
            while True:
                if deadline is not None and deadline - perf_counter() < self._timeout:
                    self._shrink(sock, deadline)
                try:
                    chunk = sock.recv(RECV_BYTES)
                except TimeoutError:
                    self._waited_out(deadline)
                    continue
                if parser.feed(chunk) if chunk else parser.feed_eof():
                    break
            self.deadline = None
            response = parser.response
            assert response is not None
            # ``chunk`` empty: the response ended on EOF, the server has closed this connection.
            if not (self._keepalive and parser.keep_alive and not parser.trailing and chunk):
                self.drop()
            if self._record:
                return Outcome.ok(response.status, response.body, started)
            return checked(self._features, response.status, response.body)
        except Exception as exc:  # noqa: BLE001 - every failure is this slot's outcome, never the caller's exception
            self.deadline = None
            self.drop()
            return Outcome.failed(exc, started)

    def expire(self) -> None:
        """With ``expiry``: the request's deadline has passed; interrupt its worker where it waits."""
        self._worker.throw(self._late())

    def drop(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _connect(self, key: Key, deadline: float | None) -> socket.socket:
        if key not in self._addresses:
            info = socket.getaddrinfo(key[0], key[1], type=socket.SOCK_STREAM)[0]
            self._addresses[key] = (info[0], info[4])
        family, address = self._addresses[key]
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as urllib3 and asyncio do
            if deadline is not None:
                self._timeout = TIMEOUT_SHARE * self._left(deadline)
                sock.settimeout(self._timeout)
            sock.connect(address)
            if self._tls is not None:
                sock = self._tls.wrap_socket(sock, server_hostname=key[0])
        except BaseException:
            sock.close()
            raise
        self._sock, self._key = sock, key
        return sock

    def _shrink(self, sock: socket.socket, deadline: float) -> None:
        """The next call comes with less time left than the socket's timeout: lower it to the time left."""
        self._timeout = self._left(deadline)
        sock.settimeout(self._timeout)

    def _waited_out(self, deadline: float | None) -> None:
        """A call timed out: past the deadline, the request has; before it, the call waited out a timeout
        shorter than the time left (set for an earlier request), and is made again with the rest."""
        if deadline is None or perf_counter() >= deadline:
            raise self._late() from None
        self._timeout = math.inf  # the next call sets the time left

    def _left(self, deadline: float) -> float:
        left = deadline - perf_counter()
        if left <= 0:  # settimeout(0) would make the socket non-blocking, not time it out
            raise self._late()
        return left

    def _late(self) -> TimeoutError:
        return TimeoutError(f"no complete response within {self._timeout_s} s")


def _still_open(sock: socket.socket) -> bool:
    """Whether an idle connection can carry a request: nothing to read on it (no FIN, reset or stray
    bytes). One non-blocking peek; with timeout 0 gevent's socket raises instead of waiting too."""
    timeout = sock.gettimeout()
    sock.settimeout(0.0)
    try:
        sock.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        sock.settimeout(timeout)
        return True
    except OSError:
        return False
    return False


def _tls_still_open(sock: Any) -> bool:
    """``_still_open`` for a TLS connection (an ``ssl.SSLSocket``, gevent's under ``patch_all``): nothing
    decrypted held for it, nothing to read on the descriptor under it. The peek is ``MSG_DONTWAIT`` on a
    plain socket object over the same descriptor (detached after), so neither socket's mode changes; the C
    module's own socket, which gevent does not patch (gevent's would wait for the descriptor instead)."""
    if sock.pending():
        return False
    probe = _socket.socket(fileno=sock.fileno())
    try:
        probe.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        probe.detach()
    return False
