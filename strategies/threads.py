"""threads: ``ThreadPoolExecutor(C)`` + requests, one shared Session, results through futures.

Knobs, all explicit:
- C threads, all started in ``start`` (outside the timed region): the executor otherwise starts them one
  per ``submit`` during the first round;
- one Session shared by the C threads, its urllib3 pool sized to C and blocking (``strategies._requests``):
  at most C connections, each reused under ``keepalive``;
- ``started`` is taken in the thread, when the request is issued, not when it is queued.

as-written: ``ThreadPoolExecutor(10)`` + ``requests.get(url)`` per task, C being the pool size the recipe
writes. Defaults kept: requests makes a Session per call, so every request opens and closes its own
connection, and no urllib3 pool is shared (its ``pool_maxsize=10`` never binds); the executor's C threads
are the only cap, and they are still started in ``start``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from strategies._requests import Requester
from strategies.base import ClientConfig, Outcome

#: How long start() waits for its C threads to exist: thread creation takes microseconds; this only
#: guards against a machine so loaded that something is badly wrong.
WARM_TIMEOUT_S = 60.0


class ThreadsFetcher:
    def __init__(self, config: ClientConfig):
        self._request = Requester(config, pool_size=config.concurrency)
        self._pool = started_executor(config.concurrency)

    def fetch(self, urls: Sequence[str]) -> list[Outcome]:
        futures = [self._pool.submit(self._request, url) for url in urls]
        return [future.result() for future in futures]

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._request.close()


def started_executor(threads: int) -> ThreadPoolExecutor:
    """A ``ThreadPoolExecutor(threads)`` whose threads all exist already (it otherwise starts one per
    ``submit``): each warm-up task blocks until ``threads`` of them run at once."""
    executor = ThreadPoolExecutor(threads, thread_name_prefix="concbench")
    barrier = threading.Barrier(threads)
    for future in [executor.submit(barrier.wait, WARM_TIMEOUT_S) for _ in range(threads)]:
        future.result()
    return executor


def start(config: ClientConfig) -> ThreadsFetcher:
    return ThreadsFetcher(config)
