"""select: the ``SelectClient`` library (``strategies.select_client``) as a benchmark strategy.

One ``SelectClient`` with ``max_connections=C``: its one cap is the C the harness asks for; keep-alive as
the policy says; the workload's timeout as its per-request deadline. Outcomes come from each request's
``result`` and ``elapsed_s`` after ``run()``. ``SelectFetcher``'s ``backend`` is the client's multiplexer:
``select`` here, ``epoll`` for the ``epoll`` strategy (``strategies.epoll_strategy``).

as-written is the same: the client is ours, so there is no library default to keep.
"""

from __future__ import annotations

from collections.abc import Sequence

from strategies.base import ClientConfig, Outcome
from strategies.http1 import split_url
from strategies.select_client import RequestHandle, Response, SelectClient


class SelectFetcher:
    def __init__(self, config: ClientConfig, backend: str = "select"):
        self._config = config
        self._client = SelectClient(config.concurrency, config.timeout_s, keepalive=config.policy == "keepalive",
                                    backend=backend)

    def fetch(self, urls: Sequence[str]) -> list[Outcome]:
        requests = []
        for url in urls:
            host, port, target = split_url(url)
            requests.append(self._client.add_request(
                host, port, target, method=self._config.method, body=self._config.body))
        self._client.run()
        return [_outcome(request) for request in requests]

    def close(self) -> None:
        self._client.close()


def _outcome(request: RequestHandle) -> Outcome:
    result = request.result
    if isinstance(result, Response):
        return Outcome(result.status, result.body, None, request.elapsed_s)
    message = result.message if result is not None else "RuntimeError: request never ran"
    return Outcome(None, None, message, request.elapsed_s)


def start(config: ClientConfig) -> SelectFetcher:
    return SelectFetcher(config)
