"""uvloop: the ``asyncio`` strategy's code, and only its loop changed.

The generic tests check what it fetches; this checks what it is: were ``new_loop`` lost on the way to
``LoopRunner``, ``uvloop`` would pass every other test while measuring asyncio's own loop.
"""

from __future__ import annotations

import pytest

from strategies import REGISTRY
from strategies.base import ClientConfig

pytestmark = pytest.mark.skipif(REGISTRY["uvloop"].unavailable_reason() is not None,
                                reason=REGISTRY["uvloop"].unavailable_reason() or "")


def test_the_asyncio_fetcher_on_a_uvloop_loop(server_url: str) -> None:
    import uvloop

    from strategies.impl import uvloop_streams
    from strategies.impl.asyncio_streams import AsyncioFetcher

    fetcher = uvloop_streams.start(ClientConfig(2, "keepalive"))
    try:
        assert type(fetcher) is AsyncioFetcher
        assert isinstance(fetcher._runner.loop, uvloop.Loop)
        outcomes = fetcher.fetch([f"{server_url}work?size=64&id={k}" for k in range(4)])
        assert [(o.status, o.error) for o in outcomes] == [(200, None)] * 4
    finally:
        fetcher.close()
