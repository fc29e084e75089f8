"""local_server.pacing and ``rate_kbps``: the schedule alone, the route's bounds, and paced bodies on the
real server (accuracy, order, in-flight counting, a loop that keeps serving meanwhile)."""

from __future__ import annotations

import socket
import struct
import time

import pytest

from local_server.api import fetch_stats, reset_stats
from local_server.pacing import MAX_RATE_KBPS, TICK_S, Pace
from local_server.payload import work_body
from local_server.protocol import ParsedRequest
from local_server.routes import Reply, route
from strategies.http1 import ResponseParser
from tests.server_client import READ_TIMEOUT_S, connect, exchange, read_many

pytestmark = pytest.mark.timeout(60)


def _get(target: str, keep_alive: bool = False) -> bytes:
    connection = "" if keep_alive else "Connection: close\r\n"
    return f"GET {target} HTTP/1.1\r\nHost: t\r\n{connection}\r\n".encode()


# The schedule ------------------------------------------------------------------------------------------

def test_the_head_leaves_at_once_and_the_body_never_ahead_of_the_link() -> None:
    pace = Pace(head=100, length=16_000, rate_kbps=128, start=10.0)  # 16,000 bytes/s: the body takes 1 s
    assert pace.chunk == round(16_000 * TICK_S)
    assert pace.take(10.0) == (0, 100)  # the header block, no body yet
    assert pace.next_at() == pytest.approx(10.0 + pace.chunk / 16_000)
    assert pace.take(10.25) == (100, 100 + 4000)  # a quarter second carries 4000 bytes
    assert pace.take(10.25) == (4100, 4100)  # nothing more at the same instant
    assert pace.take(10.999) == (4100, 100 + 15_984)
    assert not pace.done
    assert pace.next_at() == pytest.approx(11.0)  # the last byte is due exactly size / rate after the start
    assert pace.take(11.0) == (16_084, 16_100)
    assert pace.done


def test_a_late_timer_is_caught_up_not_carried_over() -> None:
    pace = Pace(head=0, length=1000, rate_kbps=8, start=0.0)  # 1000 bytes/s
    pace.take(0.0)
    assert pace.take(0.7) == (0, 700)  # one late release carries everything due by then
    assert pace.next_at() == pytest.approx((700 + pace.chunk) / 1000)


def test_a_rate_outside_the_bounds_is_refused() -> None:
    for rate in (0, MAX_RATE_KBPS + 1):
        with pytest.raises(ValueError, match="rate_kbps"):
            Pace(0, 10, rate, 0.0)


# The route ---------------------------------------------------------------------------------------------

def _route(target: bytes) -> object:
    return route(ParsedRequest(b"GET", target, "1.1", True, None, b""))


def test_work_takes_a_rate_in_kilobits_per_second() -> None:
    assert _route(b"/work?size=10&id=7&rate_kbps=128") == Reply(200, b"text/plain", work_body(7, 10), 0.0, 128)
    assert _route(b"/work?delay_ms=5&rate_kbps=10000000").rate_kbps == MAX_RATE_KBPS  # type: ignore[attr-defined]


@pytest.mark.parametrize("raw", [b"0", b"", b"abc", b"-5", b"1.5", b"%d" % (MAX_RATE_KBPS + 1)])
def test_a_bad_rate_is_a_400_that_says_why(raw: bytes) -> None:
    reply = _route(b"/work?size=10&rate_kbps=" + raw)
    assert isinstance(reply, Reply)
    assert reply.status == 400
    assert reply.body == f"rate_kbps must be an integer in [1, {MAX_RATE_KBPS}] (kilobits per second, 1 kbit = " \
                         f"1000 bits)\n".encode()


def test_a_bad_rate_is_a_400_on_the_wire(server_url: str) -> None:
    (response,) = exchange(server_url, _get("/work?size=10&rate_kbps=0"), 1).responses
    assert response.status == 400
    assert b"rate_kbps must be an integer" in response.body


# On the wire -------------------------------------------------------------------------------------------

def _timed_fetch(url: str, target: str) -> tuple[float, bytes]:
    """(seconds from the response's first byte to its last, body), read on a raw socket."""
    parser = ResponseParser()
    with connect(url) as sock:
        sock.sendall(_get(target))
        first = None
        deadline = time.monotonic() + READ_TIMEOUT_S
        while time.monotonic() < deadline:
            data = sock.recv(65536)
            now = time.perf_counter()
            first = now if first is None else first
            if not data or parser.feed(data):
                break
    assert first is not None, "no complete response"
    assert parser.response is not None, "no complete response"
    return now - first, parser.response.body


def test_pacing_never_sends_faster_than_size_over_rate(server_url: str) -> None:
    """The server paces, it never bursts: 16 KiB at 128 kbit/s is 16384 × 8 / 128,000 = 1.024 s from the
    first byte (the header, sent at once) to the last, and no body arrives sooner (the 0.9: the header's
    bytes and the first timer's slack). How close to the rate it stays is a figure, not a behaviour: a
    loaded machine makes timers late, so the bound above is a hang guard, and the slow-link workload's
    efficiency (the report) is where lateness shows."""
    ideal = 16384 * 8 / 128_000
    elapsed, body = _timed_fetch(server_url, "/work?size=16384&id=5&rate_kbps=128")
    assert body == work_body(5, 16384)
    assert 0.9 * ideal <= elapsed < READ_TIMEOUT_S, elapsed


def test_a_paced_answer_is_in_flight_until_its_last_byte_and_the_loop_serves_meanwhile(server_url: str) -> None:
    reset_stats(server_url)
    parser = ResponseParser()
    with connect(server_url) as sock:
        sock.sendall(_get("/work?size=8000&id=2&rate_kbps=64"))  # 8000 bytes/s: one second of body
        assert not parser.feed(sock.recv(65536))  # the head (and perhaps a first chunk): not yet complete
        stats = fetch_stats(server_url)  # another connection, answered while the body trickles
        assert stats["in_flight"] == 1
        assert stats["peak_in_flight"] == 1
        sock.settimeout(READ_TIMEOUT_S)
        while not parser.feed(sock.recv(65536)):
            pass
    assert parser.response is not None
    assert parser.response.body == work_body(2, 8000)
    assert fetch_stats(server_url)["in_flight"] == 0


def test_many_paced_answers_overlap_and_arrive_whole(server_url: str) -> None:
    reset_stats(server_url)
    socks = [connect(server_url) for _ in range(20)]
    try:
        for k, sock in enumerate(socks):
            sock.sendall(_get(f"/work?size=4000&id={k}&rate_kbps=64"))  # half a second each, all at once
        results = read_many(socks, 1, timeout=30)
    finally:
        for sock in socks:
            sock.close()
    assert [r.responses[0].body for r in results] == [work_body(k, 4000) for k in range(20)]
    assert fetch_stats(server_url)["peak_in_flight"] == 20


def test_paced_answers_on_one_connection_leave_in_order(server_url: str) -> None:
    two = _get("/work?size=3000&id=1&rate_kbps=256", keep_alive=True) + _get("/work?size=10&id=2&delay_ms=1")
    result = exchange(server_url, two, 2)
    assert [r.body for r in result.responses] == [work_body(1, 3000), work_body(2, 10)]


def test_a_client_that_leaves_mid_body_frees_its_slot(server_url: str) -> None:
    reset_stats(server_url)
    sock = connect(server_url)
    sock.sendall(_get("/work?size=100000&id=1&rate_kbps=8"))  # 100 s of body: the client will not wait
    sock.recv(100)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # an RST: the server sees the error on its next release
    deadline = time.monotonic() + READ_TIMEOUT_S
    while fetch_stats(server_url)["in_flight"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fetch_stats(server_url)["in_flight"] == 0
