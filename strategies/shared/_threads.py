"""The threads model: C threads started in setup, each pulling the round's next URL, one stack between them.

``threads`` (requests) and ``threads-raw`` (our codec) are this model with their stack: diff the two modules
and only the stack differs.

Knobs, all explicit:
- C threads, all started in construction (outside the timed region) and handed every round: a round
  starts them through a barrier and waits for them at another, so no thread is started, and no request is
  handed over (no future, no queue, no wake-up per request), inside a round. Each thread takes the round's
  next URL when its last request is done (``strategies.shared._rounds``), as a pool's workers would; each with a
  ``THREAD_STACK_BYTES`` stack, not the default 8 MiB;
- the stack gives each thread the callable it makes its requests with (``strategies.base.Stack``): one
  Session shared by the C threads for requests (its pool of C, reused under ``keepalive``), a connection of
  each thread's own for our codec;
- ``started`` is taken in the thread (by the stack), when the request is issued.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from strategies.base import ClientConfig, NewStack, Outcome
from strategies.shared._rounds import Round, drain

#: How long construction waits for its C threads to exist: thread creation takes microseconds; this only
#: guards against a machine so loaded that something is badly wrong.
WARM_TIMEOUT_S = 60.0
#: Each thread's stack. The default is RLIMIT_STACK (8 MiB): 78 GiB of address space reserved at
#: C=10 000, which a ``ulimit -v`` or strict overcommit refuses, of which a thread touches a few pages. 256 KiB
#: holds requests -> urllib3 -> http.client -> socket and glibc's getaddrinfo (whose resolver may use tens of
#: KiB of stack) with room to spare; 64 KiB would be within reach of the latter. RSS is what a thread touches,
#: so the figures do not move: threads-raw at C=10 000 peaked at 266.6 MiB with it, 266.3 MiB with 8 MiB.
THREAD_STACK_BYTES = 256 * 1024


class ThreadsFetcher:
    def __init__(self, config: ClientConfig, new_stack: NewStack):
        self._stack = new_stack(config, config.concurrency)
        self._round: Round | None = None
        # The C threads and this one meet at ``_start`` to begin a round and at ``_done`` when it is over.
        self._start = threading.Barrier(config.concurrency + 1)
        self._done = threading.Barrier(config.concurrency + 1)
        self._threads = started_threads(config.concurrency, self._work, self._stack.worker)

    def fetch(self, urls: Sequence[str]) -> list[Outcome]:
        self._stack.begin_round()
        self._round = round_ = Round(urls)
        self._start.wait()
        self._done.wait()
        self._round = None
        return round_.outcomes()

    def _work(self, request: Callable[[str], Outcome]) -> None:
        while True:
            self._start.wait()
            round_ = self._round
            if round_ is None:  # close
                return
            try:
                drain(round_.source, round_.slots, request)
            except BaseException:  # noqa: BLE001 - a stack's bug: its slots stay empty (errors), the thread lives on
                traceback.print_exc()
            self._done.wait()

    def close(self) -> None:
        self._round = None
        self._start.wait(WARM_TIMEOUT_S)
        for thread in self._threads:
            thread.join(WARM_TIMEOUT_S)
        self._stack.close()


def started_threads(count: int, target: Callable[[Callable[[str], Outcome]], None],
                    worker: Callable[[], Callable[[str], Outcome]]) -> list[threading.Thread]:
    """``count`` daemon threads running ``target(worker())``, each made with a ``THREAD_STACK_BYTES`` stack."""
    previous = threading.stack_size(THREAD_STACK_BYTES)  # for the threads made below
    try:
        threads = [threading.Thread(target=target, args=(worker(),), name=f"concbench-{k}", daemon=True)
                   for k in range(count)]
        for thread in threads:
            thread.start()
    finally:
        threading.stack_size(previous)
    return threads


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
