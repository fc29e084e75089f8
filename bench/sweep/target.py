"""The sweep's server, whichever it is: bundled (started here), external (``--server-url``, already running,
perhaps on another machine) or behind a shaped link (``--link``, started here in a namespace, ``bench.sweep.netns``).

Rules this module keeps:
- the sweep sees one URL whatever the kind, and treats all three alike: before any row, ``check_server``
  makes sure the URL is our server (its ``GET /stats`` answers 200 with every key ``local_server.api.Stats``
  requires: ``STATS_KEYS``) and times the round trip to it, through the suite's one HTTP codec (``strategies.http1``) on plain sockets;
- every network wait is bounded (``TIMEOUT_S``), and every way a URL can be wrong (not an http:// URL, not
  reachable, not our server) is one line (``TargetError``), never a traceback;
- the server's CPU time is the server's own (``/stats``'s ``cpu_s``), so it is known for every kind; what is
  not known for an external server (its pinning, the noise on its machine) is said in ``ServerRecord.note``;
- ``open_target`` stops whatever it started, also when its own setup fails or is interrupted;
- a server we started writes its stderr to a file of ours, so that when it dies its last lines say why
  (``Target.gone``); only the bundled server is ours to restart (``Target.restart``): an external one is
  someone else's, and a ``--link`` namespace's is one with its link;
- ``open_target(tls=True)`` starts the bundled server's HTTPS twin (``local_server --tls``, pinned like
  it): its test CA lives in a temporary file of the server's own (``Target.ca_file``, a new one after a
  restart), the check verifies against it (host name included), and its connect figure includes the TLS
  handshake; its record says the version and tickets the server serves with and the cipher the check got.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import ssl
import statistics
import tempfile
import time
from collections.abc import Sequence
from typing import IO, Any, cast
from urllib.parse import urlsplit

import psutil

from bench.record.schema import Link, Rtt, RttFigures, ServerKind, ServerRecord, TlsRecord
from bench.sweep import netns
from local_server.api import STATS_KEYS, ServerError, ServerProcess, Stats, fetch_stats
from strategies.http1 import ProtocolError, ResponseParser, build_request

#: Connect and answer deadline of the checks: a server on a LAN or across a continent answers within
#: ~0.3 s; 3 s leaves room for one lost SYN (Linux retransmits it after 1 s) and keeps a wrong URL's
#: failure quick.
TIMEOUT_S = 3.0
#: Round trips timed per figure: 20 give a stable median and a p90 (the 2nd largest) in well under a second
#: on any link the sweep can use.
RTT_SAMPLES = 20
#: What starts a server another machine can reach (the sweep's own backend: select stops at FD_SETSIZE).
SERVE_HINT = "python -m local_server --host 0.0.0.0 --port P --backend epoll"
RECV_BYTES = 65536
#: Lines of a dead server's stderr quoted in why it went: a traceback's last frames and its error.
STDERR_TAIL_LINES = 5
#: Bytes read from the end of its stderr to find them (a traceback's lines are short).
STDERR_TAIL_BYTES = 4000


class TargetError(RuntimeError):
    """The server URL is unusable (one line: the URL, what is wrong, what to do)."""


def parse_server_url(text: str) -> str:
    """``--server-url``: an ``http://HOST[:PORT][/]`` URL -> its normalized form ``http://HOST:PORT/``."""
    parts = urlsplit(text.strip())
    where = f"--server-url {text!r}"
    if parts.scheme == "https":
        raise TargetError(f"{where}: the bundled server speaks plain http://, not https://")
    if parts.scheme != "http" or not parts.hostname:
        raise TargetError(f"{where}: expected http://HOST:PORT/, the URL `{SERVE_HINT}` serves")
    try:
        port = parts.port or 80
    except ValueError as exc:
        raise TargetError(f"{where}: {exc}") from None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise TargetError(f"{where}: give the server's root, http://HOST:PORT/ (no path, query or user)")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"http://{host}:{port}/"


def _address(url: str) -> tuple[Any, ...]:
    """The socket address of ``url``'s host and port, resolved once (TargetError if it does not resolve)."""
    parts = urlsplit(url)
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 80, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise TargetError(f"{url}: cannot resolve {parts.hostname}: {exc.strerror}") from None
    return infos[0][0], infos[0][4]


def _connect(url: str, address: tuple[Any, ...], context: ssl.SSLContext | None = None) -> socket.socket:
    """A connected socket to ``url``'s server; over https (``context``) with the handshake done, verified."""
    family, sockaddr = address
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(TIMEOUT_S)
    try:
        sock.connect(sockaddr)
        if context is not None:
            sock = context.wrap_socket(sock, server_hostname=urlsplit(url).hostname)
    except TimeoutError:
        sock.close()
        raise TargetError(f"{url}: no answer to connect within {TIMEOUT_S:g} s (host down, or the port "
                          f"filtered?)") from None
    except ssl.SSLError as exc:  # before OSError, its base: the TLS server is not the one we trust
        sock.close()
        raise TargetError(f"{url}: the TLS handshake failed: {exc}") from None
    except OSError as exc:
        sock.close()
        hint = f": is `{SERVE_HINT}` running there?" if isinstance(exc, ConnectionRefusedError) else ""
        raise TargetError(f"{url}: cannot connect: {exc.strerror or exc}{hint}") from None
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _get(url: str, sock: socket.socket, request: bytes) -> tuple[int, bytes, bool]:
    """One request on a kept-alive connection, answered through ``http1.ResponseParser``: (status, body,
    whether the connection stays open)."""
    parser = ResponseParser()
    try:
        sock.sendall(request)
        while True:
            data = sock.recv(RECV_BYTES)
            if parser.feed(data) if data else parser.feed_eof():
                break
    except TimeoutError:
        raise TargetError(f"{url}: connected, but GET /stats had no answer within {TIMEOUT_S:g} s: not "
                          f"our server?") from None
    except ProtocolError as exc:
        raise TargetError(f"{url}: GET /stats was not answered in HTTP ({exc}): not our server") from None
    except OSError as exc:
        raise TargetError(f"{url}: GET /stats failed: {exc.strerror or exc}") from None
    assert parser.response is not None
    return parser.response.status, parser.response.body, parser.keep_alive


def _stats_of(url: str, status: int, body: bytes) -> Stats:
    if status != 200:
        raise TargetError(f"{url}: GET /stats answered {status}: not our server (`{SERVE_HINT}`)")
    try:
        stats = json.loads(body)
    except ValueError:
        stats = None
    if not isinstance(stats, dict):
        raise TargetError(f"{url}: GET /stats answered 200 but not a JSON object: not our server")
    missing = [name for name in STATS_KEYS if name not in stats]
    if missing:
        raise TargetError(f"{url}: GET /stats lacks {', '.join(missing)}: not our server, or an older one")
    return cast(Stats, stats)


def check_server(url: str, samples: int = RTT_SAMPLES, ca_file: str | None = None) -> tuple[Stats, Rtt]:
    """Our server's ``/stats`` at ``url`` and the round-trip time to it, or TargetError (one line).

    Two figures, ``samples`` each. ``connect_ms``: a TCP connect, the network's round trip alone (the
    handshake is the kernel's on both ends; what a ``close`` request pays on top of its exchange).
    ``request_ms``: a ``GET /stats`` on one kept-alive connection after one untimed request, what every
    keep-alive request pays whatever the client: the network both ways, the server's loop and our codec.
    ``/stats`` is not counted by the server, so the check leaves its counters as they were. Over https
    (verified against ``ca_file``) a connect includes the TLS handshake.
    """
    stats, rtt, _ = _check(url, samples, ca_file)
    return stats, rtt


def _check(url: str, samples: int, ca_file: str | None) -> tuple[Stats, Rtt, str | None]:
    """``check_server``'s figures, and over https the cipher suite its connection negotiated."""
    address = _address(url)
    parts = urlsplit(url)
    context = ssl.create_default_context(cafile=ca_file) if parts.scheme == "https" else None
    request = build_request("GET", parts.netloc, "/stats", keepalive=True)
    connects = []
    for _ in range(samples):
        started = time.perf_counter()
        sock = _connect(url, address, context)
        connects.append(time.perf_counter() - started)
        sock.close()
    requests = []
    cipher = None
    with contextlib.closing(_connect(url, address, context)) as sock:
        if isinstance(sock, ssl.SSLSocket):
            cipher = (sock.cipher() or (None,))[0]
        status, body, keep_alive = _get(url, sock, request)
        stats = _stats_of(url, status, body)
        if not keep_alive:
            raise TargetError(f"{url}: GET /stats closed the connection: not our server (it keeps it open)")
        for _ in range(samples):
            started = time.perf_counter()
            _get(url, sock, request)
            requests.append(time.perf_counter() - started)
    return stats, {"samples": samples, "connect_ms": _figures(connects), "request_ms": _figures(requests)}, cipher


def _figures(seconds: list[float]) -> RttFigures:
    ordered = [s * 1e3 for s in sorted(seconds)]
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return {"median": round(statistics.median(ordered), 4), "p90": round(p90, 4), "min": round(ordered[0], 4)}


class Target:
    """The server the sweep runs against: ``url``, its record for the results (``record``), whether it is
    ``gone``, a ``restart`` of a bundled one, ``stop()``. ``process`` and ``stderr``: a server we started."""

    def __init__(self, url: str, record: ServerRecord, stop: contextlib.ExitStack,
                 process: ServerProcess | None = None, stderr: IO[bytes] | None = None,
                 backend: str = "epoll", cpus: Sequence[int] | None = None, tls: bool = False) -> None:
        self.url, self.record, self._stack = url, record, stop
        self.process, self.stderr, self._backend, self._cpus, self.tls = process, stderr, backend, cpus, tls

    @property
    def ca_file(self) -> str | None:
        """The CA file an HTTPS server's certificate verifies against (its own, new at each start); None over
        plain HTTP."""
        return self.process.ca_file if self.tls and self.process is not None else None

    @property
    def kind(self) -> ServerKind:
        return self.record.get("kind", "bundled")

    @property
    def pid(self) -> int:
        return self.process.pid if self.process is not None else self.record["pid"]

    @property
    def restartable(self) -> bool:
        return self.kind == "bundled"

    def gone(self, error: str | None = None) -> str | None:
        """Why the server no longer serves, in one sentence, or None while it answers ``GET /stats``.
        ``error``: what the caller saw fail (the check is not repeated then). For a server we started: its
        exit status or signal, or, alive, its process state; and its last stderr lines."""
        exited = self.process.popen.poll() if self.process is not None and self.process.popen else None
        if error is None and exited is None:
            try:
                fetch_stats(self.url, TIMEOUT_S, self.ca_file)
                return None
            except (OSError, http.client.HTTPException, ServerError, ValueError) as exc:
                error = f"GET /stats at {self.url}: {type(exc).__name__}: {exc}"
        if self.process is None:
            return f"the external server at {self.url} stopped answering ({error})"
        what = f"the {self.kind} server (pid {self.pid})"
        if exited is not None:
            why = f"{what} {_exit_text(exited)}"
        else:
            why = f"{what} stopped answering ({error}); its process is {_state(self.pid)}"
        return f"{why}; its last stderr lines: {_tail_lines(self.stderr)}"

    def restart(self) -> None:
        """Stop the bundled server (killed first: it may be stopped or hung) and start a fresh one, checked
        like the first; ``url`` and ``pid`` are then the new server's, ``record`` stays the first's."""
        assert self.restartable
        assert self.process is not None
        if self.process.popen is not None and self.process.popen.poll() is None:
            self.process.popen.kill()  # a stopped process does not act on SIGTERM until continued
        self._stack.close()
        with contextlib.ExitStack() as stack:
            self.process, self.stderr = _bundled(stack, self._backend, self._cpus, self.tls)
            check_server(self.process.url, samples=1, ca_file=self.ca_file)
            self.url = self.process.url
            self._stack = stack.pop_all()

    def stop(self) -> None:
        self._stack.close()


def _bundled(stack: contextlib.ExitStack, backend: str, cpus: Sequence[int] | None,
             tls: bool = False) -> tuple[ServerProcess, IO[bytes]]:
    """The bundled server (its HTTPS twin with ``tls``), started on ``stack``, its stderr into a temporary file
    closed with it."""
    stderr = stack.enter_context(tempfile.TemporaryFile())  # noqa: SIM115 - the stack closes it
    return stack.enter_context(ServerProcess(backend, cpus=cpus, stderr=stderr, tls=tls)), stderr


def _exit_text(code: int) -> str:
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


def _state(pid: int) -> str:
    try:
        return str(psutil.Process(pid).status())
    except psutil.Error:
        return "gone"


def _tail_lines(stderr: IO[bytes] | None) -> str:
    """The last ``STDERR_TAIL_LINES`` lines of a server's stderr, joined by `` | `` (one line of text)."""
    if stderr is None or stderr.closed:
        return "(not kept)"
    stderr.flush()
    size = stderr.seek(0, os.SEEK_END)
    stderr.seek(max(0, size - STDERR_TAIL_BYTES))
    lines = [line for line in stderr.read().decode("utf-8", "replace").splitlines() if line.strip()]
    return " | ".join(lines[-STDERR_TAIL_LINES:]) or "(none)"


def open_target(backend: str, server_url: str | None = None, link_bit_s: int | None = None,
                cpus: Sequence[int] | None = None, tls: bool = False) -> Target:
    """Start (bundled, ``--link``) or reach (``--server-url``) the sweep's server, check it, time it; with
    ``tls``, the bundled HTTPS server."""
    assert not tls or (server_url is None and link_bit_s is None), "the HTTPS server is the bundled one"
    with contextlib.ExitStack() as stack:
        link: Link | None = None
        kind: ServerKind
        process: ServerProcess | None = None
        stderr: IO[bytes] | None = None
        if server_url is not None:
            url, kind = server_url, "external"
            note = ("an external server: not started, pinned or watched for noise by the sweep; its CPU time "
                    "is its own /stats cpu_s")
        elif link_bit_s is not None:
            stderr = stack.enter_context(tempfile.TemporaryFile())
            running = stack.enter_context(netns.linked_server(link_bit_s, backend, cpus, stderr))
            url, kind, link, process = running.url, "link", running.link, running.server
            note = (f"the bundled server in network namespace {link['namespace']}, behind a veth pair shaped "
                    f"by tbf on both ends; started and pinned like the bundled server")
        else:
            process, stderr = _bundled(stack, backend, cpus, tls)
            url, kind = process.url, "bundled"
            note = (f"the bundled server{' over TLS (python -m local_server --tls, its own test CA)' if tls else ''}"
                    ", started by the sweep on this machine")
        stats, rtt, cipher = _check(url, RTT_SAMPLES, process.ca_file if tls and process else None)
        record: ServerRecord = {"backend": stats["backend"], "pid": stats["pid"], "url": url, "kind": kind,
                                "rtt": rtt, "link": link, "note": note}
        served = stats.get("tls")
        if served is not None:
            tls_record: TlsRecord = {"version": served["version"], "tickets": served["tickets"], "cipher": cipher}
            record["tls"] = tls_record
        return Target(url, record, stack.pop_all(), process, stderr, backend, cpus, tls)
    raise AssertionError("unreachable")  # mypy: ExitStack may swallow exceptions
