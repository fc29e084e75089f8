"""The bodies the server promises, as pure functions of the URL's parameters.

Rules this module keeps:
- every body is a deterministic function of its parameters, so a client (or the harness) can verify a
  response without asking the server;
- no I/O and no state: the server, the strategies' verification and the tests all import these functions,
  so what is served and what is checked are the same code.
"""

from __future__ import annotations

import functools
import hashlib
from urllib.parse import parse_qs, urlsplit

#: Body of ``GET /``. Small and fixed: the cheapest possible response.
ROOT_BODY = b"concbench local server\n"


def work_body(request_id: int, size: int) -> bytes:
    """The ``size`` bytes that ``/work?id=K&size=S`` answers: a per-id 64-character ASCII seed repeated.

    Two requests with different ids get different bodies, so a strategy that mixes up its responses fails
    verification. Only the seed is cached: caching whole bodies would keep N × 256 KiB alive in every
    worker that verifies the payload workload and charge it to the strategy's peak RSS.
    """
    if size < 0:
        raise ValueError("size must be >= 0")
    seed = _seed(request_id, size)
    return (seed * (size // len(seed) + 1))[:size]


@functools.lru_cache(maxsize=65536)
def _seed(request_id: int, size: int) -> bytes:
    return hashlib.blake2b(f"{request_id}:{size}".encode(), digest_size=32).hexdigest().encode()


def bytes_body(size: int) -> bytes:
    """The ``size`` bytes that ``/bytes/<size>`` answers."""
    return work_body(0, size)


def expected_response(url: str) -> tuple[int, bytes] | None:
    """The (status, body) a correct client must receive for ``url``, or None when the URL promises none.

    Only the content routes promise a body; fault routes and unknown paths return None, which
    verification counts as an error whatever came back.
    """
    parts = urlsplit(url)
    path = parts.path
    if path == "/":
        return 200, ROOT_BODY
    if path.startswith("/bytes/"):
        return 200, bytes_body(int(path[len("/bytes/"):]))
    if path == "/work":
        query = parse_qs(parts.query)
        request_id = int(query.get("id", ["0"])[0])
        size = int(query.get("size", ["0"])[0])
        return 200, work_body(request_id, size)
    return None
