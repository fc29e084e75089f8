"""``strategies._blocking_codec.CodecRequester``, called from C threads, against the real bundled server.

The generic tests (tests/test_strategies.py) check bodies, faults and peak concurrency for the three
strategies built on it; these check what only the stack can get wrong: that keep-alive opens at most C
connections and reuses them round after round, ``close`` opens one per request, ``close()`` leaves none
open; that the timeout is one deadline per request (a trickle of bytes cannot stretch it); that a stalled,
truncated or refused request is an error in its own slot; that an idle connection the server closed is
never used, and a failed one never re-sent; that a POST carries its body.

Connections are counted as the TCP sockets this process creates while the requester fetches.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from local_server.api import fetch_stats, reset_stats, running_server
from local_server.payload import expected_response
from strategies._blocking_codec import CodecRequester
from strategies.base import ClientConfig, Outcome

#: Long enough that the C requests of a wave overlap even on a loaded 2-core machine, so C connections
#: are needed at once; short enough to keep a round well under a second.
DELAY_MS = 50

#: The fault tests' per-request deadline: short to keep them quick, far above a healthy request's latency.
TIMEOUT_S = 0.5


class SocketCounter:
    """How many TCP sockets this process has created since the fixture started (one per connection)."""

    def __init__(self) -> None:
        self.created = 0


@pytest.fixture
def sockets(monkeypatch: pytest.MonkeyPatch) -> SocketCounter:
    counter = SocketCounter()
    init = socket.socket.__init__

    def counting_init(self: socket.socket, family: int = -1, type: int = -1, proto: int = -1,
                      fileno: int | None = None) -> None:
        if fileno is None and family in (socket.AF_INET, socket.AF_INET6):
            counter.created += 1
        init(self, family, type, proto, fileno)

    monkeypatch.setattr(socket.socket, "__init__", counting_init)
    return counter


def fetch(requester: CodecRequester, urls: Sequence[str], concurrency: int) -> list[Outcome]:
    """The requester called from ``concurrency`` threads at once, as the threads model calls it."""
    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(requester, urls))


def work_urls(base: str, n: int, delay_ms: int = DELAY_MS) -> list[str]:
    return [f"{base}work?delay_ms={delay_ms}&size=512&id={k}" for k in range(n)]


def assert_verified(urls: Sequence[str], outcomes: Sequence[Outcome]) -> None:
    assert [(o.status, o.body) for o in outcomes] == [expected_response(url) for url in urls], \
        [o.error for o in outcomes]


def open_connections(base: str, expected: int = 0) -> int:
    """Client connections the server holds (less the stats request's own), once it has seen the FINs
    that bring them down to ``expected``: it notices a client's close on a later loop turn."""
    for _ in range(100):
        count = fetch_stats(base)["open_connections"] - 1
        if count <= expected:
            return count
        time.sleep(0.05)
    return count


def test_keepalive_reuses_at_most_c_connections(server_url: str, sockets: SocketCounter) -> None:
    c, n = 4, 16
    requester = CodecRequester(ClientConfig(c, "keepalive"), pool_size=c)
    try:
        opened = []
        for _ in range(3):
            urls = work_urls(server_url, n)
            before = sockets.created
            outcomes = fetch(requester, urls, c)
            opened.append(sockets.created - before)
            assert_verified(urls, outcomes)
            assert open_connections(server_url, expected=c) == c  # the C idle ones, kept open
        assert opened == [c, 0, 0]
    finally:
        requester.close()
    assert open_connections(server_url) == 0


def test_keepalive_pool_keeps_at_most_pool_size(server_url: str, sockets: SocketCounter) -> None:
    """More callers than the pool holds (the per-child pool of processes-raw is 1): the extra connections
    are closed after their response, never kept."""
    requester = CodecRequester(ClientConfig(4, "keepalive"), pool_size=1)
    try:
        urls = work_urls(server_url, 8)
        assert_verified(urls, fetch(requester, urls, 4))
        assert open_connections(server_url, expected=1) == 1
        before = sockets.created
        urls = work_urls(server_url, 4, delay_ms=0)
        assert_verified(urls, fetch(requester, urls, 1))
        assert sockets.created == before  # one at a time: the one kept connection carries them all
    finally:
        requester.close()
    assert open_connections(server_url) == 0


def test_close_opens_one_connection_per_request(server_url: str, sockets: SocketCounter) -> None:
    c, n = 4, 12
    requester = CodecRequester(ClientConfig(c, "close"), pool_size=c)
    try:
        for _ in range(2):
            urls = work_urls(server_url, n)
            before = sockets.created
            assert_verified(urls, fetch(requester, urls, c))
            assert sockets.created - before == n
            assert open_connections(server_url) == 0  # none kept
    finally:
        requester.close()


@pytest.mark.parametrize("policy", ["close", "keepalive"])
def test_stall_and_truncation_are_errors_in_their_slots(server_url: str, policy: str) -> None:
    urls = [f"{server_url}work?size=64&id=1", f"{server_url}fault/stall", f"{server_url}work?size=64&id=2",
            f"{server_url}fault/truncate", f"{server_url}work?size=64&id=3"]
    requester = CodecRequester(ClientConfig(2, policy, timeout_s=TIMEOUT_S), pool_size=2)
    try:
        outcomes = fetch(requester, urls, 2)
    finally:
        requester.close()
    stall, truncated = outcomes[1], outcomes[3]
    assert stall.status is None and stall.error is not None and stall.error.startswith("TimeoutError")
    assert stall.latency_s >= TIMEOUT_S
    assert truncated.status is None and truncated.error is not None
    assert truncated.error.startswith("ProtocolError") and "truncated" in truncated.error
    good = [0, 2, 4]
    assert_verified([urls[k] for k in good], [outcomes[k] for k in good])


class TrickleServer:
    """Answers every connection with a 1000-byte body announced and sent one byte per ``interval_s``:
    no single recv waits long, yet the whole body would take 1000 intervals."""

    def __init__(self, interval_s: float):
        self.interval_s = interval_s
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/trickle"
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            conn.recv(65536)
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
                while not self.stop.wait(self.interval_s):
                    conn.sendall(b"x")
            except OSError:  # the client gave up and closed
                pass

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.listener.close()


@pytest.fixture
def trickle() -> Iterator[TrickleServer]:
    server = TrickleServer(interval_s=0.05)
    yield server
    server.close()


def test_the_timeout_is_one_deadline_per_request(trickle: TrickleServer) -> None:
    """Every recv gets a byte within 50 ms, so a per-recv timeout of 0.5 s would wait out the whole 50 s
    body; the per-request deadline ends it after 0.5 s."""
    requester = CodecRequester(ClientConfig(1, "keepalive", timeout_s=TIMEOUT_S), pool_size=1)
    try:
        (outcome,) = fetch(requester, [trickle.url], 1)
    finally:
        requester.close()
    assert outcome.error is not None and outcome.error.startswith("TimeoutError"), outcome
    assert TIMEOUT_S <= outcome.latency_s < 1000 * trickle.interval_s / 2


def test_an_idle_connection_the_server_closed_is_not_used(sockets: SocketCounter) -> None:
    """The server's idle sweep closes the pooled connections between two rounds: the second round must
    see that and connect anew, not fail on the dead ones."""
    with running_server(extra_args=["--idle-timeout", "0.2"]) as base:
        requester = CodecRequester(ClientConfig(2, "keepalive"), pool_size=2)
        try:
            urls = work_urls(base, 4)
            assert_verified(urls, fetch(requester, urls, 2))
            assert open_connections(base) == 0  # the server closed both idle connections
            before = sockets.created
            urls = work_urls(base, 4)
            assert_verified(urls, fetch(requester, urls, 2))
            assert sockets.created - before == 2
        finally:
            requester.close()


def test_a_failed_request_on_a_reused_connection_is_not_resent(server_url: str) -> None:
    """``fault/close`` closes the connection before any response byte: on a reused connection, the case a
    retrying client would re-send. Here it is an error, and the server saw each request once."""
    urls = [f"{server_url}work?size=64&id=1", f"{server_url}fault/close", f"{server_url}work?size=64&id=2"]
    requester = CodecRequester(ClientConfig(1, "keepalive"), pool_size=1)
    try:
        reset_stats(server_url)
        outcomes = fetch(requester, urls, 1)
        served = fetch_stats(server_url)["requests"]
    finally:
        requester.close()
    assert outcomes[1].error is not None and outcomes[1].error.startswith("ProtocolError"), outcomes[1]
    assert_verified([urls[0], urls[2]], [outcomes[0], outcomes[2]])
    assert served == len(urls)


def test_a_refused_connection_is_an_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on: bound, then released
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    requester = CodecRequester(ClientConfig(1, "keepalive"), pool_size=1)
    try:
        (outcome,) = fetch(requester, [f"http://127.0.0.1:{port}/work"], 1)
    finally:
        requester.close()
    assert outcome.error is not None and outcome.error.startswith("ConnectionRefusedError"), outcome


@pytest.mark.parametrize("policy", ["close", "keepalive"])
def test_post_sends_its_body(server_url: str, policy: str) -> None:
    body = b"a=1&b=two"
    requester = CodecRequester(ClientConfig(2, policy, method="POST", body=body), pool_size=2)
    try:
        outcomes = fetch(requester, [f"{server_url}echo"] * 4, 2)
    finally:
        requester.close()
    assert [(o.status, o.body) for o in outcomes] == [(200, body)] * 4, [o.error for o in outcomes]
