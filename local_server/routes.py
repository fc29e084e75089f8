"""What the server answers, as a pure function of the request: ``route(request) -> Reply | Fault | Control``.

Rules this module keeps:
- no I/O, no clock, no state: a delay and a pace are numbers in the ``Reply`` (the loop turns them into
  timers), a fault is a named action (the loop performs it), the counters are the loop's (``Control`` asks
  for them);
- every body comes from ``local_server.payload``, the same functions clients verify with;
- a wrong method on a known route is 405, an unknown path 404, a malformed parameter 400;
- parameters are bounded (size, delay, status, rate), so no URL can make the server allocate or wait
  without limit.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

from local_server.pacing import MAX_RATE_KBPS, MIN_RATE_KBPS
from local_server.payload import ROOT_BODY, bytes_body, work_body
from local_server.protocol import ParsedRequest

#: The server keeps the bodies it built: a 256 KiB body costs ~110 µs to build (mostly page faults on
#: fresh memory) against ~20 µs for the rest of a request, and the benchmark asks for the same ids round
#: after round. 4096 entries bound it (1 GiB at 256 KiB); the clients' verification builds its own.
_work_body = functools.lru_cache(maxsize=4096)(work_body)

#: Largest body /bytes and /work will produce: 64 MiB covers any workload and caps memory per request.
MAX_SIZE = 64 * 1024 * 1024
#: Longest delay: 10 minutes, longer than any benchmark round, short enough that a typo cannot pin a slot.
MAX_DELAY_MS = 600_000

TEXT = b"text/plain"
OCTETS = b"application/octet-stream"
JSON = b"application/json"

FAULTS = ("reset", "close", "truncate", "stall", "garbage")


class Reply(NamedTuple):
    status: int
    content_type: bytes
    body: bytes
    delay_s: float = 0.0
    #: Pace the body at this many kilobits (1000 bits) per second (``local_server.pacing``); 0: at once.
    rate_kbps: int = 0


class Fault(NamedTuple):
    """A misbehaviour for the reliability workloads; the loop performs it (see ``FAULTS``)."""

    kind: str


class Control(NamedTuple):
    """A control route ("stats" or "stats_reset"): answered by the loop, never counted."""

    name: str


Action = Reply | Fault | Control

_ROOT = Reply(200, TEXT, ROOT_BODY)
_NOT_FOUND = Reply(404, TEXT, b"not found\n")
_NOT_ALLOWED = Reply(405, TEXT, b"method not allowed\n")
_GET = (b"GET",)
_GET_POST = (b"GET", b"POST")
_POST = (b"POST",)


def _bad(why: str) -> Reply:
    return Reply(400, TEXT, why.encode() + b"\n")


def _bounded_int(raw: bytes, low: int, high: int) -> int | None:
    """``raw`` as an int in [low, high], or None (decimal digits only: no signs, spaces or underscores)."""
    digits = raw[1:] if raw[:1] == b"-" and low < 0 else raw
    if not digits.isdigit() or len(digits) > 12:
        return None
    value = int(raw)
    return value if low <= value <= high else None


def _work(query: bytes) -> Reply:
    delay_ms = size = request_id = rate_kbps = 0
    for part in query.split(b"&") if query else ():
        key, _, raw = part.partition(b"=")
        if key == b"delay_ms":
            value = _bounded_int(raw, 0, MAX_DELAY_MS)
            if value is None:
                return _bad(f"delay_ms must be an integer in [0, {MAX_DELAY_MS}]")
            delay_ms = value
        elif key == b"size":
            value = _bounded_int(raw, 0, MAX_SIZE)
            if value is None:
                return _bad(f"size must be an integer in [0, {MAX_SIZE}]")
            size = value
        elif key == b"id":
            value = _bounded_int(raw, -(10**12), 10**12)
            if value is None:
                return _bad("id must be an integer")
            request_id = value
        elif key == b"rate_kbps":
            value = _bounded_int(raw, MIN_RATE_KBPS, MAX_RATE_KBPS)
            if value is None:
                return _bad(f"rate_kbps must be an integer in [{MIN_RATE_KBPS}, {MAX_RATE_KBPS}] "
                            f"(kilobits per second, 1 kbit = 1000 bits)")
            rate_kbps = value
    return Reply(200, TEXT, _work_body(request_id, size), delay_ms / 1000, rate_kbps)


def _prefixed(method: bytes, path: bytes) -> Action:
    head, _, arg = path[1:].partition(b"/")
    if head == b"bytes":
        if method not in _GET:
            return _NOT_ALLOWED
        size = _bounded_int(arg, 0, MAX_SIZE)
        return _bad(f"size must be an integer in [0, {MAX_SIZE}]") if size is None else \
            Reply(200, TEXT, bytes_body(size))
    if head == b"delay":
        if method not in _GET:
            return _NOT_ALLOWED
        delay_ms = _bounded_int(arg, 0, MAX_DELAY_MS)
        return _bad(f"delay must be an integer in [0, {MAX_DELAY_MS}]") if delay_ms is None else \
            Reply(200, TEXT, b"delayed %d ms\n" % delay_ms, delay_ms / 1000)
    if head == b"status":
        if method not in _GET:
            return _NOT_ALLOWED
        status = _bounded_int(arg, 200, 599)  # 1xx are not final responses; we never send them
        return _bad("status must be an integer in [200, 599]") if status is None else \
            Reply(status, TEXT, b"status %d\n" % status)
    if head == b"fault":
        kind = arg.decode("ascii", "replace")
        if kind not in FAULTS:
            return _NOT_FOUND
        return Fault(kind) if method in _GET_POST else _NOT_ALLOWED
    if head == b"stats" and arg == b"reset":
        return Control("stats_reset") if method in _POST else _NOT_ALLOWED
    return _NOT_FOUND


def route(request: ParsedRequest) -> Action:
    """The action answering ``request``."""
    method = request.method
    path, _, query = request.target.partition(b"?")
    if path == b"/work":
        return _work(query) if method in _GET_POST else _NOT_ALLOWED
    if path == b"/":
        return _ROOT if method in _GET else _NOT_ALLOWED
    if path == b"/echo":
        if method not in _POST:
            return _NOT_ALLOWED
        return Reply(200, request.content_type or OCTETS, request.body)
    if path == b"/stats":
        return Control("stats") if method in _GET else _NOT_ALLOWED
    return _prefixed(method, path)
