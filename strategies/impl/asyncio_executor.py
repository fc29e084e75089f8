"""asyncio-executor: asyncio + requests, ``await loop.run_in_executor(executor, request, url)`` per URL.

Knobs, all explicit:
- C admission tasks cap requests in flight, each taking the next URL when its request is done
  (``strategies.shared._aio``);
- an explicit ``ThreadPoolExecutor(C)``, all C threads started in ``start`` (outside the timed region, as
  ``threads`` does): the loop's default executor would cap C at its own size (below) and start its
  threads one per call during the first round;
- one Session shared by the C threads, its urllib3 pool sized to C and blocking (``strategies.shared._requests``);
- latency runs from admission to when the loop has the outcome back: the hop to a thread, the wait in the
  executor's queue (the contract counts time queued in the library) and the hop back to the loop;
- a queue timeout, as tornado has one: requests bounds only its own connect and reads, so a request could
  otherwise wait in the executor's queue without limit. A thread that takes a request more than
  ``timeout_s`` after its admission fails it unsent (``TimeoutError``) and moves on, so a starved executor
  shows as errors in the row, and a round ends about ``timeout_s`` after the queue stopped moving.

Over https: tuned, the Session's one context (``strategies.tls.client_context``), made in ``start``;
as-written, ``requests.get(url, verify=CA)``, a context per request made inside requests, as the recipe has it
(``strategies.shared._requests``).

as-written: the recipe ``await loop.run_in_executor(None, requests.get, url)``. Defaults kept:
- ``None``: the loop's default executor, made on first use (in the first round) as
  ``ThreadPoolExecutor()``: ``min(32, os.cpu_count() + 4)`` threads, 6 on 2 cores (5 x cpus before
  Python 3.8; ``os.process_cpu_count()`` from 3.13, so there an affinity mask lowers it). The admission
  tasks hand it C requests, but only that many are in flight; the rest wait in its queue, inside their
  latency;
- ``requests.get``: a Session per call, so every request opens and closes its own connection
  (``strategies.shared._requests.RequestsStack``);
- ``close`` joins the default executor's threads (``loop.shutdown_default_executor``): ``loop.close()``
  alone only tells them to stop.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from strategies.base import ClientConfig, Outcome
from strategies.shared._aio import LoopRunner
from strategies.shared._requests import RequestsStack
from strategies.shared._threads import started_executor


class ExecutorFetcher:
    def __init__(self, config: ClientConfig):
        self._runner = LoopRunner(config.concurrency)
        self._timeout_s = config.timeout_s
        self._request = RequestsStack(config, pool_size=config.concurrency)
        self._executor: ThreadPoolExecutor | None = None  # None: the loop's default executor
        if not config.as_written:
            self._executor = started_executor(config.concurrency)

    def fetch(self, urls: Sequence[str]) -> list[Outcome]:
        return self._runner.fetch(urls, self._in_executor)

    async def _in_executor(self, url: str, started: float) -> Outcome:
        outcome = await self._runner.loop.run_in_executor(self._executor, self._unless_overdue, url, started)
        outcome.latency_s = time.perf_counter() - started  # the thread timed only its own part
        return outcome

    def _unless_overdue(self, url: str, started: float) -> Outcome:
        """In the thread: the request, unless it waited in the queue past its timeout."""
        waited = time.perf_counter() - started
        if waited > self._timeout_s:
            return Outcome.failed(f"TimeoutError: {waited:.1f} s in the executor's queue, never sent", started)
        return self._request(url)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
        self._request.close()
        self._runner.run(self._runner.loop.shutdown_default_executor())  # no-op when it was never made
        self._runner.close()


def start(config: ClientConfig) -> ExecutorFetcher:
    return ExecutorFetcher(config)
