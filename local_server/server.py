"""The event loop: one thread, non-blocking sockets, a readiness backend, a timer heap, per-connection state.

Invariants this module keeps:
- no handler ever blocks the loop: every socket is non-blocking, and a delay is an entry in the timer heap
  (``heapq``), never a sleep; so is a paced answer (``rate_kbps``): it stays at the head of its queue and
  each timer releases what its link has carried by then (``local_server.pacing``), until its last byte;
- every connection has a deadline: a client that neither completes a request, nor reads what we send,
  within ``idle_timeout`` is closed by the periodic sweep (a connection waiting on one of our timers is
  exempt: the wait is ours, pacing included). The deadline moves when a request completes or a send makes progress, never
  on partial input, so a slow-loris client cannot keep a connection by dribbling bytes;
- responses on one connection leave in request order: each request gets a slot in the connection's queue,
  and only the ready slots at its head are written, batched into one send;
- ``in_flight`` counts requests received and not fully answered: +1 when a request is parsed, -1 when the
  last byte of its response is accepted by the kernel or its connection closes (a paced response's last
  byte leaves last, so it counts until its body has trickled out); ``peak_in_flight`` is its exact maximum. Control routes (/stats, /stats/reset) and protocol errors are not requests;
- a connection that asked to close is closed by us once its response is sent (the TIME_WAIT stays here);
  when unread input may be pending we shut down our side and drain for a short linger first, so the
  client reads our answer instead of an RST;
- the loop measures its own lag (``loop_lag_max_s`` in ``/stats``, since the last reset): the longest time it
  could not react, i.e. the longest turn (from a wait's end to the next wait) or the longest overrun of a
  wait past its timeout (the process stopped, or not given a core). A wait lasts at most ``LAG_TICK_S``, so
  a stall that begins while the loop waits is measured to within that tick; one inside a turn, exactly;
- plain connections take the inlined hot path (``os.read``/``os.write`` on the descriptor); a connection
  with a ``tls`` layer (``local_server.tls.TlsServer``, ``--tls``) is handed to ``_on_tls_event`` and
  written through its layer's ``send``; the bookkeeping above is the same for both.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import functools
import heapq
import json
import os
import socket
import struct
import sys
import time
from typing import TYPE_CHECKING, Any, Protocol

from local_server.backends import BACKENDS, ERROR, READ, WRITE
from local_server.pacing import Pace
from local_server.protocol import ParsedRequest, Rejection, RequestReader, encode_response
from local_server.routes import JSON, TEXT, Control, Reply, route

if TYPE_CHECKING:
    from local_server.api import Stats

#: Default idle timeout. Longer than any pause between benchmark rounds, so a client's pooled keep-alive
#: connection is never closed under it while it reuses it (that race would show up as client errors).
IDLE_TIMEOUT_S = 60.0
#: How long we drain a client after a close that may race with its unread input (see module invariants).
LINGER_S = 2.0
#: One recv per readiness event; 256 KiB takes a burst of pipelined requests or a large body in one call.
RECV_SIZE = 256 * 1024
#: Accepts per readiness event of the listener: enough to absorb a connect storm in few wakeups, bounded
#: so that the connections already open keep being served meanwhile.
ACCEPT_BATCH = 128
#: Backlog: a burst of thousands of connects must queue, not be refused (the kernel caps it at somaxconn).
BACKLOG = 4096
#: After EMFILE we stop accepting for this long instead of spinning on a listener that stays readable.
ACCEPT_PAUSE_S = 0.1
#: Answers with bodies up to this size are memoized whole (the workloads repeat the same few answers);
#: larger ones are built per request, where the copy costs more than the formatting anyway.
SMALL_BODY = 4096
#: The longest a wait (``poll``) may last, so that a stall which begins during one is measured to within
#: this (a wait's overrun past its timeout is what shows it): 50 ms is well below the 100 ms a stall needs
#: to be one (``bench.sweep.cells``), and costs an idle loop 20 wake-ups a second (about 0.1 ms of CPU in
#: all); a busy loop never waits that long anyway.
LAG_TICK_S = 0.05
#: At most one log line per this many seconds for a repeated condition (FD_SETSIZE, EMFILE).
LOG_EVERY_S = 10.0

_END_CLOSE, _END_RESET = 1, 2
_GARBAGE = b"\x00\xff\xfeTHIS IS NOT HTTP\r\n\x07\x08garbage\r\n\r\n"
_TRUNCATED = (b"HTTP/1.1 200 OK\r\nServer: concbench\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n"
              b"only part of the promised body")
#: The slot of each fault: (ready, bytes to send, requests counted, what then). A stall is never ready;
#: the idle sweep closes its connection.
_FAULTS: dict[str, tuple[bool, bytes, int, int]] = {
    "reset": (True, b"", 1, _END_RESET),
    "close": (True, b"", 1, _END_CLOSE),
    "truncate": (True, _TRUNCATED, 1, _END_CLOSE),
    "garbage": (True, _GARBAGE, 1, _END_CLOSE),
    "stall": (False, b"", 1, _END_CLOSE),
}
_REJECT_503 = encode_response(503, TEXT, b"server at its select() FD_SETSIZE limit\n", keep_alive=False)


encode_small = functools.lru_cache(maxsize=4096)(encode_response)


def log(message: str) -> None:
    print(f"local_server: {message}", file=sys.stderr, flush=True)


#: One answer waiting its turn: (ready, bytes, requests it counts for in_flight, what to do after it). A
#: tuple when ready at once, a list when a timer will flip ``ready``; a paced answer's list has its ``Pace``
#: fifth, and its timers flip ``ready`` once per release.
Slot = tuple[bool, bytes, int, int] | list[Any]


class TlsLayer(Protocol):
    """What the loop asks of a connection's TLS layer (``local_server.tls.TlsConnection``)."""

    def send(self, data: bytes | bytearray) -> int:
        """Write from the start of ``data``; return the bytes taken (0: would block). OSError on failure."""


class Conn:
    """State of one client connection."""

    __slots__ = (
        "closed",
        "deadline",
        "end",
        "eof",
        "fd",
        "lingering",
        "marks",
        "mask",
        "out",
        "queue",
        "queued",
        "reader",
        "sent",
        "tls",
        "waiting",
    )

    def __init__(self, fd: int, deadline: float) -> None:
        self.fd = fd
        self.reader = RequestReader()
        self.queue: collections.deque[Slot] = collections.deque()
        self.out = bytearray()
        self.marks: collections.deque[tuple[int, int]] = collections.deque()  # (stream offset, requests)
        self.queued = self.sent = 0  # bytes put in ``out`` / accepted by the kernel, since the start
        self.mask = READ
        self.deadline = deadline
        self.waiting = 0  # slots waiting on a timer
        self.end = 0  # what to do once ``out`` is flushed: 0, _END_CLOSE, _END_RESET
        self.eof = self.closed = self.lingering = False
        self.tls: TlsLayer | None = None  # set by a TLS server (``local_server.tls``); None: plain


class Server:
    #: The URL's scheme; ``local_server.tls.TlsServer`` serves https.
    scheme = "http"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, backend: str = "select",
                 idle_timeout: float = IDLE_TIMEOUT_S) -> None:
        self.backend = BACKENDS[backend]()
        self.idle_timeout = idle_timeout
        self.listener = socket.create_server((host, port), family=_family(host), backlog=BACKLOG,
                                             reuse_port=False)
        self.listener.setblocking(False)
        # Accepted sockets inherit TCP_NODELAY on Linux: responses are written whole, so Nagle only adds the
        # delayed-ACK stall on the last segment of a large body.
        self.listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.listen_fd = self.listener.fileno()
        self.backend.register(self.listen_fd, READ)
        self.conns: dict[int, Conn] = {}
        self.timers: list[tuple[float, int, Any, Any]] = []
        self._seq = 0
        self.now = self.started = time.monotonic()
        self._last_log: dict[str, float] = {}
        self._sweep_every = min(1.0, self._shortest_timeout() / 4)  # so a timeout fires at most 25% late
        self.reset_stats()
        self.peak_in_flight = self.in_flight = 0
        self._add_timer(self._sweep_every, self._sweep, None)

    @property
    def url(self) -> str:
        host, port = self.listener.getsockname()[:2]
        return f"{self.scheme}://[{host}]:{port}/" if ":" in host else f"{self.scheme}://{host}:{port}/"

    def _shortest_timeout(self) -> float:
        """The shortest deadline a connection can have (the sweep runs four times as often)."""
        return self.idle_timeout

    # Stats -------------------------------------------------------------------------------------------

    def reset_stats(self) -> None:
        self.requests = self.bad_requests = 0
        self.loop_lag_max_s = 0.0
        self.status_counts: collections.Counter[int] = collections.Counter()
        self.peak_in_flight = getattr(self, "in_flight", 0)

    def stats(self) -> Stats:
        return {
            "backend": self.backend.name, "requests": self.requests, "open_connections": len(self.conns),
            "in_flight": self.in_flight, "peak_in_flight": self.peak_in_flight,
            "bad_requests": self.bad_requests,
            "status_counts": {str(k): v for k, v in sorted(self.status_counts.items())},
            "pid": os.getpid(), "cpu_s": round(time.process_time(), 6),  # user+sys, ns clock (os.times ticks are 10 ms)
            "uptime_s": round(time.monotonic() - self.started, 3),
            "loop_lag_max_s": round(self.loop_lag_max_s, 6),
        }

    # Loop --------------------------------------------------------------------------------------------

    def serve_forever(self) -> None:
        poll, conns, timers, read, monotonic = self.backend.poll, self.conns, self.timers, os.read, time.monotonic
        now, tick = monotonic(), LAG_TICK_S
        while True:
            waits = monotonic()
            timeout = timers[0][0] - waits if timers else tick
            if timeout > tick:
                timeout = tick
            elif timeout < 0.0:
                timeout = 0.0
            events = poll(timeout)
            turn_s = waits - now  # the turn just done, from the last wait's end
            self.now = now = monotonic()
            # The loop's lag: that turn, or this wait's overrun past its timeout. Comparisons, not max()
            # (nor above, for the timeout): per turn, a call cost ~2 % of a request's instructions here.
            lag = now - waits - timeout
            if turn_s > lag:  # noqa: PLR1730
                lag = turn_s
            if lag > self.loop_lag_max_s:  # noqa: PLR1730
                self.loop_lag_max_s = lag
            for fd, mask in events:
                conn = conns.get(fd)
                if conn is None:
                    if fd == self.listen_fd:
                        self._accept()
                    continue
                if conn.tls is not None:
                    self._on_tls_event(conn, mask)
                    continue
                if mask & (READ | ERROR):
                    # The read is inlined here (not a method): it runs once per request on the hot path.
                    try:
                        data = read(fd, RECV_SIZE)
                    except BlockingIOError:
                        continue
                    except OSError:
                        self._close(conn)
                        continue
                    if not data:
                        self._on_eof(conn)
                        continue
                    requests = conn.reader.receive_data(data)
                    if requests:
                        self._on_events(conn, requests)
                if mask & WRITE and not conn.closed:
                    self._flush(conn)
            if timers and timers[0][0] <= now:
                self._run_timers()

    def close(self) -> None:
        """Close every connection and the listener (idempotent)."""
        for conn in list(self.conns.values()):
            self._close(conn)
        if self.listener.fileno() >= 0:
            self.backend.unregister(self.listen_fd)
            self.listener.close()
            self.backend.close()

    def _add_timer(self, delay_s: float, target: Any, arg: Any) -> None:
        self._seq += 1
        heapq.heappush(self.timers, (self.now + delay_s, self._seq, target, arg))

    def _run_timers(self) -> None:
        timers, now = self.timers, self.now
        while timers and timers[0][0] <= now:
            _, _, target, arg = heapq.heappop(timers)
            if target.__class__ is Conn:  # a delayed response became due
                if not target.closed:
                    arg[0] = True
                    target.waiting -= 1
                    self._drain(target)
            else:
                target(arg)

    def _sweep(self, _: Any) -> None:
        now = self.now
        for conn in [c for c in self.conns.values() if c.deadline < now and not c.waiting]:
            self._expire(conn)
        self._add_timer(self._sweep_every, self._sweep, None)

    def _expire(self, conn: Conn) -> None:
        """``conn`` is past its deadline: close it."""
        self._close(conn)

    def _on_tls_event(self, conn: Conn, mask: int) -> None:
        """Readiness on a connection with a TLS layer; only ``local_server.tls.TlsServer`` makes those."""
        raise NotImplementedError("a plain server has no TLS connections")

    def _log_limited(self, key: str, message: str) -> None:
        if self.now - self._last_log.get(key, -LOG_EVERY_S) >= LOG_EVERY_S:
            self._last_log[key] = self.now
            log(message)

    # Accepting ---------------------------------------------------------------------------------------

    def _accept(self) -> None:
        accept = self.listener._accept  # type: ignore[attr-defined]  # (fd, addr): no socket object needed
        max_fd = self.backend.max_fd
        for _ in range(ACCEPT_BATCH):
            try:
                fd, _addr = accept()
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    self._log_limited("emfile", f"accept: {exc.strerror}; pausing accepts "
                                                f"{ACCEPT_PAUSE_S}s (open connections: {len(self.conns)})")
                    self.backend.unregister(self.listen_fd)
                    self._add_timer(ACCEPT_PAUSE_S, self._resume_accept, None)
                    return
                continue  # ECONNABORTED and the like concern only that one connection
            if max_fd is not None and fd >= max_fd:
                self._reject(fd, max_fd)
                continue
            self._open(fd)

    def _open(self, fd: int) -> None:
        """Start serving an accepted connection."""
        os.set_blocking(fd, False)
        self.conns[fd] = Conn(fd, self.now + self.idle_timeout)
        self.backend.register(fd, READ)

    def _resume_accept(self, _: Any) -> None:
        if self.listener.fileno() >= 0:
            self.backend.register(self.listen_fd, READ)

    def _reject(self, fd: int, max_fd: int) -> None:
        """Answer 503 and close a connection the backend cannot watch; the loop goes on."""
        self._log_limited("fd_setsize", f"select backend: connection fd {fd} >= FD_SETSIZE {max_fd}; "
                                        f"answering 503 and closing it ({len(self.conns)} open)")
        self.status_counts[503] += 1
        os.set_blocking(fd, False)
        with contextlib.suppress(OSError):
            os.read(fd, RECV_SIZE)  # consume a request already sent, so close() sends FIN, not RST
        with contextlib.suppress(OSError):
            os.write(fd, _REJECT_503)  # a fresh socket's send buffer always takes these few bytes
        os.close(fd)

    # Reading -----------------------------------------------------------------------------------------

    def _on_eof(self, conn: Conn) -> None:
        """The client will send nothing more: finish the answers it can still get, then close."""
        conn.eof = True
        if conn.lingering or not (conn.waiting or conn.out):
            self._close(conn)
        else:
            self._set_mask(conn, WRITE if conn.out else 0)

    def _on_events(self, conn: Conn, events: list[ParsedRequest | Rejection]) -> None:
        conn.deadline = self.now + self.idle_timeout
        queue = conn.queue
        if len(events) == 1 and not queue and not conn.out:
            # Fast path (nearly every request of a benchmark): one request, nothing pending before it.
            event = events[0]
            slot = self._answer(conn, event) if event.__class__ is ParsedRequest else self._error(event)  # type: ignore[arg-type]
            if slot[0] and not slot[3]:
                self._write_direct(conn, slot[1], slot[2])
                return
            queue.append(slot)
        else:
            for event in events:
                slot = self._answer(conn, event) if event.__class__ is ParsedRequest else self._error(event)  # type: ignore[arg-type]
                queue.append(slot)
                if slot[3]:  # nothing after a closing answer is answered
                    break
        self._drain(conn)

    def _write_direct(self, conn: Conn, data: bytes, counted: int) -> None:
        """Write one answer on a connection with nothing pending; keep what the kernel did not take."""
        try:
            sent = os.write(conn.fd, data) if conn.tls is None else conn.tls.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            self._close(conn)
            return
        if sent == len(data):
            self.in_flight -= counted
            return
        conn.out += data[sent:]
        conn.queued = len(conn.out)
        conn.marks.append((conn.queued, counted))
        self._set_mask(conn, READ | WRITE)

    def _error(self, error: Rejection) -> Slot:
        self.bad_requests += 1
        self.status_counts[error.status] += 1
        return (True, encode_response(error.status, TEXT, error.reason.encode() + b"\n", keep_alive=False), 0,
                _END_CLOSE)

    def _answer(self, conn: Conn, request: ParsedRequest) -> Slot:
        action = route(request)
        if action.__class__ is Control:
            body = json.dumps(self.stats()).encode()
            if action.name == "stats_reset":
                self.reset_stats()  # the answer is the snapshot just before the reset
            end = 0 if request.keep_alive else _END_CLOSE
            return (True, encode_response(200, JSON, body, request.keep_alive, request.version), 0, end)
        self.requests += 1
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        if action.__class__ is Reply:
            status, content_type, body, delay_s, rate_kbps = action
            self.status_counts[status] += 1
            keep_alive = request.keep_alive
            data = (encode_small(status, content_type, body, keep_alive, request.version)
                    if len(body) <= SMALL_BODY else encode_response(status, content_type, body, keep_alive,
                                                                     request.version))
            if keep_alive:
                end = 0
            else:
                end = _END_CLOSE
                conn.reader.closed = True  # the client said this is its last request
            if not delay_s and not rate_kbps:
                return (True, data, 1, end)
            slot = [False, data, 1, end]  # a list: the timer flips slot[0] when it is due
            if rate_kbps:  # its link starts carrying it when its delay is over (at once without one)
                slot.append(Pace(len(data) - len(body), len(body), rate_kbps, self.now + delay_s))
            conn.waiting += 1
            self._add_timer(delay_s, conn, slot)
            return slot
        conn.reader.closed = True  # every fault ends the connection: read nothing more
        return _FAULTS[action.kind]  # type: ignore[union-attr]

    # Writing -----------------------------------------------------------------------------------------

    def _drain(self, conn: Conn) -> None:
        """Move the ready slots at the head of the queue into the output buffer, then flush."""
        queue, out, marks = conn.queue, conn.out, conn.marks
        while queue and queue[0][0]:
            if len(queue[0]) == 5:  # paced: only what its link has carried by now; it keeps the head till done
                slot = queue[0]
                start, stop = slot[4].take(self.now)
                out += slot[1][start:stop]
                conn.queued += stop - start
                if not slot[4].done:
                    slot[0] = False
                    conn.waiting += 1
                    self._add_timer(slot[4].next_at() - self.now, conn, slot)
                    break
                queue.popleft()
                counted, end = slot[2], slot[3]
            else:
                _, data, counted, end = queue.popleft()
                if data:
                    out += data
                    conn.queued += len(data)
            if counted:
                marks.append((conn.queued, counted))
            if end:
                conn.end = end
                queue.clear()
                break
        self._flush(conn)

    def _flush(self, conn: Conn) -> None:
        out = conn.out
        if out:
            try:
                sent = os.write(conn.fd, out) if conn.tls is None else conn.tls.send(out)
            except BlockingIOError:
                sent = 0
            except OSError:
                self._close(conn)
                return
            if sent:
                del out[:sent]
                conn.sent += sent
                conn.deadline = self.now + self.idle_timeout
        marks = conn.marks
        while marks and marks[0][0] <= conn.sent:
            self.in_flight -= marks.popleft()[1]
        if not out:
            conn.queued = conn.sent = 0  # offsets count from the start of ``out``; restart when it empties
        if out:
            self._set_mask(conn, WRITE if conn.eof else READ | WRITE)
        elif conn.end:
            self._finish(conn)
        elif conn.eof and not conn.waiting:
            self._close(conn)
        else:
            self._set_mask(conn, 0 if conn.eof else READ)

    def _set_mask(self, conn: Conn, mask: int) -> None:
        if mask != conn.mask:
            conn.mask = mask
            self.backend.modify(conn.fd, mask)

    def _finish(self, conn: Conn) -> None:
        """Everything is sent and the connection must end: close, reset, or linger then close."""
        if conn.end == _END_RESET:
            self._close(conn, reset=True)
        elif conn.reader.at_boundary or conn.eof or conn.lingering:
            self._close(conn)
        else:
            self._linger(conn)

    def _linger(self, conn: Conn) -> None:
        """Shut down our side, then drain what the client still sends, until its EOF or ``LINGER_S``."""
        conn.lingering = True
        conn.end = 0
        conn.deadline = self.now + min(LINGER_S, self.idle_timeout)
        try:
            self._shutdown_write(conn)
        except OSError:
            self._close(conn)
            return
        self._set_mask(conn, READ)

    def _close(self, conn: Conn, reset: bool = False) -> None:
        if conn.closed:
            return
        conn.closed = True
        del self.conns[conn.fd]
        self.backend.unregister(conn.fd)
        self.in_flight -= sum(m[1] for m in conn.marks) + sum(s[2] for s in conn.queue)
        conn.marks.clear()
        conn.queue.clear()
        self._release(conn, reset)

    def _release(self, conn: Conn, reset: bool) -> None:
        """Close the descriptor of a connection that is done with (an RST when ``reset``)."""
        if reset:
            sock = socket.socket(fileno=conn.fd)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, ZERO_LINGER)
            sock.close()  # zero linger: close() sends an RST
        else:
            os.close(conn.fd)

    def _shutdown_write(self, conn: Conn) -> None:
        """End our side of the stream (FIN) and keep reading: the start of a linger."""
        sock = socket.socket(fileno=conn.fd)
        try:
            sock.shutdown(socket.SHUT_WR)
        finally:
            sock.detach()


#: SO_LINGER on, timeout 0: close() then sends an RST instead of a FIN.
ZERO_LINGER = struct.pack("ii", 1, 0)


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET

