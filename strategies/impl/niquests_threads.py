"""niquests: C threads started in setup + niquests (requests' API on urllib3-future), one shared Session.

The model is ``strategies.shared._threads``, the one ``threads`` (requests) and ``threads-raw`` run: diff this module
with ``strategies.impl.threads`` and only the stack differs. The stack is one ``niquests.Session`` shared by the
C threads, its pool sized to C (``strategies.shared._niquests``: why, and every knob).

as-written: the README's ``niquests.get(url, timeout=...)`` in each of the C threads (the harness's C
threads, as ``threads``' recipe). Defaults kept: ``niquests.get`` makes a Session per call and closes it after
("This does not keep the connection alive"), so every request opens its own connection and the default
``pool_maxsize=10`` never binds: the C threads are the only cap. The other common recipe, one default
``Session()`` shared by every thread, keeps connections alive (a keep-alive recipe, which as-written does
not run: ``strategies.base.AS_WRITTEN_KEEPALIVE_REASON``) and would cap the round at **10 in flight**
(``pool_maxsize=10``; measured peak 10 at C=50). Only the default timeout is replaced, by ``timeout_s``;
``trust_env`` stays True.
"""

from __future__ import annotations

import time
from typing import Any

import niquests

from strategies.base import ClientConfig, Outcome
from strategies.shared._niquests import new_session, send_kwargs
from strategies.shared._threads import ThreadsFetcher


class NiquestsStack:
    """``strategies.base.Stack`` for the threads model: tuned, one Session of ``pool_size`` connections that
    every worker calls; as-written, ``niquests.request`` per call."""

    def __init__(self, config: ClientConfig, pool_size: int):
        self._session = None if config.as_written else new_session(pool_size)
        self._send: Any = niquests.request if self._session is None else self._session.request
        self._method = config.method
        self._kwargs = send_kwargs(config)

    def __call__(self, url: str) -> Outcome:
        started = time.perf_counter()
        try:
            response = self._send(self._method, url, **self._kwargs)
            return Outcome.ok(response.status_code, response.content, started)
        except Exception as exc:  # noqa: BLE001 - every failure is this slot's outcome, never fetch's exception
            return Outcome.failed(exc, started)

    def worker(self) -> NiquestsStack:
        """Every worker calls the one stack: its Session's pool is shared by all, as the recipe shares it."""
        return self

    def begin_round(self) -> None:
        pass

    def close(self) -> None:
        if self._session is not None:
            self._session.close()


def start(config: ClientConfig) -> ThreadsFetcher:
    return ThreadsFetcher(config, NiquestsStack)
