"""threads: ``ThreadPoolExecutor(C)`` + requests, one shared Session, results through futures.

Knobs, all explicit:
- C threads, all started in ``start`` (outside the timed region): the executor otherwise starts them one
  per ``submit`` during the first round;
- one Session shared by the C threads, its urllib3 pool sized to C and blocking (``strategies._requests``):
  at most C connections, each reused under ``keepalive``;
- ``started`` is taken in the thread, when the request is issued, not when it is queued.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from strategies._requests import new_session, request
from strategies.base import ClientConfig, Outcome

#: How long start() waits for its C threads to exist: thread creation takes microseconds; this only
#: guards against a machine so loaded that something is badly wrong.
WARM_TIMEOUT_S = 60.0


class ThreadsFetcher:
    def __init__(self, config: ClientConfig):
        self._config = config
        self._session = new_session(config, pool_size=config.concurrency)
        self._pool = ThreadPoolExecutor(config.concurrency, thread_name_prefix="concbench")
        barrier = threading.Barrier(config.concurrency)
        # Each task blocks until C tasks run at once, which forces the executor to start all C threads.
        warm = [self._pool.submit(barrier.wait, WARM_TIMEOUT_S) for _ in range(config.concurrency)]
        for future in warm:
            future.result()

    def fetch(self, urls: Sequence[str]) -> list[Outcome]:
        futures = [self._pool.submit(request, self._session, self._config, url) for url in urls]
        return [future.result() for future in futures]

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._session.close()


def start(config: ClientConfig) -> ThreadsFetcher:
    return ThreadsFetcher(config)
