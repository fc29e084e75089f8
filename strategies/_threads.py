"""The threads model: ``ThreadPoolExecutor(C)``, one shared stack called in its threads, results through futures.

``threads`` (requests) and ``threads-raw`` (our codec) are this model with their stack: diff the two modules
and only the stack differs.

Knobs, all explicit:
- C threads, all started in construction (outside the timed region): the executor otherwise starts them one
  per ``submit`` during the first round; each with a ``THREAD_STACK_BYTES`` stack, not the default 8 MiB;
- one stack shared by the C threads, allowed C connections: each reused under ``keepalive``;
- ``started`` is taken in the thread (by the stack), when the request is issued, not when it is queued.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from strategies.base import ClientConfig, NewStack, Outcome

#: How long construction waits for its C threads to exist: thread creation takes microseconds; this only
#: guards against a machine so loaded that something is badly wrong.
WARM_TIMEOUT_S = 60.0
#: Each pool thread's stack. The default is RLIMIT_STACK (8 MiB): 78 GiB of address space reserved at
#: C=10 000, which a ``ulimit -v`` or strict overcommit refuses, of which a thread touches a few pages. 256 KiB
#: holds requests -> urllib3 -> http.client -> socket and glibc's getaddrinfo (whose resolver may use tens of
#: KiB of stack) with room to spare; 64 KiB would be within reach of the latter. RSS is what a thread touches,
#: so the figures do not move: threads-raw at C=10 000 peaked at 266.6 MiB with it, 266.3 MiB with 8 MiB.
THREAD_STACK_BYTES = 256 * 1024


class ThreadsFetcher:
    def __init__(self, config: ClientConfig, new_stack: NewStack):
        self._request = new_stack(config, config.concurrency)
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
    previous = threading.stack_size(THREAD_STACK_BYTES)  # for the threads made below, by submit
    try:
        for future in [executor.submit(barrier.wait, WARM_TIMEOUT_S) for _ in range(threads)]:
            future.result()
    finally:
        threading.stack_size(previous)
    return executor
