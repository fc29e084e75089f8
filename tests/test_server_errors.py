"""Bad input, slow clients, signals and the CLI: each bad case is answered (or closed) and costs nothing else."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local_server.api import ServerError, ServerProcess, fetch_stats, reset_stats, running_server
from local_server.payload import ROOT_BODY
from local_server.protocol import MAX_BODY_BYTES, MAX_HEAD_BYTES
from tests.server_client import connect, exchange, get, read_responses
from tests.tiers import each_backend

pytestmark = pytest.mark.timeout(120)

#: Short idle timeout so the slow-client tests take well under a second each.
IDLE = 0.5


@pytest.fixture(scope="module", params=each_backend(["select", "epoll"]))
def url(request: pytest.FixtureRequest) -> Iterator[str]:
    # Not conftest's ``server_url``: the slow-client tests need a short idle timeout, on two backends.
    with running_server(backend=request.param, extra_args=("--idle-timeout", str(IDLE))) as base:
        yield base


def assert_still_serves(url: str) -> None:
    assert get(url, "/").body == ROOT_BODY


@pytest.mark.parametrize(("data", "status"), [
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nNo colon here\r\n\r\n", 400),
    (b"GET /\x00 HTTP/1.1\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nX: " + b"a" * (MAX_HEAD_BYTES + 1) + b"\r\n\r\n", 431),
    (b"POST /echo HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY_BYTES + 1), 413),
    (b"GET / HTTP/2.0\r\n\r\n", 505),
    (b"GET / HTTP/1.2\r\n\r\n", 505),
])
def test_bad_input_gets_a_status_then_close(url: str, data: bytes, status: int) -> None:
    reset_stats(url)
    result = exchange(url, data)
    assert [r.status for r in result.responses] == [status]
    assert result.closed
    assert result.responses[0].header("connection") == "close"
    stats = fetch_stats(url)
    assert stats["bad_requests"] == 1
    assert stats["status_counts"] == {str(status): 1}
    assert_still_serves(url)


def test_wrong_method_is_405_and_keeps_the_connection(url: str) -> None:
    result = exchange(url, b"DELETE /work HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n", 2)
    assert [r.status for r in result.responses] == [405, 200]


def test_a_large_body_still_streaming_when_refused_gets_the_413_not_a_reset(url: str) -> None:
    with connect(url) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY_BYTES + 1))
        sock.sendall(b"x" * 200_000)  # in flight when the server answers and closes: it must linger
        result = read_responses(sock)
    assert [r.status for r in result.responses] == [413]
    assert_still_serves(url)


def test_requests_before_an_error_are_answered_first(url: str) -> None:
    result = exchange(url, b"GET / HTTP/1.1\r\n\r\nGET /delay/50 HTTP/1.1\r\n\r\nBROKEN\r\n\r\n")
    assert [r.status for r in result.responses] == [200, 200, 400]
    assert result.closed


def test_idle_connection_is_closed_after_the_timeout(url: str) -> None:
    with connect(url) as sock:
        started = time.monotonic()
        assert read_responses(sock).closed
        assert time.monotonic() - started >= IDLE * 0.8


def test_slow_loris_is_closed_even_while_dribbling(url: str) -> None:
    with connect(url) as sock:
        started = time.monotonic()
        closed = False
        for byte in b"GET / HTTP/1.1\r\nX-Slow: " + b"a" * 100:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                closed = True
                break
            if time.monotonic() - started > 6 * IDLE:
                break
            time.sleep(IDLE / 10)
        assert closed or read_responses(sock, timeout=2 * IDLE).closed
    assert_still_serves(url)


def test_a_client_that_never_reads_is_dropped_without_hurting_others(url: str) -> None:
    baseline = fetch_stats(url)["open_connections"]  # counts the stats request's own connection
    with connect(url) as sock:
        sock.sendall(b"GET /bytes/8000000 HTTP/1.1\r\n\r\n")  # far more than the socket buffers hold
        assert_still_serves(url)
        assert fetch_stats(url)["open_connections"] == baseline + 1
        deadline = time.monotonic() + 10 * IDLE
        while fetch_stats(url)["open_connections"] > baseline and time.monotonic() < deadline:
            time.sleep(IDLE / 5)
        assert fetch_stats(url)["open_connections"] == baseline  # the server gave up on us
        assert fetch_stats(url)["in_flight"] == 0
        assert_still_serves(url)


def test_peer_reset_mid_request_costs_nothing(url: str) -> None:
    for _ in range(20):
        sock = connect(url)
        sock.sendall(b"GET /delay/20 HTTP/1.1\r\n\r\nGET /wo")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()  # RST
    assert_still_serves(url)
    deadline = time.monotonic() + 5
    while fetch_stats(url)["in_flight"] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fetch_stats(url)["in_flight"] == 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=1, max_size=3000) | st.lists(st.sampled_from(
    [b"GET ", b"POST ", b"/work?id=1", b"/delay/5", b" HTTP/1.1", b" HTTP/1.0", b"\r\n", b"Content-Length: 4",
     b"Connection: close", b"Transfer-Encoding: chunked", b"\xff", b":"]), min_size=1, max_size=30).map(b"".join))
def test_fuzz_live_server_never_crashes_and_always_answers_or_closes(url: str, data: bytes) -> None:
    with connect(url) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)  # no more input: the server must answer what it can, then close
        result = read_responses(sock, timeout=5)
    assert result.closed or result.garbage or result.responses
    assert_still_serves(url)


# Process and CLI ----------------------------------------------------------------------------------------
# Each test here starts (or fails to start) a server of its own: the process itself is under test.

@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_shuts_down_cleanly_with_status_0(signum: int) -> None:
    server = ServerProcess(backend="epoll", stderr=subprocess.DEVNULL)
    base = server.start()
    try:
        held = connect(base)  # an open connection must not prevent the exit
        assert server.popen is not None
        server.popen.send_signal(signum)
        assert server.popen.wait(10) == 0
        assert read_responses(held).closed
        held.close()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1].strip("/"))), timeout=2).close()
    finally:
        server.stop()


@pytest.mark.parametrize("args", [["--bogus"], ["--backend", "kqueue"], ["--port", "70000"],
                                  ["--idle-timeout", "0"], ["--port", "x"]])
def test_bad_flag_is_one_line_and_status_2(args: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "local_server", *args], capture_output=True, text=True, check=False,
                          timeout=30)
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1
    assert "error" in done.stderr


def test_first_stdout_line_is_the_url() -> None:
    with subprocess.Popen([sys.executable, "-m", "local_server", "--port", "0"], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL) as popen:
        try:
            assert popen.stdout is not None
            line = popen.stdout.readline().decode()
            assert line.startswith("http://127.0.0.1:")
            assert line.endswith("/\n")
            assert get(line.strip(), "/").status == 200
        finally:
            popen.terminate()
            popen.wait(10)
            assert popen.stdout is not None
            popen.stdout.close()


def test_api_raises_when_the_server_cannot_start() -> None:
    with pytest.raises(ServerError), running_server(extra_args=("--bogus",)):
        pass  # pragma: no cover


def test_api_stops_the_server() -> None:
    with ServerProcess(backend="poll") as server:
        assert get(server.url, "/").status == 200
        pid = server.pid
    assert server.popen is not None
    assert server.popen.returncode == 0
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
