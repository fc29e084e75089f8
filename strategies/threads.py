"""threads: ``ThreadPoolExecutor(C)`` + requests, one shared Session, results through futures.

The model (C threads started in setup, ``started`` taken in the thread) is ``strategies._threads``; the
stack is ``strategies._requests``: one Session shared by the C threads, its urllib3 pool sized to C and
blocking, so at most C connections, each reused under ``keepalive``.

as-written: ``ThreadPoolExecutor(10)`` + ``requests.get(url)`` per task, C being the pool size the recipe
writes. Defaults kept: requests makes a Session per call, so every request opens and closes its own
connection, and no urllib3 pool is shared (its ``pool_maxsize=10`` never binds); the executor's C threads
are the only cap, and they are still started in ``start``.
"""

from __future__ import annotations

from strategies._requests import Requester
from strategies._threads import ThreadsFetcher
from strategies.base import ClientConfig


def start(config: ClientConfig) -> ThreadsFetcher:
    return ThreadsFetcher(config, Requester)
