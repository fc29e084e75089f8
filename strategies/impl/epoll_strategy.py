"""epoll: the ``select`` strategy, line for line, with the client on ``select.epoll`` instead of ``select.select``.

Only the multiplexer differs (``strategies.impl.select_strategy.SelectFetcher`` with ``backend="epoll"``, the
server's own ``local_server.backends.EpollBackend``): the same ``SelectClient``, the same sans-IO HTTP, the
same cap of C sockets and per-request deadline. ``select.select`` copies and scans every watched descriptor
on each loop turn and cannot watch one >= FD_SETSIZE (1024), so ``select`` stops at C=1000; epoll keeps the
interest list in the kernel and reports only what is ready, so ``epoll`` has no cap of its own, only the
process's RLIMIT_NOFILE (the worker raises its soft limit for C: ``local_server.fdlimit``). ``epoll`` against
``select`` is the multiplexer's cost per request, and whether it grows with C.

``features``: the model ladder's rungs, as for ``select``.

as-written: the same code, as for ``select``: the client is ours.
"""

from __future__ import annotations

from strategies.base import ClientConfig
from strategies.impl.select_strategy import SelectFetcher
from strategies.shared._codec import FULL, Features


def start(config: ClientConfig, features: Features = FULL) -> SelectFetcher:
    return SelectFetcher(config, backend="epoll", features=features)
