"""``python -m local_server``: start the bundled server and serve until SIGINT/SIGTERM.

Rules this module keeps:
- the first line on stdout is the base URL, flushed once the socket is listening (so a parent can read it
  and connect at once); every later line goes to stderr (bound to every interface, one of them says how
  another machine's sweep reaches it: ``--server-url``);
- the soft RLIMIT_NOFILE is raised to the hard limit before listening (``local_server.fdlimit``);
- a bad flag is one line on stderr and exit status 2; SIGINT/SIGTERM close the listener and every
  connection and exit 0.
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
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Every client's connections end here: in a sweep, all the keep-alive pools of a cell's workers at once,
    # so the server's need is not one level's C. It takes all the hard limit allows (the select backend
    # still answers 503 past FD_SETSIZE itself); the sweep skips, with the numbers, what even that cannot hold.
    open_files = raise_soft_limit()
    try:
        server = Server(args.host, args.port, args.backend, args.idle_timeout)
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
        if args.host in ("0.0.0.0", "::", ""):  # every interface: the user means to be reached from elsewhere
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
