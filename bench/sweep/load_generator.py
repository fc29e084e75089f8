"""A raw-socket HTTP load generator for the server benchmark, used when wrk is not installed.

    python -m bench.sweep.load_generator http://127.0.0.1:8080/ --seconds 2 --connections 50 --mode keepalive

Rules this module keeps:
- it is not the thing measured: it runs in its own process(es), pinned away from the server by the caller,
  and does the least per request: a precomputed request, and responses read by the suite's one HTTP
  parser (``strategies.http1``, httptools underneath), one parser per response as that module requires.
  That parser costs the generator about 10 µs of CPU per response more than the Content-Length scan it
  replaced (which missed lost requests); where the generator, not the server, is saturated (a Python client
  on one core usually is), the capacity figures are its own limit: wrk, when installed, is used instead;
- closed loop like wrk: every connection has one request outstanding at a time; ``close`` mode opens a new
  connection per request, and so does ``keepalive`` mode when the server answers ``Connection: close``;
- every request sent is counted once, when its connection gives an answer or an end: a complete response
  is a request (a ``non_2xx`` one too, counted apart as wrk does), anything else is an error (a reset, a
  close before or during the response, bytes that are not HTTP). A kept-alive connection the server closed
  before answering is a lost request, an error, never a silent reconnect; requests still outstanding at
  the deadline are neither;
- bounded: it stops after ``--seconds`` and prints one JSON line ``LoadResult``.
"""

from __future__ import annotations

import argparse
import errno
import json
import selectors
import socket
import time
from typing import TypedDict
from urllib.parse import urlsplit

from strategies.http1 import ProtocolError, ResponseParser, build_request

#: recv size: a response of the server benchmark (the root body) arrives in one call.
RECV_BYTES = 262144


class LoadResult(TypedDict):
    requests: int  # complete responses, whatever their status
    non_2xx: int  # of those, the ones whose status is not 2xx
    errors: int  # requests that got no complete response (see the module's rules)
    seconds: float  # wall time from the first connect to the deadline


class _Client:
    __slots__ = ("parser", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.parser = ResponseParser()  # for the first response; each later one gets a fresh parser


def run(url: str, seconds: float, connections: int, mode: str, path: str = "/") -> LoadResult:
    parts = urlsplit(url)
    address = (parts.hostname or "127.0.0.1", parts.port or 80)
    keepalive = mode == "keepalive"
    payload = build_request("GET", parts.netloc, path, keepalive=keepalive)
    selector = selectors.EpollSelector() if hasattr(selectors, "EpollSelector") else selectors.DefaultSelector()
    done = non_2xx = errors = 0

    def open_client() -> None:
        sock = socket.socket(socket.AF_INET6 if ":" in address[0] else socket.AF_INET)
        sock.setblocking(False)
        code = sock.connect_ex(address)
        if code not in (0, errno.EINPROGRESS):
            sock.close()
            raise OSError(code, f"connect to {address}: {errno.errorcode.get(code, code)}")
        selector.register(sock, selectors.EVENT_WRITE, _Client(sock))

    def reconnect(client: _Client) -> None:
        selector.unregister(client.sock)
        client.sock.close()
        open_client()

    def lose(client: _Client) -> None:
        """The request on ``client`` got no complete response: an error, and a new connection instead."""
        nonlocal errors
        errors += 1
        reconnect(client)

    def send(client: _Client) -> bool:
        """Send the request (a few bytes into an empty send buffer: never partial, never blocking);
        False when the connection failed (then the caller ``lose``s it)."""
        try:
            client.sock.send(payload)
        except OSError:
            return False
        return True

    for _ in range(connections):
        open_client()
    started = time.perf_counter()
    deadline = started + seconds
    try:
        while (now := time.perf_counter()) < deadline:
            for key, events in selector.select(deadline - now):
                client: _Client = key.data
                if events & selectors.EVENT_WRITE:  # connected (or failed): send the request
                    if send(client):
                        selector.modify(client.sock, selectors.EVENT_READ, client)
                    else:
                        lose(client)
                    continue
                parser = client.parser
                try:
                    data = client.sock.recv(RECV_BYTES)
                    complete = parser.feed(data) if data else parser.feed_eof()
                except BlockingIOError:
                    continue
                except (OSError, ProtocolError):  # reset, closed early or mid-body, not HTTP
                    lose(client)
                    continue
                if not complete:
                    continue
                done += 1
                assert parser.response is not None
                if not 200 <= parser.response.status < 300:
                    non_2xx += 1
                if not (keepalive and parser.keep_alive and not parser.trailing):
                    reconnect(client)  # close mode, or the server closes: don't wait for its FIN
                    continue
                client.parser = ResponseParser()
                if not send(client):
                    lose(client)
    finally:
        for key in list(selector.get_map().values()):
            key.data.sock.close()
        selector.close()
    return {"requests": done, "non_2xx": non_2xx, "errors": errors, "seconds": time.perf_counter() - started}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sweep.load_generator")
    parser.add_argument("url")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--mode", choices=("keepalive", "close"), default="keepalive")
    parser.add_argument("--path", default="/")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.url, args.seconds, args.connections, args.mode, args.path)), flush=True)


if __name__ == "__main__":
    main()
