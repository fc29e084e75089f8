"""HTTP/1.x for the bundled server, sans-IO: bytes in, request events out; responses in, bytes out.

Rules this module keeps:
- it knows no sockets, clocks or event loops (no ``socket`` import): ``RequestReader.receive_data(bytes)``
  returns the events the bytes completed, so the loop, the tests and the fuzzers drive it the same way;
- parsing is httptools' (llhttp), never ours; we only add the limits and the mapping of failures to statuses:
  malformed → 400, head over ``max_head_bytes`` → 431, body over ``max_body_bytes`` → 413, a version other
  than 1.0/1.1 → 505;
- after an error (or an Upgrade/CONNECT, whose following bytes are not HTTP) the reader is ``closed``: it
  returns the error event once and ignores every later byte, so the loop answers and closes;
- events come out in the order the requests were sent, so pipelined requests can be answered in order;
- one parser per connection, reused for every request on it (creating one per request costs more than the
  parse); the callbacks are the minimum we need, because each one is a C→Python call per request.
"""

from __future__ import annotations

import functools
from http import HTTPStatus
from typing import NamedTuple

import httptools

#: Largest request head (request line + headers) we accept. 64 KiB is far above any real client's head
#: (browsers send < 8 KiB) and bounds what one connection can make us buffer before the 431.
MAX_HEAD_BYTES = 64 * 1024
#: Largest request body. The workloads post small forms; 1 MiB leaves room for /echo tests while bounding
#: what one connection can make us buffer before the 413.
MAX_BODY_BYTES = 1024 * 1024


class ParsedRequest(NamedTuple):
    """One complete request. ``target`` is the raw request-target (path and query), as sent."""

    method: bytes
    target: bytes
    version: str
    keep_alive: bool
    content_type: bytes | None
    body: bytes


class Rejection(NamedTuple):
    """The stream is not acceptable HTTP from this point on: answer ``status`` and close."""

    status: int
    reason: str


Event = ParsedRequest | Rejection

#: Builds a ParsedRequest from a tuple in C, skipping NamedTuple's Python-level __new__ (run per request).
_new_request = tuple.__new__


class _Abort(Exception):
    """Raised from a callback to stop llhttp; the real error is in ``RequestReader._error``."""


class RequestReader:
    """Turns the bytes of one connection into ``ParsedRequest`` / ``Rejection`` events.

    Only four llhttp callbacks are defined (url, header, body, message complete): a GET costs two plus one
    per header. Head size is bounded two ways, both lower bounds of the true size so neither can refuse a
    legal request: the sizes the callbacks report, and whole feeds that arrive while a head is incomplete
    (llhttp buffers a header until it is complete, so a never-ending header is only seen that way).
    """

    def __init__(self, max_head_bytes: int = MAX_HEAD_BYTES, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.max_head_bytes = max_head_bytes
        self.max_body_bytes = max_body_bytes
        #: True once no further request will be read: set on an error or a protocol switch, and by the
        #: caller when it decided to close (later bytes are then ignored).
        self.closed = False
        self._clean = True  # False once bytes were received that are not part of a complete request
        self._parser = httptools.HttpRequestParser(self)
        self._events: list[Event] = []
        self._error: Rejection | None = None
        self._head = 0  # head bytes the callbacks reported for the current request
        self._head_fed = 0  # bytes of whole feeds that were all head of the current request
        self._url = b""  # non-empty from the request line on: a request is in progress
        self._in_body = False
        self._content_type: bytes | None = None
        self._body = b""

    @property
    def at_boundary(self) -> bool:
        """True when every byte received so far belonged to complete requests (nothing half-read)."""
        return self._clean and not self._url

    def receive_data(self, data: bytes | bytearray | memoryview) -> list[Event]:
        """Feed bytes; return the events they completed, in order (empty when none or when closed)."""
        if self.closed:
            self._clean = False
            return []
        events: list[Event] = []
        self._events = events
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # The request that asked to switch protocols is complete; what follows is not HTTP.
            self.closed = True
            self._clean = False
            if events and events[-1].__class__ is ParsedRequest:
                events[-1] = events[-1]._replace(keep_alive=False)
            return events
        except httptools.HttpParserError as exc:
            return self._fail(self._error or _classify(exc))
        if self._url and not self._in_body:  # the feed ended inside a request head
            if not events:  # no request ended in this feed, so all of it was head
                self._head_fed += len(data)
            if max(self._head, self._head_fed) > self.max_head_bytes:
                return self._fail(Rejection(431, "request head too large"))
        return events

    def _fail(self, error: Rejection) -> list[Event]:
        self.closed = True
        self._clean = False
        self._events.append(error)
        return self._events

    def _abort(self, status: int, reason: str) -> _Abort:
        self._error = Rejection(status, reason)
        return _Abort(reason)

    # httptools callbacks -------------------------------------------------------------------------------

    def on_url(self, url: bytes) -> None:
        self._url += url  # llhttp may report the target in several pieces
        self._head += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head += len(name) + len(value) + 4
        size = len(name)
        if size == 12 or size == 14:  # cheap filter before lower(): only two headers interest us
            lower = name.lower()
            if lower == b"content-type":
                self._content_type = value
            elif lower == b"content-length" and value.isdigit() and int(value) > self.max_body_bytes:
                raise self._abort(413, "request body too large")

    def on_body(self, body: bytes) -> None:
        if not self._in_body:
            self._check_head()
            self._in_body = True
        self._body += body
        if len(self._body) > self.max_body_bytes:
            raise self._abort(413, "request body too large")

    def on_message_complete(self) -> None:
        parser = self._parser
        version = self._check_head()
        self._events.append(_new_request(ParsedRequest, (parser.get_method(), self._url, version,
                                                          parser.should_keep_alive(), self._content_type,
                                                          self._body)))
        self._head = 0
        self._url = b""
        if self._in_body or self._head_fed or self._content_type is not None:  # rare: skip the stores
            self._head_fed = 0
            self._body = b""
            self._content_type = None
            self._in_body = False

    def _check_head(self) -> str:
        """Limits and version, once the head is complete; return the version."""
        if self._head > self.max_head_bytes:
            raise self._abort(431, "request head too large")
        version = self._parser.get_http_version()
        if version != "1.1" and version != "1.0":
            raise self._abort(505, f"HTTP/{version} not supported")
        return version


def _classify(exc: Exception) -> Rejection:
    """Map an llhttp failure to the status we answer."""
    message = str(exc) or exc.__class__.__name__
    if "version" in message.lower() or "PRI" in message:  # "Invalid HTTP version", HTTP/2 preface
        return Rejection(505, message)
    return Rejection(400, message)


# Responses ---------------------------------------------------------------------------------------------

#: How the response's Connection header reads, by (keep_alive, version): HTTP/1.1 keeps alive by default,
#: HTTP/1.0 only when told so.
_CONNECTION = {
    (True, "1.1"): b"",
    (True, "1.0"): b"Connection: keep-alive\r\n",
    (False, "1.1"): b"Connection: close\r\n",
    (False, "1.0"): b"Connection: close\r\n",
}


def reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


@functools.lru_cache(maxsize=512)
def response_head(status: int, content_type: bytes, keep_alive: bool, version: str) -> bytes:
    """Everything of the response head up to the Content-Length digits (precomputed: it rarely varies)."""
    return b"HTTP/1.1 %d %s\r\nServer: concbench\r\nContent-Type: %s\r\n%sContent-Length: " % (
        status, reason_phrase(status).encode(), content_type, _CONNECTION[keep_alive, version])


def encode_response(status: int, content_type: bytes, body: bytes, keep_alive: bool = True,
                    version: str = "1.1") -> bytes:
    """The bytes of a complete response. 204 and 304 carry neither a body nor a Content-Length."""
    if status == 204 or status == 304:
        return b"HTTP/1.1 %d %s\r\nServer: concbench\r\n%s\r\n" % (
            status, reason_phrase(status).encode(), _CONNECTION[keep_alive, version])
    return b"%s%d\r\n\r\n%s" % (response_head(status, content_type, keep_alive, version), len(body), body)
