"""``python -m local_server``: start the bundled server and serve until SIGINT/SIGTERM.

Rules this module keeps:
- the first line on stdout is the base URL, flushed once the socket is listening (so a parent can read it
  and connect at once); every later line goes to stderr (bound to every interface, one of them says how
  another machine's sweep reaches it: ``--server-url``);
- the soft RLIMIT_NOFILE is raised to the hard limit before listening (``local_server.fdlimit``);
- ``--tls`` serves https (``local_server.tls``): the URL printed is ``https://``, and the ``--ca-file`` is
  complete before it is printed; the TLS flags without ``--tls`` are refused, as is ``--ca-file`` with the
  user's own ``--cert``/``--key`` (the test CA is then not made);
- a bad flag is one line on stderr and exit status 2; a server that cannot start (a port in use, a
  certificate that does not load, trustme missing) is one line and exit status 1; SIGINT/SIGTERM close the
  listener and every connection and exit 0.
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
from typing import NoReturn

from local_server.backends import BACKENDS
from local_server.fdlimit import raise_soft_limit
from local_server.server import IDLE_TIMEOUT_S, Server, log
from local_server.tls import (
    HANDSHAKE_TIMEOUT_S,
    LOOPBACK_NAMES,
    VERSIONS,
    TlsServer,
    TlsSetupError,
    describe,
    load_certificate,
    make_test_certificate,
    server_context,
    write_ca_file,
)

#: Hosts that mean every interface: the test certificate then names this machine too.
ANY_HOST = ("0.0.0.0", "::", "")


class _Stop(Exception):
    """Raised by the signal handler to leave the loop from wherever it is."""


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be in [0, 65535], got {port}")
    return port


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = _OneLineParser(prog="python -m local_server", description="concbench's bundled HTTP server")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    parser.add_argument("--port", type=_port, default=0, help="port to bind; 0 picks a free one (default)")
    # select is the default because the suite is named after it; epoll is what the harness uses.
    parser.add_argument("--backend", choices=sorted(BACKENDS), default="select")
    parser.add_argument("--idle-timeout", type=_positive, default=IDLE_TIMEOUT_S, metavar="SECONDS",
                        help=f"close a connection idle (or too slow) this long (default: {IDLE_TIMEOUT_S})")
    tls = parser.add_argument_group("TLS", "https:// with a certificate from a test CA made at start")
    tls.add_argument("--tls", action="store_true", help="serve HTTPS")
    tls.add_argument("--tls-version", choices=sorted(VERSIONS), help="the one version spoken (default: 1.3)")
    tls.add_argument("--no-tickets", action="store_true",
                     help="issue no session tickets, so every handshake is a full one")
    tls.add_argument("--ca-file", metavar="PATH", help="write the test CA's certificate (PEM) here, for clients")
    tls.add_argument("--cert", metavar="FILE", help="serve this certificate (PEM; with --key) instead")
    tls.add_argument("--key", metavar="FILE", help="the private key of --cert (PEM)")
    tls.add_argument("--handshake-timeout", type=_positive, metavar="SECONDS",
                     help=f"close a connection whose handshake is not done by then (default: "
                          f"{HANDSHAKE_TIMEOUT_S}, at most the idle timeout)")
    args = parser.parse_args(argv)
    given = [flag for flag, value in (("--tls-version", args.tls_version), ("--no-tickets", args.no_tickets),
                                      ("--ca-file", args.ca_file), ("--cert", args.cert), ("--key", args.key),
                                      ("--handshake-timeout", args.handshake_timeout)) if value]
    if given and not args.tls:
        parser.error(f"{' '.join(given)} needs --tls")
    if (args.cert is None) != (args.key is None):
        parser.error("--cert and --key go together")
    if args.cert and args.ca_file:
        parser.error("--ca-file writes the test CA's certificate; with --cert your own CA verifies it")
    return args


def tls_server(args: argparse.Namespace) -> TlsServer:
    """The ``--tls`` server: its context, its certificate, the CA file written (TlsSetupError, OSError)."""
    context = server_context(args.tls_version or "1.3", tickets=not args.no_tickets)
    if args.cert:
        load_certificate(context, args.cert, args.key)
        ca_pem = None
    else:
        names: tuple[str, ...] = LOOPBACK_NAMES
        if args.host in ANY_HOST:
            names += (socket.gethostname(),)
        elif args.host not in names:
            names += (str(args.host),)
        ca_pem = make_test_certificate(context, names)
    server = TlsServer(context, args.host, args.port, args.backend, args.idle_timeout,
                       args.handshake_timeout or HANDSHAKE_TIMEOUT_S, tickets=not args.no_tickets)
    if args.ca_file and ca_pem is not None:
        try:
            write_ca_file(args.ca_file, ca_pem)
        except TlsSetupError:
            server.close()
            raise
    return server


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Every client's connections end here: in a sweep, all the keep-alive pools of a cell's workers at once,
    # so the server's need is not one level's C. It takes all the hard limit allows (the select backend
    # still answers 503 past FD_SETSIZE itself); the sweep skips, with the numbers, what even that cannot hold.
    open_files = raise_soft_limit()
    try:
        server = tls_server(args) if args.tls else Server(args.host, args.port, args.backend, args.idle_timeout)
    except TlsSetupError as exc:
        print(f"python -m local_server: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"python -m local_server: error: cannot listen on {args.host}:{args.port}: {exc.strerror}",
              file=sys.stderr)
        return 1

    def stop(signum: int, _frame: object) -> None:
        raise _Stop(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        print(server.url, flush=True)
        log(f"serving {server.url} with the {args.backend} backend, idle timeout {args.idle_timeout}s, "
            f"up to {open_files} open files")
        if isinstance(server, TlsServer):
            log(describe(server) + (f"; CA certificate in {args.ca_file}" if args.ca_file else ""))
        if args.host in ANY_HOST:  # every interface: the user means to be reached from elsewhere
            port = server.url.rstrip("/").rsplit(":", 1)[1]
            log(f"listening on every interface of {socket.gethostname()}: from another machine, "
                f"pytest bench/ --benchmark-only --server-url http://<this machine's address>:{port}/")
        server.serve_forever()
    except _Stop as why:
        log(f"{why}: shutting down")
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
