"""The codec stack on blocking sockets: ``CodecRequester(config, C)(url) -> Outcome``, HTTP through ``http1``.

The counterpart of ``strategies._requests.Requester`` for the models that block a thread, a greenlet or a
process per request (``threads-raw``, ``gevent-raw``, ``processes-raw``): the same call, made by our
sans-IO ``strategies.http1`` over a plain ``socket`` instead of by requests and urllib3, so a model's two
strategies differ only in the stack, and the codec strategies of two models only in the model.

Rules this module keeps:
- one request is: take an idle connection or connect, ``sendall`` the request (``http1.build_request``, a
  POST body form-encoded), ``recv`` into a fresh ``http1.ResponseParser`` until it is complete;
- ``timeout_s`` is a total deadline per request, from connect to the last body byte: the time left is set
  on the socket before every blocking call (connect, sendall, each recv), so a slow trickle of bytes cannot
  stretch a request past it, as a per-recv timeout (requests') would let it;
- keep-alive: a LIFO list of idle sockets per (host, port), at most ``pool_size`` of them, under a
  ``threading.Lock`` (cooperative once gevent has patched ``threading``). A connection goes back only when
  the request asked for keep-alive, the server agreed (``parser.keep_alive``), the response ended on its
  own length rather than on EOF, and no byte followed it (``parser.trailing``). It never holds more than
  ``pool_size`` connections as long as its callers are at most ``pool_size`` at once, which every model
  that uses it ensures (C threads, C greenlets; one caller per child process with ``pool_size`` 1);
- an idle connection is checked before reuse, as urllib3's ``is_connection_dropped`` does: one that has
  anything to read (the server's FIN after its idle timeout, a reset, stray bytes) is closed and the next
  is tried. A reused connection that still fails before any response byte is an **error, not retried**: a
  retry re-sends the request (the server would count two, and a POST is not idempotent, RFC 9110 9.2.2),
  and the stacks this one is compared with do not retry either (requests with its 0 retries, the select
  and asyncio codec strategies); the check leaves only the window between it and ``sendall`` for the
  server's close to fall in;
- ``close``: ``Connection: close`` on every request, a new connection per request, closed after it;
- every failure is ``Outcome.failed`` with the real exception (``ConnectionResetError``, ``TimeoutError``,
  ``http1.ProtocolError``), so error kinds stay truthful; nothing raises out of a call;
- ``as-written`` is the same code: it is ours, so there is no library default to keep; as-written rows
  are ``close`` rows, which open a connection per request as any recipe does.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

from strategies.base import ClientConfig, Outcome
from strategies.http1 import ResponseParser, build_request, host_header, split_url

#: recv buffer: 64 KiB takes a small response in one call and a 256 KiB body in a handful (as ``select``).
RECV_BYTES = 65536

Key = tuple[str, int]


class CodecRequester:
    """One request per call, on whichever thread, greenlet or process calls it; ``close`` drops idle sockets."""

    def __init__(self, config: ClientConfig, pool_size: int):
        self._config = config
        self._keepalive = config.policy == "keepalive"
        self._pool_size = pool_size
        self._idle: dict[Key, list[socket.socket]] = {}
        self._lock = threading.Lock()
        # Resolved once per (host, port), as the select client does: getaddrinfo must not be paid per
        # connection (under gevent it is a round trip through its resolver's thread pool).
        self._addresses: dict[Key, tuple[int, Any]] = {}

    def __call__(self, url: str) -> Outcome:
        started = time.perf_counter()
        deadline = started + self._config.timeout_s
        sock = None
        try:
            host, port, target = split_url(url)
            key = (host, port)
            data = build_request(self._config.method, host_header(host, port), target, keepalive=self._keepalive,
                                 body=self._config.body)
            sock = (self._take_idle(key) if self._keepalive else None) or self._connect(key, deadline)
            _set_deadline(sock, deadline)
            sock.sendall(data)
            parser = ResponseParser()
            while True:
                _set_deadline(sock, deadline)
                chunk = sock.recv(RECV_BYTES)
                if parser.feed(chunk) if chunk else parser.feed_eof():
                    break
            assert parser.response is not None
            outcome = Outcome.ok(parser.response.status, parser.response.body, started)
            # ``chunk`` empty: the response ended on EOF, the server has closed this connection.
            reusable = self._keepalive and parser.keep_alive and not parser.trailing and bool(chunk)
            if reusable and self._give_back(key, sock):
                sock = None
            return outcome
        except Exception as exc:  # noqa: BLE001 - every failure is this slot's outcome, never the caller's exception
            return Outcome.failed(exc, started)
        finally:
            if sock is not None:
                sock.close()

    def close(self) -> None:
        with self._lock:
            idle = [sock for socks in self._idle.values() for sock in socks]
            self._idle.clear()
        for sock in idle:
            sock.close()

    def _take_idle(self, key: Key) -> socket.socket | None:
        while True:
            with self._lock:
                socks = self._idle.get(key)
                if not socks:
                    return None
                sock = socks.pop()  # LIFO: the most recently used connection, the least likely closed
            if _still_open(sock):
                return sock
            sock.close()

    def _give_back(self, key: Key, sock: socket.socket) -> bool:
        with self._lock:
            socks = self._idle.setdefault(key, [])
            if len(socks) >= self._pool_size:
                return False
            socks.append(sock)
            return True

    def _connect(self, key: Key, deadline: float) -> socket.socket:
        if key not in self._addresses:
            info = socket.getaddrinfo(key[0], key[1], type=socket.SOCK_STREAM)[0]
            self._addresses[key] = (info[0], info[4])
        family, address = self._addresses[key]
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as urllib3 and asyncio do
            _set_deadline(sock, deadline)
            sock.connect(address)
        except BaseException:
            sock.close()
            raise
        return sock


def _set_deadline(sock: socket.socket, deadline: float) -> None:
    """The time left until ``deadline`` as the socket's timeout, for its next blocking call."""
    left = deadline - time.perf_counter()
    if left <= 0:  # settimeout(0) would make the socket non-blocking, not time it out
        raise TimeoutError("the request's deadline passed")
    sock.settimeout(left)


def _still_open(sock: socket.socket) -> bool:
    """Whether an idle connection can carry a request: nothing to read on it (no FIN, reset or stray
    bytes). One non-blocking peek; with timeout 0 gevent's socket raises instead of waiting too."""
    sock.settimeout(0.0)
    try:
        sock.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return True
    except OSError:
        return False
    return False
