"""asyncio-executor (2017): asyncio + requests 2.18.4 through ``loop.run_in_executor``, on Python 3.6; today's
``strategies/impl/asyncio_executor.py`` on the old interpreter.

As today: C admission tasks (``_aio``); latency from admission to the outcome back on the loop; a thread that
takes a request more than ``timeout_s`` after its admission fails it unsent (the queue's timeout). tuned: an
explicit ``ThreadPoolExecutor(C)``, all C threads started in ``start``, one Session sized to C. as-written:
``await loop.run_in_executor(None, requests.get, url)``.

What differs, as the 2017 interpreter does it: the loop's default executor is ``ThreadPoolExecutor()``, and
Python 3.6 sizes it ``os.cpu_count() * 5`` (10 on 2 cores, whatever the affinity mask; 3.8 made it
``min(32, cpus + 4)``): at most that many requests in flight as written. 3.6 has no
``loop.shutdown_default_executor``: ``close`` shuts the default executor down and joins its threads itself.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import _outcome
from _aio import LoopRunner
from _requests import Requester

#: How long ``start`` waits for its C threads to exist: only a badly broken machine comes near it.
WARM_TIMEOUT_S = 60.0


class ExecutorFetcher:
    def __init__(self, config):
        self._runner = LoopRunner(config.concurrency)
        self._timeout_s = config.timeout_s
        self._request = Requester(config, pool_size=config.concurrency)
        self._executor = None if config.as_written else _started_executor(config.concurrency)

    def fetch(self, urls):
        return self._runner.fetch(urls, self._in_executor)

    async def _in_executor(self, url, started):
        outcome = await self._runner.loop.run_in_executor(self._executor, self._unless_overdue, url, started)
        outcome.latency_s = time.perf_counter() - started  # the thread timed only its own part
        return outcome

    def _unless_overdue(self, url, started):
        waited = time.perf_counter() - started
        if waited > self._timeout_s:
            return _outcome.failed(f"TimeoutError: {waited:.1f} s in the executor's queue, never sent", started)
        return self._request(url)

    def close(self):
        # The default executor, when the first round made it (a private attribute: 3.6 has no public way).
        executors = [self._executor, getattr(self._runner.loop, "_default_executor", None)]
        for executor in executors:
            if executor is not None:
                executor.shutdown(wait=True)
        self._request.close()
        self._runner.close()


def _started_executor(threads):
    executor = ThreadPoolExecutor(threads, thread_name_prefix="concbench")
    barrier = threading.Barrier(threads)
    for future in [executor.submit(barrier.wait, WARM_TIMEOUT_S) for _ in range(threads)]:
        future.result()
    return executor


def start(config):
    return ExecutorFetcher(config)
