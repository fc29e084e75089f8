"""Concurrency and scale: exact peak_in_flight, select at FD_SETSIZE, poll/epoll with thousands of sockets.

Every assertion is on what the server reports or answers, never on wall time.
"""

from __future__ import annotations

import resource
import selectors
import socket
import tempfile
import time
from collections.abc import Iterator

import pytest

from local_server.api import ServerProcess, fetch_stats, reset_stats, running_server
from local_server.backends import BACKENDS, FD_SETSIZE
from tests.server_client import address, get, read_many, read_responses
from tests.tiers import each_backend

pytestmark = pytest.mark.timeout(180)

#: Connections for the "several thousand" test: well past select's 1024, small enough for a CI box.
MANY = 3000


@pytest.fixture(autouse=True)
def enough_descriptors() -> Iterator[None]:
    """Raise RLIMIT_NOFILE (inherited by the server subprocess) for clients plus server, then restore."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2 * MANY + 200
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {wanted}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def open_connections(url: str, count: int) -> list[socket.socket]:
    socks = []
    try:
        for _ in range(count):
            socks.append(socket.create_connection(address(url), timeout=10))
    except BaseException:
        close_all(socks)
        raise
    return socks


def close_all(socks: list[socket.socket]) -> None:
    for sock in socks:
        sock.close()


def simultaneous_delays(url: str, count: int, delay_ms: int) -> None:
    """``count`` connections each send one /delay request, all before any is answered."""
    reset_stats(url)
    socks = open_connections(url, count)
    try:
        for sock in socks:
            sock.sendall(b"GET /delay/%d HTTP/1.1\r\nHost: t\r\n\r\n" % delay_ms)
        results = read_many(socks, 1, timeout=60)
    finally:
        close_all(socks)
    assert [r.responses[0].status if r.responses else None for r in results] == [200] * count
    stats = fetch_stats(url)
    assert stats["peak_in_flight"] == count
    assert stats["requests"] == count
    assert stats["in_flight"] == 0


# Every test here starts its own server rather than use conftest's ``server_url``: each needs a given backend
# (all three; select for its FD_SETSIZE limit, with its log), and the server must inherit the RLIMIT_NOFILE
# that ``enough_descriptors`` raises per test (a module-scoped server would start before it).

@pytest.mark.parametrize("backend", each_backend(BACKENDS))
def test_200_simultaneous_delays_are_all_in_flight_together(backend: str) -> None:
    with running_server(backend=backend) as url:
        simultaneous_delays(url, 200, 200)


@pytest.mark.slow  # thousands of connections
@pytest.mark.parametrize("backend", sorted(set(BACKENDS) - {"select"}))
def test_thousands_of_connections(backend: str) -> None:
    with running_server(backend=backend) as url:
        simultaneous_delays(url, MANY, 1000)  # 1 s: every request is in before the first timer fires
        assert get(url, "/").status == 200


def wait_for_rejections(socks: list[socket.socket], quiet_s: float = 1.0) -> set[int]:
    """Indexes of the sockets the server answered unprompted (the 503s): wait until none come for a while."""
    rejected: set[int] = set()
    with selectors.DefaultSelector() as selector:
        for index, sock in enumerate(socks):
            selector.register(sock, selectors.EVENT_READ, index)
        while ready := selector.select(quiet_s):
            for key, _ in ready:
                rejected.add(key.data)
                selector.unregister(key.fileobj)
    return rejected


@pytest.mark.slow  # thousands of connections
def test_select_beyond_fd_setsize_answers_503_and_keeps_serving() -> None:
    with tempfile.TemporaryFile("w+") as log, ServerProcess(backend="select", stderr=log) as server:
        url = server.url
        socks = open_connections(url, FD_SETSIZE + 100)
        try:
            rejected = wait_for_rejections(socks)
            assert len(rejected) >= 100  # the server holds fewer than FD_SETSIZE: its own fds count too
            for index in rejected:
                result = read_responses(socks[index], 1)
                assert [r.status for r in result.responses] == [503]
                assert result.responses[0].header("connection") == "close"
            held = [sock for index, sock in enumerate(socks) if index not in rejected]
            for sock in held[:50]:  # the connections it kept are served normally
                sock.sendall(b"GET / HTTP/1.1\r\n\r\n")
            assert all(r.responses[0].status == 200 for r in read_many(held[:50], 1))
            close_all(held[:100])
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # the closes reach the server asynchronously
                try:
                    if get(url, "/").status == 200:
                        break
                except OSError:
                    pass
                time.sleep(0.05)
            stats = fetch_stats(url)
            assert stats["status_counts"]["503"] >= len(rejected)
        finally:
            close_all(socks)
        server.stop()
        log.seek(0)
        lines = [line for line in log if "FD_SETSIZE" in line]
    assert len(lines) == 1, lines  # one clear line, not one per rejected connection
