"""select: the ``SelectClient`` library (``strategies.select_client``) as a benchmark strategy.

One ``SelectClient`` with ``max_connections=C``: its one cap is the C the harness asks for; its C slots take
the round's requests in order, each on at most one connection (an idle keep-alive one of the client's, or a
new one); keep-alive as the policy says; the workload's timeout as its per-request deadline (the client's
queue of deadlines, which ``strategies.shared._deadlines`` carries to the other event loops). Outcomes come from
each request's ``result`` and ``elapsed_s`` after ``run()``. ``SelectFetcher``'s ``backend`` is the client's
multiplexer: ``select`` here, ``epoll`` for the ``epoll`` strategy (``strategies.impl.epoll_strategy``).

``features`` turns the codec strategy's pieces off for the rungs of the model ladder (``strategies.shared._codec``,
``python -m bench.ladder``): the codec's request bytes go to ``add_raw_request`` and its parser to the client,
``deadline`` off is ``timeout_s=None``, ``record`` off checks each response instead of making an outcome;
the strategy is ``FULL``.

Over https the client gets ``tls=`` the context ``strategies.tls.client_context``, made once in ``start``
for both profiles (the client is ours: no recipe's way to keep); its handshakes are steps of its own loop.

as-written is the same: the client is ours, so there is no library default to keep.
"""

from __future__ import annotations

from collections.abc import Sequence

from strategies.base import ClientConfig, Outcome
from strategies.select_client import RequestError, RequestHandle, SelectClient
from strategies.shared._codec import FULL, Features, checked, new_codec
from strategies.tls import client_context


class SelectFetcher:
    def __init__(self, config: ClientConfig, backend: str = "select", features: Features = FULL):
        self._features = features
        self._codec = new_codec(config, features)
        self._client = SelectClient(config.concurrency, config.timeout_s if features.deadline else None,
                                    keepalive=config.policy == "keepalive", backend=backend,
                                    parser=self._codec.parser,
                                    tls=client_context(config) if config.tls else None)

    def fetch(self, urls: Sequence[str]) -> list[Outcome]:
        add, request = self._client.add_raw_request, self._codec.request
        requests = []
        for url in urls:
            (host, port), data = request(url)
            requests.append(add(host, port, data))
        self._client.run()
        if self._features.record:
            return [_outcome(handle) for handle in requests]
        return [_checked(self._features, handle) for handle in requests]

    def close(self) -> None:
        self._client.close()


def _outcome(request: RequestHandle) -> Outcome:
    result = request.result
    if result is None or isinstance(result, RequestError):
        if result is None:
            return Outcome(None, None, "RuntimeError: request never ran", request.elapsed_s)
        outcome = Outcome.failed(result.message, 0.0, cause=result.cause)  # a TLS failure's text marked so
        outcome.latency_s = request.elapsed_s
        return outcome
    return Outcome(result.status, result.body, None, request.elapsed_s)


def _checked(features: Features, request: RequestHandle) -> Outcome:
    result = request.result
    if result is None or isinstance(result, RequestError):
        return _outcome(request)
    return checked(features, result.status, result.body)


def start(config: ClientConfig, features: Features = FULL) -> SelectFetcher:
    return SelectFetcher(config, features=features)
