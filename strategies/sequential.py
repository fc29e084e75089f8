"""sequential: the baseline. One requests.Session, one blocking request after another (C is 1).

The Session holds one connection: with ``keepalive`` every request reuses it, with ``close`` each request
opens its own (see ``strategies._requests``).
"""

from __future__ import annotations

from collections.abc import Sequence

from strategies._requests import new_session, request
from strategies.base import ClientConfig, Outcome


class SequentialFetcher:
    def __init__(self, config: ClientConfig):
        if config.concurrency != 1:
            raise ValueError(f"sequential is C=1 by definition, got C={config.concurrency}")
        self._config = config
        self._session = new_session(config, pool_size=1)

    def fetch(self, urls: Sequence[str]) -> list[Outcome]:
        return [request(self._session, self._config, url) for url in urls]

    def close(self) -> None:
        self._session.close()


def start(config: ClientConfig) -> SequentialFetcher:
    return SequentialFetcher(config)
