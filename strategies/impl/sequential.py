"""sequential: the baseline. One requests.Session, one blocking request after another (C is 1).

The Session holds one connection: with ``keepalive`` every request reuses it, with ``close`` each request
opens its own (see ``strategies.shared._requests``).

Over https: tuned, the Session's one context (``strategies.tls.client_context``), made in ``start``;
as-written, ``requests.get(url, verify=CA)``, a context per request made inside requests, as the recipe has it
(``strategies.shared._requests``).

as-written: ``for url in urls: requests.get(url)``. Defaults kept: requests makes a Session per call and
closes it after, so every request opens and closes its own connection (the cost ``close`` already pays
here); C is 1 either way, so no default can cap it.
"""

from __future__ import annotations

from collections.abc import Sequence

from strategies.base import ClientConfig, Outcome
from strategies.shared._requests import RequestsStack


class SequentialFetcher:
    def __init__(self, config: ClientConfig):
        if config.concurrency != 1:
            raise ValueError(f"sequential is C=1 by definition, got C={config.concurrency}")
        self._request = RequestsStack(config, pool_size=1)

    def fetch(self, urls: Sequence[str]) -> list[Outcome]:
        return [self._request(url) for url in urls]

    def close(self) -> None:
        self._request.close()


def start(config: ClientConfig) -> SequentialFetcher:
    return SequentialFetcher(config)
