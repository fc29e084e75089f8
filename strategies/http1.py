"""Client side of HTTP/1.1, sans-IO: request bytes out, response events from bytes in.

Rules this module keeps (h11's discipline):
- no sockets, no clocks, no event loop: callers feed bytes and EOF, and read back a ``Response`` or a
  ``ProtocolError``; the select client, the asyncio client and the tests share this one code path;
- parsing is httptools (llhttp), not hand-written; this module only adds what llhttp leaves to the caller:
  EOF-delimited bodies, truncated bodies, and whether the connection may carry another request;
- one ``ResponseParser`` per response: a reused connection gets a fresh parser, so no state leaks from one
  response into the next.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httptools

#: Statuses that never carry a body whatever the headers say (RFC 9112 section 6.3).
_BODYLESS = frozenset({204, 304})


class ProtocolError(Exception):
    """The peer sent something that is not a complete, well-formed HTTP/1.x response."""


@dataclass
class Response:
    status: int
    #: Header names lower-cased, in the order received (repeated headers appear repeatedly).
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((value for key, value in self.headers if key == name), None)


def build_request(
    method: str,
    host: str,
    target: str,
    *,
    keepalive: bool,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> bytes:
    """The bytes of one HTTP/1.1 request. ``host`` is the Host header value (``"127.0.0.1:8080"``);
    ``target`` the path and query. A POST body is sent as application/x-www-form-urlencoded."""
    lines = [f"{method} {target or '/'} HTTP/1.1", f"Host: {host}",
             f"Connection: {'keep-alive' if keepalive else 'close'}"]
    if body or method == "POST":
        lines.append("Content-Type: application/x-www-form-urlencoded")
        lines.append(f"Content-Length: {len(body)}")
    if headers:
        lines.extend(f"{name}: {value}" for name, value in headers.items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class ResponseParser:
    """Incremental parser for one response. ``feed(data)`` and ``feed_eof()`` return True once the
    response is complete (then read ``response`` and ``keep_alive``); both raise ProtocolError."""

    def __init__(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._headers: list[tuple[str, str]] = []
        self._body: list[bytes] = []
        self._headers_done = False
        self._until_eof = False
        self.complete = False
        #: Bytes that arrived after the complete response: a well-behaved server sends none (we never
        #: pipeline), so a caller must not reuse a connection that has any.
        self.trailing = False
        self.keep_alive = False
        self.response: Response | None = None

    # httptools callbacks. Once the response is complete, llhttp would go on parsing whatever follows as
    # a next message; that is only ever noted as ``trailing``, never allowed to touch this response.
    def on_message_begin(self) -> None:
        self.trailing = self.complete

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.complete:
            return
        self._headers.append((name.decode("latin-1").lower(), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        if self.complete:
            return
        self._headers_done = True
        status = self._parser.get_status_code()
        names = {name for name, _ in self._headers}
        # No length and not chunked: the body runs until the server closes (RFC 9112 section 6.3, rule 8).
        self._until_eof = (
            status >= 200 and status not in _BODYLESS
            and "content-length" not in names and "transfer-encoding" not in names
        )

    def on_body(self, body: bytes) -> None:
        if not self.complete:
            self._body.append(body)

    def on_message_complete(self) -> None:
        if not self.complete:
            self._finish(keep_alive=self._parser.should_keep_alive())

    def _finish(self, keep_alive: bool) -> None:
        self.complete = True
        self.keep_alive = keep_alive
        self.response = Response(self._parser.get_status_code(), self._headers, b"".join(self._body))

    def feed(self, data: bytes) -> bool:
        if self.complete:
            self.trailing = self.trailing or bool(data)
            return True
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            if self.complete:  # garbage after a complete response: the response stands, the connection not
                self.trailing = True
                return True
            raise ProtocolError(f"malformed response: {exc}") from None
        return self.complete

    def feed_eof(self) -> bool:
        """The peer closed the connection. Completes an EOF-delimited body; anything else unfinished is
        an error (nothing at all, headers cut short, or a body shorter than its declared length)."""
        if self.complete:
            return True
        if self._headers_done and self._until_eof:
            self._finish(keep_alive=False)
            return True
        if not self._headers_done:
            raise ProtocolError("connection closed before a complete response header")
        received = sum(len(chunk) for chunk in self._body)
        raise ProtocolError(f"connection closed mid-body (truncated after {received} body bytes)")
