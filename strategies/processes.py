"""processes: ``ProcessPoolExecutor(C)`` + requests, one Session per child process.

The model (``forkserver`` children, all C started in setup, at most ``strategies.PROCESSES_MAX``,
``started`` taken in the child) is ``strategies._processes``; the stack is ``strategies._requests``: each
child has a Session with a pool of one connection (it does one request at a time), reused under
``keepalive``, a fresh connection per request under ``close``.

as-written: ``ProcessPoolExecutor(C)`` + ``requests.get(url)`` per task, in the child. Defaults kept:
requests makes a Session per call, so every request opens and closes its own connection; the C children
are the only cap, and they are still started in ``start``.
"""

from __future__ import annotations

from strategies._processes import ProcessesFetcher
from strategies._requests import Requester
from strategies.base import ClientConfig


def start(config: ClientConfig) -> ProcessesFetcher:
    return ProcessesFetcher(config, Requester)
