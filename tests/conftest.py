"""Fixtures shared by the test modules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local_server.api import running_server


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    """The bundled server (epoll) on a free loopback port, one per test module; always stopped after.

    The one running-server fixture: a test that starts a bundled server of its own says why next to it
    (another backend or idle timeout, IPv6, a raised descriptor limit, or the server process under test)."""
    with running_server() as url:
        yield url
