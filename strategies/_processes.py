"""The processes model: ``ProcessPoolExecutor(C)``, one stack per child process, results through futures.

``processes`` (requests) and ``processes-raw`` (our codec) are this model with their stack: diff the two
modules and only the stack differs.

Knobs, all explicit:
- start method ``forkserver``: ``fork`` from the worker is unsafe once it has threads (the executor's own
  management thread; Python 3.12 warns about it), and ``spawn`` would re-import the stack in every child.
  The fork server preloads this module and the stack's (hence requests, or httptools), so each child is a
  cheap fork of an interpreter that already has everything imported, and shares those pages copy-on-write;
- all C children are started and initialised in construction (outside the timed region): each waits at a
  barrier until C of them exist, which forces the executor to start every one of them now rather than one
  per ``submit`` during the first round;
- each child has a module-global stack allowed one connection (it does one request at a time): reused
  under ``keepalive``, a fresh connection per request under ``close``; C connections in all;
- C is capped at ``strategies.PROCESSES_MAX`` (the registry's ``max_concurrency``): one interpreter per
  request slot costs tens of MB each;
- ``started`` is taken in the child (by the stack), when the request is issued, not when it is queued.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from strategies.base import ClientConfig, NewStack, Outcome, Stack

#: How long a child waits at the start-up barrier for its C siblings. Starting 100 forked children takes
#: a few seconds on a loaded 2-core machine; past this, construction fails instead of hanging.
WARM_TIMEOUT_S = 120.0

# Per child process: set by _init_child, used by _request_in_child.
_request: Stack | None = None


def _init_child(config: ClientConfig, new_stack: NewStack, barrier: Any) -> None:
    global _request
    _request = new_stack(config, 1)
    barrier.wait(WARM_TIMEOUT_S)


def _request_in_child(url: str) -> Outcome:
    assert _request is not None
    return _request(url)


def _ready() -> bool:
    return _request is not None


class ProcessesFetcher:
    def __init__(self, config: ClientConfig, new_stack: NewStack):
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__, new_stack.__module__])
        barrier = context.Barrier(config.concurrency)
        self._pool = ProcessPoolExecutor(
            config.concurrency, mp_context=context, initializer=_init_child,
            initargs=(config, new_stack, barrier),
        )
        warm = [self._pool.submit(_ready) for _ in range(config.concurrency)]
        if not all(future.result() for future in warm):
            raise RuntimeError("a child process did not initialise its stack")

    def fetch(self, urls: Sequence[str]) -> list[Outcome]:
        futures = [self._pool.submit(_request_in_child, url) for url in urls]
        return [_result(future) for future in futures]

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _result(future: Future[Outcome]) -> Outcome:
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - a child died (BrokenProcessPool): this slot's error, not fetch's exception
        return Outcome(None, None, f"{type(exc).__name__}: {exc}", 0.0)
