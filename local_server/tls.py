"""HTTPS for the bundled server (``--tls``): the context, each connection's TLS layer, and ``TlsServer``,
the event loop of ``local_server.server`` with non-blocking handshakes inside it.

Rules this module keeps:
- no thread and no blocking call: every socket stays non-blocking; ``do_handshake`` is retried when the
  backend reports the readiness OpenSSL asked for (``SSLWantReadError`` -> READ, ``SSLWantWriteError`` ->
  WRITE); a read that needs a write (or a write that needs a read) adds that interest until it succeeds;
- one protocol version (``minimum_version == maximum_version``: TLS 1.3 unless told 1.2), so a benchmark
  measures the version it names; ALPN selects ``http/1.1``; renegotiation is refused
  (``OP_NO_RENEGOTIATION``); tickets are issued unless ``tickets=False`` (``num_tickets = 0`` for TLS 1.3,
  ``OP_NO_TICKET`` for 1.2), and without them no handshake resumes: Python's server contexts keep no
  session cache, so TLS 1.2 cannot resume by session ID either (tests/test_server_tls.py checks both);
- reads: OpenSSL (read-ahead off, Python's default) takes one record at a time from the socket, so bytes
  it has not decrypted stay in the kernel, where the backend sees them; decrypted bytes it still holds
  (``pending()``) are read at once, since no readiness event will announce them;
- writes: ``SSL_write`` without partial writes takes all of a buffer or raises ``SSLWantWriteError``, and
  must then be retried with the same bytes; so an output buffer is written in chunks of at most
  ``WRITE_CHUNK``, and a chunk that would block is retried, alone and whole, before anything after it;
- every way a handshake can end without completing (bad bytes, a plain HTTP request, an old protocol
  version, a reset, an EOF, the handshake timeout) closes that connection and counts it by kind in
  ``/stats`` (``local_server.api.Stats``), never a traceback; a plain HTTP request gets nginx's answer, a
  400 in plain text, before the close;
- every close of an established connection by us sends a close_notify first (non-blocking, best effort),
  so a client reads the end of the stream as a clean close, as a plain client reads a FIN; a reset sends
  none; a linger drains the client's bytes undecrypted;
- the certificate is the caller's (``--cert``/``--key``) or comes from a test CA made at start with
  trustme; its key and the CA's exist only in memory and in temporary files removed at once
  (``trustme.LeafCert.configure_cert``); only the CA's certificate is written, where ``--ca-file`` says.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import os
import socket
import ssl
import time
from typing import TYPE_CHECKING

from local_server.backends import ERROR, READ, WRITE
from local_server.protocol import encode_response
from local_server.routes import TEXT
from local_server.server import IDLE_TIMEOUT_S, RECV_SIZE, ZERO_LINGER, Conn, Server

if TYPE_CHECKING:
    from local_server.api import Stats, TlsHandshakes, TlsSettings

#: How long a connection may take to complete its handshake. A handshake is two round trips and well under
#: a millisecond of our CPU; 10 s covers a connect storm of 10,000 full handshakes queued behind each other
#: on one core (~0.3 ms each here) and keeps a client that never finishes one (a stalled or hostile client,
#: a port scanner) from holding a descriptor for the whole idle timeout. Never longer than the idle timeout.
HANDSHAKE_TIMEOUT_S = 10.0
#: Largest buffer one SSL_write is given. It bounds what a write that would block leaves pending inside
#: OpenSSL (retried whole), so that progress is seen, and the idle deadline moved, every 64 KiB.
WRITE_CHUNK = 64 * 1024
#: The protocols the server selects by ALPN: the bundled server speaks HTTP/1.1 only.
ALPN = ["http/1.1"]
VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
#: The identities the test certificate covers: every loopback name a client may use.
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")

#: nginx's answer to a plain request on an HTTPS port, in plain text.
PLAIN_HTTP_ANSWER = encode_response(400, TEXT, b"The plain HTTP request was sent to HTTPS port\n", keep_alive=False)

#: OpenSSL's reasons for a failed handshake, grouped into the kinds /stats counts (others: the reason).
_FAILURE_KINDS = {
    "HTTP_REQUEST": "plain_http",  # OpenSSL recognises GET, POST, HEAD and PUT
    "HTTPS_PROXY_REQUEST": "plain_http",  # CONNECT
    "WRONG_VERSION_NUMBER": "not_tls",  # the first bytes are no TLS record header: random bytes, text
    "UNSUPPORTED_PROTOCOL": "version",
    "VERSION_TOO_LOW": "version",
    "UNSUPPORTED_SSL_VERSION": "version",
    "TLSV1_ALERT_PROTOCOL_VERSION": "version",
    "UNEXPECTED_MESSAGE": "bad_hello",
    "LENGTH_MISMATCH": "bad_hello",
    "BAD_PACKET_LENGTH": "bad_hello",
    "RECORD_LENGTH_MISMATCH": "bad_hello",
    "PACKET_LENGTH_TOO_LONG": "bad_hello",
    "ENCRYPTED_LENGTH_TOO_LONG": "bad_hello",
    "EXCESSIVE_MESSAGE_SIZE": "bad_hello",
    "BAD_EXTENSION": "bad_hello",
    "BAD_LENGTH": "bad_hello",
    "LENGTH_TOO_SHORT": "bad_hello",
    "PARSE_TLSEXT": "bad_hello",
    "UNEXPECTED_RECORD": "bad_hello",
    "UNEXPECTED_EOF_WHILE_READING": "eof",
}


class TlsSetupError(RuntimeError):
    """The server cannot serve TLS as asked (one line: what is wrong, what to do)."""


def failure_kind(exc: OSError) -> str:
    """The /stats kind of a failed handshake."""
    if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return "eof"
    if isinstance(exc, ConnectionResetError | BrokenPipeError) or exc.errno in (errno.ECONNRESET, errno.EPIPE,
                                                                                 errno.ENOTCONN):
        return "reset"
    reason = getattr(exc, "reason", None)
    if isinstance(exc, ssl.SSLError) and isinstance(reason, str):
        return _FAILURE_KINDS.get(reason, reason.lower().replace(" ", "_"))
    return errno.errorcode.get(exc.errno or 0, exc.__class__.__name__).lower()


def server_context(version: str = "1.3", tickets: bool = True) -> ssl.SSLContext:
    """A server context speaking exactly ``version`` ("1.2" or "1.3"), without its certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = context.maximum_version = VERSIONS[version]
    context.set_alpn_protocols(ALPN)
    context.options |= ssl.OP_NO_RENEGOTIATION
    if not tickets:
        context.options |= ssl.OP_NO_TICKET  # TLS 1.2's tickets
        context.num_tickets = 0  # TLS 1.3's
    return context


def load_certificate(context: ssl.SSLContext, cert_file: str, key_file: str) -> None:
    """Serve the caller's certificate (PEM files); TlsSetupError when they cannot be loaded."""
    try:
        context.load_cert_chain(cert_file, key_file)
    except (OSError, ValueError) as exc:
        raise TlsSetupError(f"cannot load --cert {cert_file} --key {key_file}: {exc}") from None


def make_test_certificate(context: ssl.SSLContext, identities: tuple[str, ...] = LOOPBACK_NAMES) -> bytes:
    """Serve a certificate for ``identities`` from a new test CA; return the CA's certificate (PEM)."""
    try:
        import trustme
    except ImportError:
        raise TlsSetupError("--tls makes its certificate with trustme, which is not installed: "
                            "pip install 'concbench[tls]' (or serve your own: --cert FILE --key FILE)") from None
    authority = trustme.CA(organization_name="concbench test CA")
    authority.issue_cert(*identities).configure_cert(context)
    return authority.cert_pem.bytes()


def write_ca_file(path: str, pem: bytes) -> None:
    """Write the CA's certificate whole or not at all: a reader never sees half of it."""
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        with open(temporary, "wb") as file:
            file.write(pem)
        os.replace(temporary, path)
    except OSError as exc:
        raise TlsSetupError(f"cannot write --ca-file {path}: {exc.strerror}") from None


class TlsConnection:
    """The TLS layer of one connection: its SSLSocket, where the handshake is, the write to retry."""

    __slots__ = ("cpu_s", "established", "interest", "retry", "sock")

    def __init__(self, sock: ssl.SSLSocket) -> None:
        self.sock = sock
        self.established = False  # the handshake completed
        self.cpu_s = 0.0  # thread CPU spent in do_handshake so far
        self.interest = 0  # readiness OpenSSL needs besides the loop's own (a read waiting to write...)
        self.retry = 0  # size of the chunk at the start of the output that SSL_write must be given again

    def send(self, data: bytes | bytearray) -> int:
        """Write from the start of ``data`` in whole chunks; return the bytes taken (0: would block)."""
        sent, total = 0, len(data)
        write = self.sock.send
        while sent < total:
            size = self.retry or min(total - sent, WRITE_CHUNK)
            try:
                write(data if size == total else data[sent:sent + size])
            except ssl.SSLWantWriteError:
                self.retry = size
                return sent
            except ssl.SSLWantReadError:  # not in TLS 1.3, nor in 1.2 without renegotiation; kept correct
                self.retry = size
                self.interest = READ
                return sent
            self.retry = self.interest = 0
            sent += size
        return sent

    def close_notify(self) -> None:
        """Send a close_notify alert if the socket takes it now; never wait for the client's."""
        with contextlib.suppress(ssl.SSLError, OSError, ValueError):
            self.sock.unwrap()  # SSL_shutdown: sends ours, then raises SSLWantReadError for the client's


class TlsServer(Server):
    """The event loop of ``local_server.server`` serving HTTPS: every route, pacing and fault as over plain
    HTTP, through each connection's ``TlsConnection``."""

    scheme = "https"

    def __init__(self, context: ssl.SSLContext, host: str = "127.0.0.1", port: int = 0, backend: str = "select",
                 idle_timeout: float = IDLE_TIMEOUT_S, handshake_timeout: float = HANDSHAKE_TIMEOUT_S,
                 tickets: bool = True) -> None:
        self.context = context
        self.handshake_timeout = min(handshake_timeout, idle_timeout)
        self.settings: TlsSettings = {"version": context.maximum_version.name.replace("_", "."), "tickets": tickets,
                                      "alpn": list(ALPN), "handshake_timeout_s": self.handshake_timeout}
        super().__init__(host, port, backend, idle_timeout)

    def _shortest_timeout(self) -> float:
        return self.handshake_timeout

    # Stats -------------------------------------------------------------------------------------------

    def reset_stats(self) -> None:
        super().reset_stats()
        self.handshakes: TlsHandshakes = {"full": 0, "resumed": 0, "full_cpu_s": 0.0, "resumed_cpu_s": 0.0,
                                          "failed_cpu_s": 0.0}
        self.failures: collections.Counter[str] = collections.Counter()
        self.ciphers: collections.Counter[str] = collections.Counter()

    def stats(self) -> Stats:
        stats = super().stats()
        handshakes = self.handshakes
        stats["tls"] = self.settings
        stats["tls_handshakes"] = {
            "full": handshakes["full"], "resumed": handshakes["resumed"],
            "full_cpu_s": round(handshakes["full_cpu_s"], 6),
            "resumed_cpu_s": round(handshakes["resumed_cpu_s"], 6),
            "failed_cpu_s": round(handshakes["failed_cpu_s"], 6),
        }
        stats["tls_handshake_failures"] = dict(sorted(self.failures.items()))
        stats["tls_ciphers"] = dict(sorted(self.ciphers.items()))
        return stats

    # Accepting and handshakes ------------------------------------------------------------------------

    def _open(self, fd: int) -> None:
        sock = socket.socket(self.listener.family, socket.SOCK_STREAM, 0, fileno=fd)
        sock.setblocking(False)
        try:
            tls = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        except OSError as exc:  # reset before we got to it: the SSLSocket wants a connected socket
            self.failures[failure_kind(exc)] += 1
            sock.close()
            return
        conn = Conn(fd, self.now + self.handshake_timeout)
        conn.tls = TlsConnection(tls)
        self.conns[fd] = conn
        self.backend.register(fd, READ)

    def _reject(self, fd: int, max_fd: int) -> None:
        """A connection the backend cannot watch: closed at once (a plain 503 would be garbage to a TLS
        client, and a handshake cannot be had without watching it)."""
        self._log_limited("fd_setsize", f"select backend: connection fd {fd} >= FD_SETSIZE {max_fd}; "
                                        f"closing it ({len(self.conns)} open)")
        self.failures["fd_setsize"] += 1
        os.close(fd)

    def _handshake(self, conn: Conn, tls: TlsConnection) -> None:
        started = time.thread_time()
        try:
            tls.sock.do_handshake()
        except ssl.SSLWantReadError:
            tls.cpu_s += time.thread_time() - started
            self._set_mask(conn, READ)
            return
        except ssl.SSLWantWriteError:
            tls.cpu_s += time.thread_time() - started
            self._set_mask(conn, WRITE)
            return
        except OSError as exc:
            tls.cpu_s += time.thread_time() - started
            self._handshake_failed(conn, tls, failure_kind(exc))
            return
        tls.cpu_s += time.thread_time() - started
        tls.established = True
        cipher = tls.sock.cipher()
        self.ciphers[cipher[0] if cipher else "unknown"] += 1
        if tls.sock.session_reused:
            self.handshakes["resumed"] += 1
            self.handshakes["resumed_cpu_s"] += tls.cpu_s
        else:
            self.handshakes["full"] += 1
            self.handshakes["full_cpu_s"] += tls.cpu_s
        conn.deadline = self.now + self.idle_timeout
        self._set_mask(conn, READ)
        if tls.sock.pending():
            self._read(conn, tls)

    def _handshake_failed(self, conn: Conn, tls: TlsConnection, kind: str) -> None:
        self.failures[kind] += 1
        self.handshakes["failed_cpu_s"] += tls.cpu_s
        if kind != "plain_http":
            self._close(conn)
            return
        # nginx's answer, in plain text on the raw socket; the request's unread bytes are drained by the
        # linger, so the client reads the 400 instead of an RST.
        self.bad_requests += 1
        self.status_counts[400] += 1
        conn.reader.closed = True
        try:
            os.write(conn.fd, PLAIN_HTTP_ANSWER)  # a fresh socket's send buffer takes these few bytes
        except OSError:
            self._close(conn)
            return
        self._linger(conn)

    def _expire(self, conn: Conn) -> None:
        tls = conn.tls
        if isinstance(tls, TlsConnection) and not tls.established and not conn.lingering:
            self.failures["timeout"] += 1
            self.handshakes["failed_cpu_s"] += tls.cpu_s
        self._close(conn)

    # Events ------------------------------------------------------------------------------------------

    def _on_tls_event(self, conn: Conn, mask: int) -> None:
        tls = conn.tls
        assert isinstance(tls, TlsConnection)
        if conn.lingering:  # draining before the close: the bytes are discarded, so not decrypted
            if mask & (READ | ERROR):
                try:
                    data = os.read(conn.fd, RECV_SIZE)
                except BlockingIOError:
                    return
                except OSError:
                    self._close(conn)
                    return
                if not data:
                    self._on_eof(conn)
            return
        if not tls.established:
            self._handshake(conn, tls)
            return
        if mask & (READ | ERROR) or tls.interest & WRITE:
            self._read(conn, tls)
        if not conn.closed and (mask & WRITE or tls.interest & READ):
            self._flush(conn)

    def _read(self, conn: Conn, tls: TlsConnection) -> None:
        try:
            data = tls.sock.recv(RECV_SIZE)
        except ssl.SSLWantReadError:
            return
        except ssl.SSLWantWriteError:  # e.g. answering a KeyUpdate into a full send buffer
            tls.interest = WRITE
            self._set_mask(conn, conn.mask | WRITE)
            return
        except OSError:
            self._close(conn)
            return
        while data and tls.sock.pending():  # decrypted, held by OpenSSL: no readiness will announce it
            data += tls.sock.recv(RECV_SIZE)  # from OpenSSL's buffer: neither blocks nor fails
        if tls.interest & WRITE:
            tls.interest = 0
        if not data:
            self._on_eof(conn)
            return
        requests = conn.reader.receive_data(data)
        if requests:
            self._on_events(conn, requests)

    def _set_mask(self, conn: Conn, mask: int) -> None:
        tls = conn.tls
        if isinstance(tls, TlsConnection) and tls.established:
            mask |= tls.interest
        super()._set_mask(conn, mask)

    # Closing -----------------------------------------------------------------------------------------

    def _shutdown_write(self, conn: Conn) -> None:
        tls = conn.tls
        if isinstance(tls, TlsConnection) and tls.established:
            tls.close_notify()
        super()._shutdown_write(conn)

    def _release(self, conn: Conn, reset: bool) -> None:
        tls = conn.tls
        assert isinstance(tls, TlsConnection)
        if reset:
            tls.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, ZERO_LINGER)
        elif tls.established and not conn.eof and not conn.lingering:
            tls.close_notify()
        tls.sock.close()


def describe(server: TlsServer) -> str:
    """One log line: what the server serves."""
    settings = server.settings
    tickets = "tickets on" if settings["tickets"] else "no tickets"
    return (f"TLS: {settings['version']} only, ALPN {','.join(settings['alpn'])}, {tickets}, handshake timeout "
            f"{settings['handshake_timeout_s']}s")
