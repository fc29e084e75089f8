"""``SelectClient``: the callback-style HTTP client the tutorials build on ``select.select``, done right.

Usage::

    with SelectClient(max_connections=10, timeout_s=5.0) as client:
        client.add_request("127.0.0.1", 8080, "/work?id=1", callbacks=[print])
        client.run()      # returns when every request has called its callbacks
    # leaving the block closes it: idle keep-alive connections closed, unfinished requests called back

``SelectClient(..., backend="epoll")`` is the same client on ``select.epoll`` (or ``"poll"``): the server's
multiplexers (``local_server.backends``), so the select/poll/epoll lesson holds on the client side too.
``select.select`` copies and scans every watched descriptor on each turn and stops at FD_SETSIZE; epoll
keeps the interest list in the kernel and has no such limit, only RLIMIT_NOFILE.

Each callback receives a ``Response`` (status, headers, body) or a ``RequestError`` (message); every
request gets exactly one of them, exactly once, also when the client is closed before it ran or finished.
A ``RequestError``'s message starts with the name of the error, e.g. ``ConnectionRefusedError: ...``, taken
from the socket's own error code. The ``RequestHandle`` returned by ``add_request`` also holds the
result and its timing, for callers that prefer to read results after ``run()``.

Rules this module keeps:
- a library, not a benchmark adapter: it knows nothing of the suite's workloads (the ``select`` strategy,
  ``strategies.impl.select_strategy``, adapts it);
- non-blocking sockets, one wait of the multiplexer per loop turn, no threads; HTTP bytes come from and go
  to the sans-IO ``strategies.http1``;
- each socket waits for one thing at a time, and the multiplexer is told when that changes: writable while
  connecting or sending, readable while receiving or idle; a socket leaves the multiplexer before it closes
  (its number may be reused at once);
- at most ``max_connections`` sockets are open at any time, idle keep-alive ones included, so the
  concurrency cap and the descriptor budget are the same number;
- every request has a deadline (``timeout_s`` from the moment it gets a connection); past it the request
  fails with TimeoutError and its socket is closed. A stall is an error, never a hang. One ``timeout_s``
  for all, so deadlines come in the order requests start: a queue, not a scan of every connection per turn.
  ``timeout_s=None`` has none (the model ladder's rungs without a deadline, ``python -m bench.ladder``);
- requests are ``add_request``'s (built by ``strategies.http1.build_request``) or ``add_raw_request``'s,
  bytes built by the caller; responses are read by ``parser()`` (``strategies.http1.ResponseParser`` unless
  given another with its interface, as the ladder's bare rung does), a fresh one per response;
- ``select.select`` cannot watch a descriptor >= FD_SETSIZE: such a socket is closed at once and its
  request fails cleanly, instead of the whole loop crashing with ValueError (epoll and poll have no limit);
- keep-alive: a connection returns to the idle pool only if the request asked for it, the server agreed
  (``Connection`` header / HTTP version) and nothing arrived after the response. Idle connections are
  watched too: one that becomes readable (the server closed it) is dropped before it can be reused;
- TLS (``tls=`` an ``ssl.SSLContext``; ``server_hostname`` is the request's host): a socket is wrapped
  before it connects (``do_handshake_on_connect=False``) and, once connected, handshakes in steps inside
  the loop: ``do_handshake()`` whenever the socket is ready for what the last step wanted
  (``SSLWantReadError``: readable, ``SSLWantWriteError``: writable), no thread, no blocking call. ``send``
  and ``recv`` take the same want-errors the same way: a readable socket whose ``recv`` wants more
  (a record not yet whole, a session ticket) is waiting, not at EOF. What OpenSSL has decrypted beyond
  one ``recv`` (``pending()``) is read at once, since the socket will not signal it again. A handshake or
  other TLS error fails the request with the ``ssl.SSLError`` as its ``RequestError.cause``.
"""

from __future__ import annotations

import errno
import socket
import ssl
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Self

from local_server.backends import BACKENDS, FD_SETSIZE, READ, WRITE
from strategies.http1 import ProtocolError, Response, ResponseParser, build_request, host_header

__all__ = ["BACKENDS", "FD_SETSIZE", "RequestError", "RequestHandle", "Response", "SelectClient"]

#: recv buffer: 64 KiB takes a small response in one call and a 256 KiB body in a handful.
RECV_BYTES = 65536


@dataclass
class RequestError:
    """Why a request produced no response, e.g. ``"TimeoutError: no response within 5.0 s"``; ``cause``: the
    exception it came from, where there was one."""

    message: str
    cause: BaseException | None = None


Result = Response | RequestError
Callback = Callable[[Result], None]


class RequestHandle:
    """What ``add_request`` returns: one queued request; after ``run()``, ``result`` is set and
    ``elapsed_s`` is its latency."""

    __slots__ = ("callbacks", "data", "elapsed_s", "keepalive", "key", "result", "started")

    def __init__(self, key: tuple[str, int], data: bytes, callbacks: Sequence[Callback], keepalive: bool):
        self.key = key
        self.data = data
        self.callbacks = list(callbacks)
        self.keepalive = keepalive
        self.started = 0.0
        self.elapsed_s = 0.0
        self.result: Result | None = None


class _Connection:
    __slots__ = ("connecting", "fd", "handshaking", "key", "mask", "out", "parser", "request", "sock")

    def __init__(self, sock: socket.socket, key: tuple[str, int], handshaking: bool = False):
        self.sock = sock
        self.fd = sock.fileno()
        self.key = key
        self.request: RequestHandle | None = None
        self.parser: Any = None  # the parser() of the request in flight
        self.out = b""
        self.connecting = False
        #: A TLS connection whose handshake is not done: its next step runs when the socket is ready.
        self.handshaking = handshaking
        #: What the multiplexer watches it for: WRITE until the request is sent, then READ (idle too).
        self.mask = WRITE


class SelectClient:
    def __init__(self, max_connections: int = 10, timeout_s: float | None = 10.0, keepalive: bool = True,
                 backend: str = "select", parser: Callable[[], Any] = ResponseParser,
                 tls: ssl.SSLContext | None = None):
        if max_connections < 1:
            raise ValueError("max_connections must be >= 1")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(sorted(BACKENDS))}, got {backend!r}")
        self.max_connections = max_connections
        self.timeout_s = timeout_s
        self.keepalive = keepalive
        self.backend = backend
        self._parser = parser
        self._tls = tls
        self._mux = BACKENDS[backend]()
        self._closed = False
        self._pending: deque[RequestHandle] = deque()
        self._active: dict[int, _Connection] = {}  # fd -> connection carrying a request
        self._idle: dict[int, _Connection] = {}  # fd -> keep-alive connection waiting for a request
        #: (deadline, connection, request) in the order requests started, hence of their deadlines; an entry
        #: whose connection carries another request by now (or none) is stale and skipped.
        self._deadlines: deque[tuple[float, _Connection, RequestHandle]] = deque()
        self._addresses: dict[tuple[str, int], tuple[int, tuple]] = {}

    def add_request(
        self,
        host: str,
        port: int,
        path: str,
        method: str = "GET",
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        callbacks: Sequence[Callback] = (),
        keepalive: bool | None = None,
    ) -> RequestHandle:
        keepalive = self.keepalive if keepalive is None else keepalive
        data = build_request(method, host_header(host, port), path, keepalive=keepalive, body=body, headers=headers)
        return self.add_raw_request(host, port, data, callbacks, keepalive)

    def add_raw_request(self, host: str, port: int, data: bytes, callbacks: Sequence[Callback] = (),
                        keepalive: bool | None = None) -> RequestHandle:
        """Queue ``data``, a whole request as built by the caller, which asked for keep-alive or not as
        ``keepalive`` says (the client's default when None)."""
        request = RequestHandle((host, port), data, callbacks, self.keepalive if keepalive is None else keepalive)
        self._pending.append(request)
        return request

    def run(self) -> None:
        """Perform every queued request; returns when each has delivered its result to its callbacks."""
        if self._closed:
            raise RuntimeError("run() on a closed SelectClient")
        self._drop_stale_idle()
        while self._pending or self._active:
            self._start_pending()
            if not self._active:
                continue
            self._poll()

    def close(self) -> None:
        """Close every connection; a request not finished yet (queued, or cut off by an exception out of
        ``run``) gets a ``RequestError`` through its callbacks, so none is left without a result. A closed
        client cannot run again: its multiplexer (an epoll descriptor) is closed too."""
        for conn in list(self._active.values()):
            self._fail(conn, "ConnectionAbortedError: the client was closed before the response")
        while self._pending:
            request = self._pending.popleft()
            request.started = time.perf_counter()
            self._deliver(request, RequestError("ConnectionAbortedError: the client was closed before it ran"))
        for conn in list(self._idle.values()):
            self._drop_idle(conn)
        self._deadlines.clear()
        self._mux.close()
        self._closed = True

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the loop ------------------------------------------------------------------------------------

    def _poll(self) -> None:
        deadlines = self._deadlines
        timeout = None
        if self.timeout_s is not None:
            while deadlines[0][1].request is not deadlines[0][2]:  # finished: there is always a live one (active)
                deadlines.popleft()
            timeout = max(0.0, deadlines[0][0] - time.perf_counter())
        for fd, _ in self._mux.poll(timeout):
            # A socket waits for one thing (its mask), so which one it was is known; an error or hang-up
            # (epoll reports them unasked) surfaces in the send or recv that follows.
            conn = self._active.get(fd)
            if conn is None:
                if fd in self._idle:
                    self._drop_idle(self._idle[fd])
            elif conn.out or conn.connecting or conn.handshaking:
                self._on_writable(conn)
            else:
                self._on_readable(conn)
        now = time.perf_counter()
        while deadlines and deadlines[0][0] <= now:
            _, conn, request = deadlines.popleft()
            if conn.request is request:
                self._fail(conn, f"TimeoutError: no response within {self.timeout_s} s")

    def _start_pending(self) -> None:
        while self._pending and len(self._active) < self.max_connections:
            request = self._pending.popleft()
            request.started = time.perf_counter()
            conn = self._take_idle(request.key) if request.keepalive else None
            if conn is None:
                try:
                    conn = self._open(request.key)
                except OSError as exc:
                    self._deliver(request, RequestError(f"{type(exc).__name__}: {exc}", exc))
                    continue
            conn.request = request
            conn.parser = self._parser()
            conn.out = request.data
            if self.timeout_s is not None:
                self._deadlines.append((request.started + self.timeout_s, conn, request))
            self._active[conn.fd] = conn
            if not conn.connecting:
                self._on_writable(conn)  # an open connection takes a small request at once: skip a turn

    def _take_idle(self, key: tuple[str, int]) -> _Connection | None:
        for fd, conn in self._idle.items():
            if conn.key == key:
                del self._idle[fd]
                return conn
        return None

    def _open(self, key: tuple[str, int]) -> _Connection:
        if len(self._active) + len(self._idle) >= self.max_connections:
            self._drop_idle(next(iter(self._idle.values())))  # the cap counts idle sockets too
        family, address = self._resolve(key)
        sock = socket.socket(family, socket.SOCK_STREAM)
        max_fd = self._mux.max_fd
        if max_fd is not None and sock.fileno() >= max_fd:
            fd = sock.fileno()
            sock.close()
            raise OSError(errno.EMFILE, f"descriptor {fd} >= FD_SETSIZE ({max_fd}): {self.backend} cannot watch it")
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as urllib3 and asyncio do
        if self._tls is not None:
            sock = self._tls.wrap_socket(sock, server_hostname=key[0], do_handshake_on_connect=False)
        conn = _Connection(sock, key, handshaking=self._tls is not None)
        err = sock.connect_ex(address)
        if err not in (0, errno.EINPROGRESS):
            sock.close()
            raise OSError(err, f"connect to {key[0]}:{key[1]} failed: {errno.errorcode.get(err, err)}")
        conn.connecting = err == errno.EINPROGRESS
        self._mux.register(conn.fd, WRITE)  # to connect, or to send the request at once
        return conn

    def _resolve(self, key: tuple[str, int]) -> tuple[int, tuple]:
        # Resolved once per (host, port): getaddrinfo blocks, and it must not be paid per request.
        if key not in self._addresses:
            family, _, _, _, address = socket.getaddrinfo(key[0], key[1], type=socket.SOCK_STREAM)[0]
            self._addresses[key] = (family, address)
        return self._addresses[key]

    # -- events --------------------------------------------------------------------------------------

    def _on_writable(self, conn: _Connection) -> None:
        if conn.connecting:
            err = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                # OSError(errno, ...) is the errno's own subclass: ConnectionRefusedError, TimeoutError, ...
                error = OSError(err, f"connect failed: {errno.errorcode.get(err, err)}")
                self._fail(conn, f"{type(error).__name__}: {error.strerror}")
                return
            conn.connecting = False
        if conn.handshaking and not self._handshake(conn):
            return
        try:
            sent = conn.sock.send(conn.out)
        except (BlockingIOError, ssl.SSLWantWriteError):
            sent = 0
        except ssl.SSLWantReadError:
            self._watch(conn, READ)  # TLS must read before it can write: sent again once readable
            return
        except OSError as exc:
            self._fail(conn, f"{type(exc).__name__}: {exc}", exc)
            return
        conn.out = conn.out[sent:]
        self._watch(conn, WRITE if conn.out else READ)

    def _handshake(self, conn: _Connection) -> bool:
        """One step of a TLS connection's handshake; True once it is done (the request can be sent)."""
        sock: Any = conn.sock  # an ssl.SSLSocket: the client wrapped it
        try:
            sock.do_handshake()
        except ssl.SSLWantReadError:
            self._watch(conn, READ)
            return False
        except ssl.SSLWantWriteError:
            self._watch(conn, WRITE)
            return False
        except OSError as exc:  # ssl.SSLError is one: a refused certificate, an alert, a reset
            self._fail(conn, f"{type(exc).__name__}: {exc}", exc)
            return False
        conn.handshaking = False
        return True

    def _watch(self, conn: _Connection, mask: int) -> None:
        if conn.mask != mask:  # a reused connection is watched for reading already: no syscall for epoll
            self._mux.modify(conn.fd, mask)
            conn.mask = mask

    def _on_readable(self, conn: _Connection) -> None:
        assert conn.parser is not None
        try:
            data = self._recv(conn.sock)
            done = conn.parser.feed(data) if data else conn.parser.feed_eof()
        except (BlockingIOError, ssl.SSLWantReadError):  # TLS: a record not whole yet, or not application data
            return
        except ssl.SSLWantWriteError:
            self._watch(conn, WRITE)  # TLS must write before it can read; read again once writable
            return
        except (OSError, ProtocolError) as exc:
            self._fail(conn, f"{type(exc).__name__}: {exc}", exc)
            return
        self._watch(conn, READ)
        if done:
            self._succeed(conn, reusable=bool(data))

    def _recv(self, sock: socket.socket) -> bytes:
        data = sock.recv(RECV_BYTES)
        if self._tls is not None and data:
            tls: Any = sock
            while tls.pending():  # decrypted already: the socket will not be readable for it again
                data += tls.recv(RECV_BYTES)
        return data

    # -- endings -------------------------------------------------------------------------------------

    def _succeed(self, conn: _Connection, reusable: bool) -> None:
        request, parser = conn.request, conn.parser
        assert request is not None
        assert parser is not None
        assert parser.response is not None
        del self._active[conn.fd]
        conn.request = conn.parser = None
        if reusable and request.keepalive and parser.keep_alive and not parser.trailing:
            self._idle[conn.fd] = conn  # still watched for reading: a close by the server drops it
        else:
            self._close(conn)
        self._deliver(request, parser.response)

    def _fail(self, conn: _Connection, message: str, cause: BaseException | None = None) -> None:
        request = conn.request
        assert request is not None
        del self._active[conn.fd]
        conn.request = conn.parser = None
        self._close(conn)
        self._deliver(request, RequestError(message, cause))

    def _drop_idle(self, conn: _Connection) -> None:
        del self._idle[conn.fd]
        self._close(conn)

    def _close(self, conn: _Connection) -> None:
        self._mux.unregister(conn.fd)  # first: once closed, its number is free for the next socket
        conn.sock.close()

    def _drop_stale_idle(self) -> None:
        """Drop the idle connections that became readable (the server closed them) since the last run."""
        if self._idle:
            for fd, _ in self._mux.poll(0):
                if fd in self._idle:
                    self._drop_idle(self._idle[fd])

    @staticmethod
    def _deliver(request: RequestHandle, result: Result) -> None:
        request.elapsed_s = time.perf_counter() - request.started
        request.result = result
        for callback in request.callbacks:
            callback(result)
