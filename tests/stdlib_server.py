"""A server that is not ours: Python's ``http.server`` on loopback, serving the same ``/work`` bodies.

It answers HTTP/1.1 with Content-Length and keeps connections open unless the client asks otherwise, like
most servers; it does not echo ``Connection: close`` (legal, and it makes clients detect the close
themselves). It counts the connections that carried /work requests, so tests can check a client's connection policy.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from local_server.payload import work_body


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    counted = False

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != "/work":
            self.send_error(404)
            return
        if not self.counted:  # one handler per connection; only connections that carried /work count
            self.counted = True
            server: CountingServer = self.server  # type: ignore[assignment]
            with server.lock:
                server.connections += 1
        query = parse_qs(parts.query)
        body = work_body(int(query.get("id", ["0"])[0]), int(query.get("size", ["0"])[0]))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class CountingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.connections = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"


@contextlib.contextmanager
def stdlib_server() -> Iterator[CountingServer]:
    server = CountingServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
