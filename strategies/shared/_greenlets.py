"""The greenlets model: C greenlets per round in a patched process, each pulling the round's next URL.

``gevent`` (requests) and ``gevent-raw`` (our codec) are this model with their stack: diff the two modules
and only the stack differs. Each of them calls ``monkey.patch_all()`` as its first statement, before it
imports this module or its stack: the worker imports the strategy module before anything else, so every
socket and lock the stack ever makes in the process is a cooperative one.

Knobs, all explicit:
- C greenlets per round (``gevent.spawn``, then ``joinall``), each taking the round's next URL when its last
  request is done (``strategies.shared._rounds``): never more than C requests in flight, and no greenlet or pool
  hand-off per request (``Pool.map`` spawned a greenlet per URL). C spawns a round cost microseconds each;
  parked greenlets woken by an event per round would cost as much;
- the stack gives each greenlet the callable it makes its requests with (``strategies.base.Stack``), made
  once in setup, so it outlives the greenlet of each round: one Session shared by the C greenlets for
  requests (its pool of C), a connection of each greenlet's own for our codec;
- ``started`` is taken in the greenlet (by the stack), when the request is issued;
- a stack that bounds its requests itself on the hub gets ``hub_deadlines``: the queue of
  ``strategies.shared._deadlines`` with its one timer on gevent's hub, which throws ``TimeoutError`` into an
  expired request's greenlet where it waits, as ``gevent.Timeout`` does, without a timer per request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gevent

from strategies.base import ClientConfig, NewStack, Outcome
from strategies.shared._deadlines import Deadlines
from strategies.shared._rounds import Round, drain


class GeventFetcher:
    def __init__(self, config: ClientConfig, new_stack: NewStack):
        self._stack = new_stack(config, config.concurrency)
        self._workers = [self._stack.worker() for _ in range(config.concurrency)]

    def fetch(self, urls: Sequence[str]) -> list[Outcome]:
        self._stack.begin_round()
        round_ = Round(urls)
        gevent.joinall([gevent.spawn(drain, round_.source, round_.slots, request)
                        for request in self._workers[:len(urls)]])
        return round_.outcomes()

    def close(self) -> None:
        self._stack.close()


class _HubTimer:
    """A timer on gevent's hub: ``callback`` runs in the hub after ``delay`` seconds, unless cancelled."""

    __slots__ = ("_timer",)

    def __init__(self, delay: float, callback: Any):
        self._timer = gevent.get_hub().loop.timer(delay)
        self._timer.start(self._run, callback)

    def _run(self, callback: Any) -> None:
        self._timer.close()
        callback()

    def cancel(self) -> None:
        self._timer.close()


def hub_deadlines(config: ClientConfig) -> Deadlines:
    """``strategies.shared._deadlines``' queue on gevent's hub: an expired request's greenlet gets ``TimeoutError``
    thrown where it waits, as ``gevent.Timeout`` throws its own."""
    return Deadlines(config.timeout_s, _HubTimer)
