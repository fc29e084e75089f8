"""processes: ``ProcessPoolExecutor(C)`` + requests, one Session per child process.

Knobs, all explicit:
- start method ``forkserver``: ``fork`` from this worker is unsafe once it has threads (the executor's own
  management thread; Python 3.12 warns about it), and ``spawn`` would re-import requests in every child.
  The fork server preloads this module (hence requests), so each child is a cheap fork of an interpreter
  that already has everything imported, and shares those pages copy-on-write;
- all C children are started and initialised in ``start`` (outside the timed region): each waits at a
  barrier until C of them exist, which forces the executor to start every one of them now rather than one
  per ``submit`` during the first round;
- each child has a module-global Session with a pool of one connection (it does one request at a time):
  reused under ``keepalive``, a fresh connection per request under ``close``;
- C is capped at ``strategies.PROCESSES_MAX``: one interpreter per request slot costs tens of MB each;
- ``started`` is taken in the child, when the request is issued, not when it is queued.

as-written: ``ProcessPoolExecutor(C)`` + ``requests.get(url)`` per task, in the child. Defaults kept:
requests makes a Session per call, so every request opens and closes its own connection; the C children
are the only cap, and they are still started in ``start``.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from strategies._requests import Requester
from strategies.base import ClientConfig, Outcome

#: How long a child waits at the start-up barrier for its C siblings. Starting 100 forked children takes
#: a few seconds on a loaded 2-core machine; past this, start() fails instead of hanging.
WARM_TIMEOUT_S = 120.0

# Per child process: set by _init_child, used by _request_in_child.
_request: Requester | None = None


def _init_child(config: ClientConfig, barrier: Any) -> None:
    global _request
    _request = Requester(config, pool_size=1)
    barrier.wait(WARM_TIMEOUT_S)


def _request_in_child(url: str) -> Outcome:
    assert _request is not None
    return _request(url)


def _ready() -> bool:
    return _request is not None


class ProcessesFetcher:
    def __init__(self, config: ClientConfig):
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        barrier = context.Barrier(config.concurrency)
        self._pool = ProcessPoolExecutor(
            config.concurrency, mp_context=context, initializer=_init_child, initargs=(config, barrier),
        )
        warm = [self._pool.submit(_ready) for _ in range(config.concurrency)]
        if not all(future.result() for future in warm):
            raise RuntimeError("a child process did not initialise its Requester")

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


def start(config: ClientConfig) -> ProcessesFetcher:
    return ProcessesFetcher(config)
