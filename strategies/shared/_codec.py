"""How a codec strategy turns a URL into request bytes and bytes into a response, and what else it adds.

Every codec strategy (``threads-raw``, ``gevent-raw``, ``processes-raw``, ``asyncio``, ``uvloop``,
``trio-raw``, ``tornado-raw``, ``twisted-raw``, ``select``, ``epoll``) makes its requests with a ``Codec`` from here and
records them as its ``Features`` say, so two of them differ only in their model. The features are the rungs
of the model ladder (``python -m bench.ladder``): each codec strategy's ``start(config, features)`` runs the
strategy's own code with some of them turned off, and ``FULL``, every one on, *is* the strategy.

- ``codec``: ``"http1"``, the strategies' sans-IO ``strategies.http1`` (``split_url``, ``build_request``,
  ``ResponseParser``), or ``"bare"``: the same request bytes made by slicing the URL, and ``LengthParser``,
  a dozen lines that know only the bundled server's ``Content-Length`` responses. ``bare`` is for the
  ladder's first rung: it does what any client must, and nothing else;
- ``deadline``: a total deadline per request, ``timeout_s`` from when it is issued to its last byte, kept
  the model's cheapest way (each model's module says which and why); off, a request waits as long as it takes;
- ``record``: an ``Outcome`` per request with its status, body and latency (``started`` taken when the
  request is issued), for the worker's one verification (``strategies.workload.verify``) after the round.
  Off, each response is checked where it arrives, status 200 and ``expected_size`` bytes of body, and its
  slot gets the shared ``CHECKED`` outcome (a failed check, or a failed request, gets an ``Outcome.failed``);
  the ladder's worker counts those (``strategies.probes.ladder_worker``).

Rules this module keeps:
- no I/O: a codec makes bytes and parsers; the models' modules own the sockets, streams and protocols;
- a codec's ``request(url)`` returns where to connect and the bytes to send; its ``parser()`` a fresh
  parser per response, with ``ResponseParser``'s interface: ``feed(data)`` / ``feed_eof()`` True once the
  response is complete, then ``response.status``, ``response.body``, ``keep_alive`` and ``trailing``;
- the two codecs send the same bytes for the same URL and policy (GET, a keep-alive or close header).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from strategies.base import ClientConfig, Outcome
from strategies.http1 import (
    ProtocolError,
    ResponseParser,
    build_request,
    default_port,
    host_header,
    split_url,
)

Key = tuple[str, int]

CODECS = ("http1", "bare")


@dataclass(frozen=True)
class Features:
    """What a codec strategy does beyond its model: all of it by default (``FULL``, the strategy)."""

    codec: str = "http1"
    deadline: bool = True
    record: bool = True
    #: With ``record`` off: the body length every response must have (the ladder's workload's ``size``).
    expected_size: int = 64

    def __post_init__(self) -> None:
        if self.codec not in CODECS:
            raise ValueError(f"codec must be one of {CODECS}, got {self.codec!r}")


FULL = Features()

#: The model ladder's rungs below the strategy itself (``python -m bench.ladder``), each adding one feature to the
#: one before: the model alone, + our codec, + the deadline, + an outcome per request (``FULL``).
RUNGS: dict[str, Features] = {
    "bare": Features(codec="bare", deadline=False, record=False),
    "codec": Features(deadline=False, record=False),
    "deadline": Features(record=False),
    "record": FULL,
}

#: What a slot holds when ``record`` is off and its response passed the check where it arrived.
CHECKED = Outcome(200, None, None, 0.0)


class Parser(Protocol):
    keep_alive: bool
    trailing: bool

    @property
    def response(self) -> _Response | None: ...

    def feed(self, data: bytes) -> bool: ...

    def feed_eof(self) -> bool: ...


class _Response(Protocol):
    status: int
    body: bytes


class Codec(Protocol):
    def request(self, url: str) -> tuple[Key, bytes]: ...

    def parser(self) -> Parser: ...


class HTTP1Codec:
    """The strategies' codec: ``strategies.http1`` end to end."""

    def __init__(self, config: ClientConfig):
        self._method = config.method
        self._body = config.body
        self._keepalive = config.policy == "keepalive"

    def request(self, url: str) -> tuple[Key, bytes]:
        host, port, target = split_url(url)
        return (host, port), build_request(self._method, host_header(host, port), target,
                                           keepalive=self._keepalive, body=self._body)

    def parser(self) -> ResponseParser:
        return ResponseParser()


class BareCodec:
    """What any client must do and no more: ``build_request``'s bytes for a GET, made by slicing the URL
    after its origin (``http://host:port``, split once per origin), and ``LengthParser``."""

    def __init__(self, config: ClientConfig):
        if config.method != "GET":
            raise ValueError("the bare codec sends GET only")
        self._connection = "keep-alive" if config.policy == "keepalive" else "close"
        self._origin = ""
        self._key: Key = ("", 0)
        self._host = ""

    def request(self, url: str) -> tuple[Key, bytes]:
        if not url.startswith(self._origin) or not self._origin:
            self._split_origin(url)
        target = url[len(self._origin):] or "/"
        return self._key, f"GET {target} HTTP/1.1\r\nHost: {self._host}\r\nConnection: {self._connection}\r\n\r\n" \
            .encode("latin-1")

    def _split_origin(self, url: str) -> None:
        parts = urlsplit(url)
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._key = (parts.hostname or "127.0.0.1", parts.port or default_port(parts.scheme))
        self._host = host_header(*self._key)

    def parser(self) -> LengthParser:
        return LengthParser()


class LengthParser:
    """One response framed by ``Content-Length`` (spelt as the bundled server spells it), nothing else.

    Its own ``response`` once complete, with ``status`` and ``body``. Anything it cannot frame is a
    ``ProtocolError``; it keeps every connection the server does not close."""

    __slots__ = ("_data", "body", "keep_alive", "response", "status", "trailing")

    def __init__(self) -> None:
        self._data = b""
        self.response: LengthParser | None = None
        self.keep_alive = True
        self.trailing = False

    def feed(self, data: bytes) -> bool:
        if self._data:
            data = self._data + data
        end = data.find(b"\r\n\r\n")
        if end < 0:
            self._data = data
            return False
        at = data.find(b"\r\nContent-Length: ", 0, end)
        if at < 0:
            raise ProtocolError("no Content-Length in the response header")
        size = end + 4 + int(data[at + 18:data.index(b"\r\n", at + 18)])
        if len(data) < size:
            self._data = data
            return False
        self.status, self.body, self.trailing, self.response = int(data[9:12]), data[end + 4:size], len(data) > size, self
        return True

    def feed_eof(self) -> bool:
        if self.response is not None:
            return True
        raise ProtocolError("connection closed before a complete response")


def new_codec(config: ClientConfig, features: Features) -> Codec:
    return HTTP1Codec(config) if features.codec == "http1" else BareCodec(config)


def checked(features: Features, status: int, body: bytes) -> Outcome:
    """``record`` off: ``CHECKED`` for a response with status 200 and ``expected_size`` bytes of body."""
    if status == 200 and len(body) == features.expected_size:
        return CHECKED
    return Outcome.failed(f"CheckError: status {status}, {len(body)} bytes of body, "
                          f"expected 200 and {features.expected_size}", 0.0)
