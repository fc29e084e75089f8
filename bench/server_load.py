"""A raw-socket HTTP load generator for the server benchmark, used when wrk is not installed.

    python -m bench.server_load http://127.0.0.1:8080/ --seconds 2 --connections 50 --mode keepalive

Rules this module keeps:
- it is not the thing measured: it runs in its own process(es), pinned away from the server by the caller,
  and does the least per request (a precomputed request, responses framed by Content-Length only);
- closed loop like wrk: every connection has one request outstanding at a time; ``close`` mode opens a new
  connection per request and lets the server close it;
- bounded: it stops after ``--seconds`` and prints one JSON line ``{"requests", "errors", "seconds"}``.
"""

from __future__ import annotations

import argparse
import errno
import json
import selectors
import socket
import time
from urllib.parse import urlsplit


class _Client:
    __slots__ = ("buffer", "expected", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.expected = -1  # full length of the response being read, once its head is complete


def _response_length(buffer: bytes) -> int:
    """Length of the response at the start of ``buffer`` once its head is complete, else -1."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return -1
    for line in buffer[:end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return end + 4 + int(value)
    raise ValueError("response without Content-Length")


def run(url: str, seconds: float, connections: int, mode: str, path: str = "/") -> dict[str, float]:
    parts = urlsplit(url)
    address = (parts.hostname or "127.0.0.1", parts.port or 80)
    close = mode == "close"
    connection = "Connection: close\r\n" if close else ""
    payload = f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n{connection}\r\n".encode()
    selector = selectors.EpollSelector() if hasattr(selectors, "EpollSelector") else selectors.DefaultSelector()
    done = errors = 0

    def open_client() -> None:
        sock = socket.socket(socket.AF_INET6 if ":" in address[0] else socket.AF_INET)
        sock.setblocking(False)
        code = sock.connect_ex(address)
        if code not in (0, errno.EINPROGRESS):
            sock.close()
            raise OSError(code, f"connect to {address}: {errno.errorcode.get(code, code)}")
        selector.register(sock, selectors.EVENT_WRITE, _Client(sock))

    def drop(client: _Client) -> None:
        selector.unregister(client.sock)
        client.sock.close()

    for _ in range(connections):
        open_client()
    started = time.perf_counter()
    deadline = started + seconds
    try:
        while (now := time.perf_counter()) < deadline:
            for key, events in selector.select(deadline - now):
                client: _Client = key.data
                if events & selectors.EVENT_WRITE:  # connected (or failed): send the request
                    try:
                        client.sock.send(payload)
                    except OSError:
                        errors += 1
                        drop(client)
                        open_client()
                        continue
                    selector.modify(client.sock, selectors.EVENT_READ, client)
                    continue
                try:
                    data = client.sock.recv(262144)
                except OSError:
                    data = b""
                client.buffer += data
                if client.expected < 0:
                    client.expected = _response_length(client.buffer)
                if 0 <= client.expected <= len(client.buffer):
                    done += 1
                    client.buffer = client.buffer[client.expected:]
                    client.expected = -1
                    if not close:
                        client.sock.send(payload)  # a few bytes into an empty send buffer never block
                        continue
                    data = b""  # close mode: the server closes; we stop reading this connection
                if not data:
                    if client.expected >= 0 or client.buffer:
                        errors += 1
                    drop(client)
                    open_client()
    finally:
        for key in list(selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        selector.close()
    return {"requests": done, "errors": errors, "seconds": time.perf_counter() - started}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.server_load")
    parser.add_argument("url")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--mode", choices=("keepalive", "close"), default="keepalive")
    parser.add_argument("--path", default="/")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.url, args.seconds, args.connections, args.mode, args.path)), flush=True)


if __name__ == "__main__":
    main()
