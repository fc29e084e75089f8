"""Total deadlines on an event loop for C workers at a time: a queue of them, and one timer for the oldest.

The codec strategies on an event loop (``asyncio``, ``uvloop``, ``tornado-raw`` on asyncio's loop;
``twisted-raw``, ``twisted``, ``treq`` on Twisted's reactor; ``gevent-raw`` on gevent's hub) bound each
request the same way as the select client bounds its own: ``timeout_s`` from when the request is issued to its last byte. Every request has the
same timeout, so deadlines come in the order requests start: a queue, not a timer per request.

Rules this module keeps:
- ``start(owner, started)`` puts the owner's request in the queue and sets ``owner.deadline`` to its entry;
  the owner sets ``owner.deadline = None`` when the request is over, which makes its entry stale. Stale
  entries at the head are dropped as requests start, so the queue holds about C of them;
- one timer is armed, for the oldest entry (``call_later(delay, callback)``, returning what ``cancel()``
  stops: the loop's own, ``loop.call_later``, ``reactor.callLater``, a timer on gevent's hub). When it fires, every live entry whose deadline has passed
  is expired (``owner.expire()``, which makes the owner fail its request with ``TimeoutError``), and it is
  armed again for the next live one. In a healthy round it fires once per ``timeout_s`` and finds nothing
  to expire;
- ``start`` and the timer run in the loop's thread, never concurrently: one owner has one request in
  flight, and the owner is inside it whenever the timer fires (waiting, since the loop runs).

Why not the loops' own per-request timeouts: the historical reason, measured on 2026-12-07 (commit 1d9bb22) with callgrind
(C=10, keep-alive, N=150, per request, each model's codec strategy on the ladder's ``codec`` rung, ``strategies.shared._codec.RUNGS``, with each candidate
swapped in by a throwaway script, against the same rung without a deadline): asyncio, this queue 3,400
instructions, ``loop.call_at`` and a task cancel per request 21,500, ``asyncio.timeout`` 40,100; Tornado's
streams, the queue 3,900-6,800, ``asyncio.timeout`` 32,400, ``tornado.gen.with_timeout`` 139,000; Twisted,
the queue 2,300, a ``reactor.callLater`` per request 15,500, ``Deferred.addTimeout`` (on a Deferred per
request to carry it) 67,000; gevent, the queue within the counts' noise of a socket timeout (callgrind's
client is too slow to ever wait, and a gevent socket starts its timer only for a wait), ``gevent.Timeout``
per request 16,000-20,000. A timer per request is a heap entry pushed and cancelled (Tornado's also a future
and a callback around the request).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol


class Owner(Protocol):
    """What has one request in flight at a time: a worker task, coroutine or protocol."""

    deadline: tuple[float, Owner] | None

    def expire(self) -> None: ...


class Deadlines:
    """The deadlines of the requests in flight, oldest first, and a timer for the oldest."""

    def __init__(self, timeout_s: float, call_later: Callable[[float, Callable[[], None]], Any]):
        self.timeout_s = timeout_s
        self._call_later = call_later
        self._queue: deque[tuple[float, Owner]] = deque()
        self._timer: Any = None

    def start(self, owner: Owner, started: float) -> None:
        """``owner``'s request, issued at ``started`` (``time.perf_counter``), must end by ``started +
        timeout_s``."""
        entry = (started + self.timeout_s, owner)
        owner.deadline = entry
        queue = self._queue
        queue.append(entry)
        while queue[0][1].deadline is not queue[0]:  # stale: that request is over (this one is live)
            queue.popleft()
        if self._timer is None:
            self._arm()

    def _arm(self) -> None:
        self._timer = self._call_later(max(0.0, self._queue[0][0] - time.perf_counter()), self._fire)

    def _fire(self) -> None:
        # ``_timer`` stays set until the end: an ``expire`` that runs its owner at once (gevent's throw into
        # a greenlet) lets it start its next request, whose ``start`` must not arm a second timer.
        now = time.perf_counter()
        queue = self._queue
        while queue:
            deadline, owner = entry = queue[0]
            if owner.deadline is not entry:
                queue.popleft()
            elif deadline <= now:
                queue.popleft()
                owner.deadline = None
                owner.expire()
            else:
                break
        self._timer = None
        if queue:
            self._arm()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._queue.clear()
