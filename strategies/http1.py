"""Client side of HTTP/1.1, sans-IO: request bytes out, response events from bytes in.

Rules this module keeps (h11's discipline):
- no sockets, no clocks, no event loop: callers feed bytes and EOF, and read back a ``Response`` or a
  ``ProtocolError``; the select client, the asyncio client and the tests share this one code path;
- parsing is httptools (llhttp), not hand-written; this module only adds what llhttp leaves to the caller:
  EOF-delimited bodies, truncated bodies, and whether the connection may carry another request;
- one ``ResponseParser`` per response: a reused connection gets a fresh parser, so no state leaks from one
  response into the next;
- a finished response costs its body and its header, nothing more: the parser lets go of its body chunks
  and of httptools' parser (a reference cycle) at once, and keeps at most 4 KiB of body bytes with its
  header.
"""

from __future__ import annotations

import contextlib
import functools
import re
from urllib.parse import urlsplit

import httptools

#: Statuses that never carry a body whatever the headers say (RFC 9112 section 6.3).
_BODYLESS = frozenset({204, 304})
#: A chunk fed while the header was still coming, and larger than this, is cut to the header once the body
#: has begun: kept whole, a response would carry the first recv of its body (64 KiB of a 256 KiB body: +25 %
#: memory per body held) until its headers were read. Smaller chunks (a small response) are kept as they
#: are, since cutting them costs more than it saves.
_HEAD_CHUNK_MAX = 4096
#: The headers that delimit a body; a response with neither has a body that runs until EOF.
_FRAMING = frozenset({"content-length", "transfer-encoding"})


class ProtocolError(Exception):
    """The peer sent something that is not a complete, well-formed HTTP/1.x response."""


class Response:
    """A complete response. ``headers``: names lower-cased, in the order received (repeated headers appear
    repeatedly). A ``ResponseParser``'s response keeps its header bytes and decodes them the first time
    ``headers`` is read: most callers only want the status and body."""

    __slots__ = ("_head", "_headers", "body", "status")

    def __init__(self, status: int, headers: list[tuple[str, str]] | None = None, body: bytes = b""):
        self.status = status
        self.body = body
        #: None until parsed from ``_head``, the bytes a ``ResponseParser`` kept (none: no headers).
        self._headers = headers
        self._head: list[bytes] = []

    @property
    def headers(self) -> list[tuple[str, str]]:
        if self._headers is None:
            self._headers = _parse_head(self._head) or []
            self._head = []
        return self._headers

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((value for key, value in self.headers if key == name), None)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Response):
            return NotImplemented
        return (self.status, self.headers, self.body) == (other.status, other.headers, other.body)

    # Mutable, so unhashable, as the dataclass it replaced.
    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Response(status={self.status!r}, headers={self.headers!r}, body={self.body!r})"


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
    # One f-string, not lines joined: 30 % fewer instructions, on every request.
    connection = "keep-alive" if keepalive else "close"
    head = f"{method} {target or '/'} HTTP/1.1\r\nHost: {host}\r\nConnection: {connection}\r\n"
    if body or method == "POST":
        head += f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
    if headers:
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return (head + "\r\n").encode("latin-1") + body


@functools.lru_cache(maxsize=64)
def host_header(host: str, port: int) -> str:
    """The Host header value for ``host``:``port``: an IPv6 literal bracketed (RFC 9110 7.2), the default
    port 80 left out. Cached: a run talks to one server, so every request after the first is a lookup."""
    name = f"[{host}]" if ":" in host else host
    return name if port == 80 else f"{name}:{port}"


#: An absolute URL as ``urlsplit`` divides it: scheme://authority, path, ?query, #fragment. A URL with a space
#: or a control character (which ``urlsplit`` strips or removes) does not match, and is left to ``urlsplit``.
_URL = re.compile(
    r"([A-Za-z][A-Za-z0-9+.-]*://[^/?#\x00-\x20]*)"  # the origin
    r"([^?#\x00-\x20]*)(\?[^#\x00-\x20]*)?(?:#[^\x00-\x20]*)?"  # path, query, fragment
)


def split_url(url: str) -> tuple[str, int, str]:
    """``http://host:port/path?query`` -> ``(host, port, target)``: where to connect, and what to ask for.

    What ``urlsplit`` gives, for under a quarter of its cost: ``urlsplit`` of a URL (and its ``hostname``
    and ``port``) cost ~47,000 instructions (measured on 2026-11-24), its cache never hitting since every URL is new: a third of
    the select strategy's whole request, before this. A run's URLs share their origin, so that part is
    split once (``_origin``); the target is the rest of the URL, the fragment and an empty query dropped.
    A URL that starts with the last origin split, followed by a plain target, is sliced without the
    pattern (10,800 -> ~2,000 instructions, ``python -m strategies.components split_url`` makes today's figures)."""
    global _last_origin
    origin, host, port = _last_origin
    if origin and url.startswith(origin):  # the origin of the last URL split: most often, every URL's
        target = url[len(origin):]
        # What the pattern below would give: no fragment, no empty query to drop, nothing urlsplit strips.
        if ((not target or target[0] in "/?") and "#" not in target and " " not in target
                and target.isprintable() and not target.endswith("?")):
            return host, port, target
    match = _URL.fullmatch(url)
    if match is None:
        parts = urlsplit(url)
        target = f"{parts.path}?{parts.query}" if parts.query else parts.path
        return parts.hostname or "127.0.0.1", parts.port or default_port(parts.scheme), target
    origin, path, query = match.groups()
    host, port = _origin(origin)
    _last_origin = (origin, host, port)  # one tuple, replaced whole: safe from C threads under the GIL
    return host, port, path + query if query and len(query) > 1 else path


#: The origin (``scheme://authority``), host and port of the last URL ``split_url`` split by its pattern.
_last_origin: tuple[str, str, int] = ("", "", 0)


#: Origins kept split: a run talks to one server; a few more cost nothing.
@functools.lru_cache(maxsize=64)
def _origin(origin: str) -> tuple[str, int]:
    parts = urlsplit(origin)
    return parts.hostname or "127.0.0.1", parts.port or default_port(parts.scheme)


def default_port(scheme: str) -> int:
    """The port of a URL that names none: 443 for https, else 80."""
    return 443 if scheme.lower() == "https" else 80


class _Head:
    """Collects a response's headers from an httptools parser of its own (see ``ResponseParser``); not the
    trailer fields of a chunked body, which llhttp reports the same way but which are not headers."""

    def __init__(self) -> None:
        self.headers: list[tuple[str, str]] = []
        self.complete = False

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.complete:
            self.headers.append((name.decode("latin-1").lower(), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self.complete = True


def _header_only(chunks: list[bytes]) -> list[bytes]:
    """The status line and header of ``chunks`` (the bytes fed until the body began), without the start of
    the body that arrived with them; ``chunks`` as they are if no CRLF CRLF ends a header in them."""
    head = b"".join(chunks)
    end = head.find(b"\r\n\r\n")
    return chunks if end < 0 else [head[:end + 4]]


def _parse_head(chunks: list[bytes]) -> list[tuple[str, str]] | None:
    """The headers of the response that begins with ``chunks``, None if they end before its header does.
    An error past the header is not this parse's to report: the response's own parser judged those bytes."""
    head = _Head()
    with contextlib.suppress(httptools.HttpParserError, httptools.HttpParserUpgrade):
        httptools.HttpResponseParser(head).feed_data(b"".join(chunks))
    return head.headers if head.complete else None


class ResponseParser:
    """Incremental parser for one response. ``feed(data)`` and ``feed_eof()`` return True once the
    response is complete (then read ``response`` and ``keep_alive``); both raise ProtocolError.

    It asks httptools only for what every response needs (status, body, end, keep-alive), not the headers:
    a callback per header and two decodes cost ~13,000 of the ~35,000 instructions a small response took
    (measured on 2026-11-24; ``python -m strategies.components`` counts today's parse).
    The bytes fed until the body begins are kept instead, and parsed again, by a parser of their own, only
    when asked: ``Response.headers``, or at EOF to tell a body that runs until EOF from one cut short."""

    __slots__ = ("_body", "_head", "_parser", "complete", "keep_alive", "response", "trailing")

    def __init__(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        #: What was fed until the body began: the status line and header, and perhaps the body's start.
        self._head: list[bytes] = []
        self._body: list[bytes] = []
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

    def on_body(self, body: bytes) -> None:
        if not self.complete:
            self._body.append(body)

    def on_message_complete(self) -> None:
        if not self.complete:
            self._finish(keep_alive=self._parser.should_keep_alive())

    def _finish(self, keep_alive: bool) -> None:
        self.complete = True
        self.keep_alive = keep_alive
        self.response = Response(self._parser.get_status_code(), None, b"".join(self._body))
        self.response._head = self._head
        # httptools' parser holds this object (its callbacks) and this object holds it: a reference cycle,
        # which only the cyclic GC frees. A finished response's body chunks waited in it for a gen-2
        # collection: at C=1000 with 256 KiB bodies, a second copy of every body (+250 MiB, and the RSS
        # kept into the next round). Cut both here; httptools, still inside ``feed_data``, holds its own
        # reference until that call returns, and nothing reads ``_parser`` once ``complete`` is set.
        self._body = []
        del self._parser

    def feed(self, data: bytes) -> bool:
        if self.complete:
            self.trailing = self.trailing or bool(data)
            return True
        in_head = not self._body
        if in_head:
            self._head.append(data)
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            if self.complete:  # garbage after a complete response: the response stands, the connection not
                self.trailing = True
                return True
            raise ProtocolError(f"malformed response: {exc}") from None
        if in_head and len(data) > _HEAD_CHUNK_MAX and (self._body or self.complete):
            self._head = _header_only(self._head)
        return self.complete

    def feed_eof(self) -> bool:
        """The peer closed the connection. Completes an EOF-delimited body; anything else unfinished is
        an error (nothing at all, headers cut short, or a body shorter than its declared length)."""
        if self.complete:
            return True
        headers = _parse_head(self._head)
        if headers is None:
            raise ProtocolError("connection closed before a complete response header")
        # No length and not chunked: the body runs until the server closes (RFC 9112 section 6.3, rule 8).
        status = self._parser.get_status_code()
        framed = any(name in _FRAMING for name, _ in headers)
        if status >= 200 and status not in _BODYLESS and not framed:
            self._finish(keep_alive=False)
            return True
        received = sum(len(chunk) for chunk in self._body)
        raise ProtocolError(f"connection closed mid-body (truncated after {received} body bytes)")
