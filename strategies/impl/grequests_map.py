"""grequests: ``grequests.map(requests, size=C)``, gevent greenlets + requests, one shared Session.

Knobs, all explicit:
- ``monkey.patch_all()`` is the module's first statement, as in ``gevent_requests``, so both gevent
  strategies run on the same patching. Importing grequests patches on its own, with ``thread=False,
  select=False``: threading's locks and ``threading.local`` stay real (a real lock held across I/O would stall
  every greenlet). requests holds none across I/O, and since gevent 25.4.1 ``patch_queue`` makes urllib3's pool
  queue cooperative without ``thread`` (before, a wait on a blocking pool stalled the process). After ours,
  grequests' narrower call patches nothing more and only warns that patching twice patches the union: that
  warning is silenced at the import;
- ``grequests.map(..., size=C)``: the ``Pool(C)`` it makes is the admission, never more than C greenlets
  sending at once;
- every AsyncRequest gets the one Session (``session=``), its urllib3 pool sized to C and blocking, the close
  policy as for ``gevent`` (``strategies.shared._requests.new_session``); grequests closes only Sessions it made;
- ``exception_handler`` returns the exception, so a failed slot holds it rather than grequests' ``None``;
- latency: grequests keeps no start time and ``map`` returns only when the whole list is done, so
  ``_TimedRequest`` (an AsyncRequest whose ``send`` is timed) measures from when its greenlet issues the
  request to when the body is in (without ``stream=True`` requests reads it inside ``send``; as-written,
  ``send`` also closes the request's own Session, microseconds). requests' ``Response.elapsed`` and a
  response hook both stop at the headers, and a failed request has neither.

as-written: the tutorial's ``grequests.map([grequests.get(url) for url in urls])``. Defaults kept:
- ``size=None``: no pool; ``map`` spawns every request it is given at once. ``fetch`` gives it C at a time,
  in successive batches (waves of C, not a sliding window). With the benchmark's constant server delay all
  requests of a wave finish together, so a wave costs what a sliding window would; with uneven delays the
  slowest request of each wave would hold the next one back;
- no ``session=``: each AsyncRequest makes its own Session when it is built (in ``fetch``, before ``map``,
  so outside its latency) and closes it after its send: a new connection per request, none pooled;
- only the workload's timeout, the form header for POST and the ``exception_handler`` (which changes what a
  failed slot holds, not what is sent) are added to the recipe; over https, ``verify=CA``, the recipe's own
  way, so each request's Session has urllib3 make a context and load the CA for its connection.

https, tuned: the Session's one context, made in ``start`` (``strategies.shared._requests``).
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import time
import warnings
from collections.abc import Sequence
from typing import Any

import requests

from strategies.base import ClientConfig, Outcome
from strategies.shared._requests import FORM_HEADERS, as_written_tls, new_session

with warnings.catch_warnings():
    warnings.simplefilter("ignore", monkey.MonkeyPatchWarning)
    import grequests


class _TimedRequest(grequests.AsyncRequest):
    """``grequests.request(method, url, **kwargs)``, plus how long its ``send`` took."""

    latency_s = 0.0

    def send(self, **kwargs: Any) -> _TimedRequest:
        started = time.perf_counter()
        try:
            return super().send(**kwargs)
        finally:
            self.latency_s = time.perf_counter() - started


def _keep_exception(request: _TimedRequest, exception: BaseException | None) -> BaseException | str:
    """``exception_handler``: its return value fills the failed slot. grequests passes ``None`` only when
    the greenlet ended with neither a response nor an Exception (killed, or a BaseException)."""
    return exception if exception is not None else "NoResponse: the request's greenlet ended without one"


def _outcome(request: _TimedRequest, result: requests.Response | BaseException | str) -> Outcome:
    if isinstance(result, requests.Response):
        outcome = Outcome.ok(result.status_code, result.content, 0.0)
    else:
        outcome = Outcome.failed(result, 0.0)
    outcome.latency_s = request.latency_s  # map returns after the whole batch: the send's own time
    return outcome


class GrequestsFetcher:
    def __init__(self, config: ClientConfig):
        self._config = config
        self._session: requests.Session | None = None
        if config.as_written:
            self._kwargs: dict[str, Any] = {"headers": FORM_HEADERS} if config.method == "POST" else {}
            self._kwargs.update(as_written_tls(config))
        else:
            self._session = new_session(config, pool_size=config.concurrency)
            self._kwargs = {"session": self._session}

    def fetch(self, urls: Sequence[str]) -> list[Outcome]:
        concurrency = self._config.concurrency
        # as-written: waves of C, each spawned at once; tuned: the whole list through map's Pool(C).
        batch, size = (concurrency, None) if self._config.as_written else (max(len(urls), 1), concurrency)
        outcomes: list[Outcome] = []
        for first in range(0, len(urls), batch):
            sends = [
                _TimedRequest(self._config.method, url, data=self._config.body or None,
                              timeout=self._config.timeout_s, **self._kwargs)
                for url in urls[first:first + batch]
            ]
            results = grequests.map(sends, size=size, exception_handler=_keep_exception)
            outcomes += map(_outcome, sends, results)
        return outcomes

    def close(self) -> None:
        if self._session is not None:
            self._session.close()


def start(config: ClientConfig) -> GrequestsFetcher:
    return GrequestsFetcher(config)
