"""``strategies.shared._blocking_codec.CodecStack``, its connections called from the C threads of the threads model,
against the real bundled server.

The generic tests (tests/test_strategies.py) check bodies, faults and peak concurrency for the three
strategies built on it; these check what only the stack can get wrong: that keep-alive opens at most C
connections (one per worker) and reuses them round after round, ``close`` opens one per request,
``close()`` leaves none open; that the timeout is one deadline per request (a trickle of bytes cannot
stretch it), set on the socket when a connection opens rather than before every call, and that a call
waiting out a socket timeout shorter than the time left waits on; that a stalled, truncated or refused
request is an error in its own slot; that an idle connection the server closed is never used, and a failed
one never re-sent; that a POST carries its body.

Connections are counted as the TCP sockets this process creates while the fetcher fetches.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Sequence

import pytest

from local_server.api import fetch_stats, reset_stats, running_server
from local_server.payload import expected_response
from strategies.base import ClientConfig, Outcome
from strategies.shared._blocking_codec import TIMEOUT_SHARE, CodecStack
from strategies.shared._threads import ThreadsFetcher

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


def fetcher(config: ClientConfig) -> ThreadsFetcher:
    """The stack in the threads model (``threads-raw``): C threads, a connection each."""
    return ThreadsFetcher(config, CodecStack)


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
    client = fetcher(ClientConfig(c, "keepalive"))
    try:
        opened = []
        for _ in range(3):
            urls = work_urls(server_url, n)
            before = sockets.created
            outcomes = client.fetch(urls)
            opened.append(sockets.created - before)
            assert_verified(urls, outcomes)
            assert open_connections(server_url, expected=c) == c  # the C idle ones, kept open
        assert opened == [c, 0, 0]
    finally:
        client.close()
    assert open_connections(server_url) == 0


def test_one_worker_carries_every_request_on_one_connection(server_url: str, sockets: SocketCounter) -> None:
    """A worker owns at most one connection: C=1 opens one for its first request and reuses it for all."""
    client = fetcher(ClientConfig(1, "keepalive"))
    try:
        for _ in range(2):
            urls = work_urls(server_url, 6, delay_ms=0)
            assert_verified(urls, client.fetch(urls))
        assert sockets.created == 1
        assert open_connections(server_url, expected=1) == 1
    finally:
        client.close()
    assert open_connections(server_url) == 0


@pytest.mark.slow  # waits out socket timeouts (1.6 s)
def test_the_socket_timeout_is_set_per_connection_not_per_call(server_url: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Under keep-alive a round of N requests sets socket timeouts a fixed number of times per connection
    (when it opens, and around the idle check before the round), never per request."""
    calls: list[float | None] = []
    settimeout = socket.socket.settimeout

    def counting(self: socket.socket, value: float | None) -> None:
        calls.append(value)
        settimeout(self, value)

    monkeypatch.setattr(socket.socket, "settimeout", counting)
    c = 4
    client = fetcher(ClientConfig(c, "keepalive"))
    try:
        per_round = []
        for n in (8, 40, 80):
            urls = work_urls(server_url, n)
            before = len(calls)
            assert_verified(urls, client.fetch(urls))
            per_round.append(len(calls) - before)
    finally:
        client.close()
    assert per_round[0] == c  # the C connections opened, each with TIMEOUT_SHARE of its first request's time
    assert per_round[1] == per_round[2] == 2 * c  # later rounds: the idle check's two, whatever N


@pytest.mark.slow  # waits out a socket timeout and the deadline (3 s)
def test_a_call_that_outlasts_the_socket_timeout_waits_on_within_the_deadline(server_url: str) -> None:
    """The socket's timeout is TIMEOUT_SHARE of the time left when its connection opened: a response that
    comes later, but within the request's deadline, still arrives, on the same connection, twice."""
    timeout_s = 2.0
    delay_ms = int(1000 * timeout_s * (TIMEOUT_SHARE + 1) / 2)  # past the socket's timeout, well within the deadline
    client = fetcher(ClientConfig(1, "keepalive", timeout_s=timeout_s))
    try:
        urls = work_urls(server_url, 2, delay_ms=delay_ms)
        assert_verified(urls, client.fetch(urls))
    finally:
        client.close()


def test_close_opens_one_connection_per_request(server_url: str, sockets: SocketCounter) -> None:
    c, n = 4, 12
    client = fetcher(ClientConfig(c, "close"))
    try:
        for _ in range(2):
            urls = work_urls(server_url, n)
            before = sockets.created
            assert_verified(urls, client.fetch(urls))
            assert sockets.created - before == n
            assert open_connections(server_url) == 0  # none kept
    finally:
        client.close()


@pytest.mark.parametrize("policy", ["close", "keepalive"])
def test_stall_and_truncation_are_errors_in_their_slots(server_url: str, policy: str) -> None:
    urls = [f"{server_url}work?size=64&id=1", f"{server_url}fault/stall", f"{server_url}work?size=64&id=2",
            f"{server_url}fault/truncate", f"{server_url}work?size=64&id=3"]
    client = fetcher(ClientConfig(2, policy, timeout_s=TIMEOUT_S))
    try:
        outcomes = client.fetch(urls)
    finally:
        client.close()
    stall, truncated = outcomes[1], outcomes[3]
    assert stall.status is None
    assert stall.error is not None
    assert stall.error.startswith("TimeoutError")
    assert stall.latency_s >= TIMEOUT_S
    assert truncated.status is None
    assert truncated.error is not None
    assert truncated.error.startswith("ProtocolError")
    assert "truncated" in truncated.error
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
    client = fetcher(ClientConfig(1, "keepalive", timeout_s=TIMEOUT_S))
    try:
        (outcome,) = client.fetch([trickle.url])
    finally:
        client.close()
    assert outcome.error is not None, outcome
    assert outcome.error.startswith("TimeoutError"), outcome
    assert TIMEOUT_S <= outcome.latency_s < 1000 * trickle.interval_s / 2


def test_an_idle_connection_the_server_closed_is_not_used(sockets: SocketCounter) -> None:
    """The server's idle sweep closes the pooled connections between two rounds: the second round must
    see that and connect anew, not fail on the dead ones."""
    with running_server(extra_args=["--idle-timeout", "0.2"]) as base:
        client = fetcher(ClientConfig(2, "keepalive"))
        try:
            urls = work_urls(base, 4)
            assert_verified(urls, client.fetch(urls))
            assert open_connections(base) == 0  # the server closed both idle connections
            before = sockets.created
            urls = work_urls(base, 4)
            assert_verified(urls, client.fetch(urls))
            assert sockets.created - before == 2
        finally:
            client.close()


def test_a_failed_request_on_a_reused_connection_is_not_resent(server_url: str) -> None:
    """``fault/close`` closes the connection before any response byte: on a reused connection, the case a
    retrying client would re-send. Here it is an error, and the server saw each request once."""
    urls = [f"{server_url}work?size=64&id=1", f"{server_url}fault/close", f"{server_url}work?size=64&id=2"]
    client = fetcher(ClientConfig(1, "keepalive"))
    try:
        reset_stats(server_url)
        outcomes = client.fetch(urls)
        served = fetch_stats(server_url)["requests"]
    finally:
        client.close()
    assert outcomes[1].error is not None, outcomes[1]
    assert outcomes[1].error.startswith("ProtocolError"), outcomes[1]
    assert_verified([urls[0], urls[2]], [outcomes[0], outcomes[2]])
    assert served == len(urls)


def test_a_refused_connection_is_an_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on: bound, then released
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = fetcher(ClientConfig(1, "keepalive"))
    try:
        (outcome,) = client.fetch([f"http://127.0.0.1:{port}/work"])
    finally:
        client.close()
    assert outcome.error is not None, outcome
    assert outcome.error.startswith("ConnectionRefusedError"), outcome


@pytest.mark.parametrize("policy", ["close", "keepalive"])
def test_post_sends_its_body(server_url: str, policy: str) -> None:
    body = b"a=1&b=two"
    client = fetcher(ClientConfig(2, policy, method="POST", body=body))
    try:
        outcomes = client.fetch([f"{server_url}echo"] * 4)
    finally:
        client.close()
    assert [(o.status, o.body) for o in outcomes] == [(200, body)] * 4, [o.error for o in outcomes]
