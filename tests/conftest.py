"""Fixtures shared by the test modules."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from local_server.api import running_server


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, the sweeps the tests start in subprocesses must not think they are xdist workers:
    pytest-benchmark reads ``PYTEST_XDIST_WORKER`` from the environment and then refuses
    ``--benchmark-only``. xdist itself reads the worker's id from ``config.workerinput``, not from there."""
    for name in [name for name in os.environ if name.startswith("PYTEST_XDIST_")]:
        del os.environ[name]


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    """The bundled server (epoll) on a free loopback port, one per test module; always stopped after.

    The one running-server fixture: a test that starts a bundled server of its own says why next to it
    (another backend or idle timeout, IPv6, a raised descriptor limit, or the server process under test)."""
    with running_server() as url:
        yield url
