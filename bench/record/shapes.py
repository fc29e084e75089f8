"""What each request of a workload asks of the server, and the least time a round of them can take.

Rules this module keeps:
- a request is (delay_ms, size, rate_kbps) for its id. In the uniform workloads every request is the same;
  in ``web`` each request's delay and body size are drawn from heavy-tailed distributions as a pure function
  of (seed, id): a hash of (seed, stream, id) gives a uniform u in (0, 1), the inverse CDF of a log-normal
  turns u into a value, rounded to an integer and clipped to the bounds below (which are within the
  server's). Standard library only (``hashlib``, ``statistics.NormalDist``), no generator state: the same
  seed gives the same sequence in every process and Python version, so every strategy of a cell fetches the
  identical URLs, and every body is still verified (it is a function of id and size);
- the ideal round time is computed here, once, for every workload, from the per-request service times
  (``ideal_seconds``): efficiency (``bench.record.rows``), the cost model's waiting and cap bounds
  (``bench.analysis.costs``) and the charts' ideal lines all come from it;
- pure functions; no I/O.
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from local_server.pacing import bytes_per_second

_NORMAL = NormalDist()
_Z99 = _NORMAL.inv_cdf(0.99)


@dataclass(frozen=True)
class LogNormal:
    """A log-normal given by its median and 99th percentile, drawn as integers clipped to [low, high]."""

    median: int
    p99: int
    low: int
    high: int

    @property
    def sigma(self) -> float:
        return math.log(self.p99 / self.median) / _Z99

    def value(self, u: float) -> int:
        """The value at quantile ``u`` (0 < u < 1), rounded and clipped."""
        return min(self.high, max(self.low, round(self.median * math.exp(self.sigma * _NORMAL.inv_cdf(u)))))


#: The web workload's delay per request, ms: median 100 ms (a server a continent away, or a quick API) and
#: p99 1 s (the slow back-end call every page has), σ ≈ 0.99. Clipped to [1, 5000]: every request waits,
#: and none comes near the client's 10 s timeout (``strategies.workload``), so a healthy run has no errors;
#: the clip touches about 1 draw in 26,000 (seed 1's longest of 10,000 is 2960 ms).
WEB_DELAY_MS = LogNormal(median=100, p99=1000, low=1, high=5000)
#: Its body size, bytes: median 16 KiB (an API answer, a small script or image), p99 256 KiB (a large image
#: or bundle), σ ≈ 1.19; clipped to [1 KiB, 1 MiB], far within the server's 64 MiB: 1 KiB is the
#: distribution's p1 (1 % of the draws are raised to it: no web answer is smaller than its headers' worth),
#: and 1 draw in 4,000 is lowered to 1 MiB.
WEB_SIZE = LogNormal(median=16 * 1024, p99=256 * 1024, low=1024, high=1024 * 1024)
#: The web workload's default seed; recorded in every web row (``seed``).
WEB_SEED = 1


def uniform(seed: int, stream: str, request_id: int) -> float:
    """A uniform number in (0, 1), a pure function of its arguments (64 bits of BLAKE2b; never 0 or 1)."""
    digest = hashlib.blake2b(f"{seed}:{stream}:{request_id}".encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big") + 0.5) / 2**64


def web_request(seed: int, request_id: int) -> tuple[int, int]:
    """(delay_ms, size) of web request ``request_id`` under ``seed``: independent draws (two streams)."""
    return WEB_DELAY_MS.value(uniform(seed, "delay", request_id)), WEB_SIZE.value(uniform(seed, "size", request_id))


@functools.lru_cache(maxsize=64)
def web_requests(seed: int, requests: int) -> tuple[tuple[int, int], ...]:
    """(delay_ms, size) of ids 0..requests-1; cached, since the report asks for each row's several times."""
    return tuple(web_request(seed, k) for k in range(requests))


def web_paths(seed: int, requests: int, rate_kbps: int = 0) -> tuple[str, ...]:
    """The web workload's ``/work`` paths (relative, for ``strategies.workload.Workload.paths``)."""
    pace = f"&rate_kbps={rate_kbps}" if rate_kbps else ""
    return tuple(f"work?delay_ms={delay}&size={size}{pace}&id={k}"
                 for k, (delay, size) in enumerate(web_requests(seed, requests)))


def transfer_seconds(size: int, rate_kbps: int) -> float:
    """A body's least time on a paced link (``local_server.pacing``); 0 when unpaced."""
    return size / bytes_per_second(rate_kbps) if rate_kbps else 0.0


def service_seconds(requests: int, delay_ms: int, size: int, rate_kbps: int = 0,
                    seed: int | None = None) -> list[float]:
    """Each request's least time in the server: its delay plus its body's transfer when paced. With a
    ``seed``, delay and size are the web draws of each id; else every request has ``delay_ms`` and ``size``."""
    if seed is None:
        return [delay_ms / 1000 + transfer_seconds(size, rate_kbps)] * requests
    return [d / 1000 + transfer_seconds(s, rate_kbps) for d, s in web_requests(seed, requests)]


def ideal_seconds(service_s: Sequence[float], concurrency: int) -> float:
    """The least time a round can take: its requests admitted in id order into ``concurrency`` slots, each
    starting the moment a slot frees and costing its service time and nothing else (no client, server or
    network time). With every request alike it is ⌈N/C⌉ × d.

    Why in-order list scheduling: every strategy hands its requests to at most C workers, tasks or
    connections in id order (an executor's queue, a semaphore's FIFO, a pool's map), so request k cannot
    start before the k-th start of this greedy schedule, and the round cannot end before its makespan.
    It is never below the bound any order must respect, max(longest request, total / C), and exceeds it when
    a long request is admitted late and finishes alone.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    slots = [0.0] * min(concurrency, len(service_s))  # when each slot is next free
    for seconds in service_s:
        heapq.heapreplace(slots, slots[0] + seconds)
    return max(slots, default=0.0)


def row_service_seconds(row: Mapping[str, Any]) -> list[float]:
    """``service_seconds`` of a results row: its N, delay, size, and its ``rate_kbps`` and ``seed`` if any."""
    return service_seconds(row["requests"], row.get("delay_ms") or 0, row.get("size") or 0,
                           row.get("rate_kbps") or 0, row.get("seed"))


def row_ideal_s(row: Mapping[str, Any], slots: int | None = None) -> float | None:
    """The ideal of a row's round at its C (or at ``slots``); None when no request waits (no delay, no pace):
    then the round is all client and server work, and no ideal says anything."""
    service = row_service_seconds(row)
    if not any(service):
        return None
    return ideal_seconds(service, slots or row["concurrency"])
