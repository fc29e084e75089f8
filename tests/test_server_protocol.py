"""local_server.protocol alone: no sockets, bytes in and events out (plus a hypothesis fuzz of the parser)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from local_server.protocol import (
    MAX_BODY_BYTES,
    MAX_HEAD_BYTES,
    Event,
    ParsedRequest,
    Rejection,
    RequestReader,
    encode_response,
)
from strategies.http1 import Response, ResponseParser

pytestmark = pytest.mark.timeout(60)

GET = b"GET /work?id=1&size=3 HTTP/1.1\r\nHost: x\r\n\r\n"
POST = (b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 7\r\n\r\na=1&b=2")


def feed(*chunks: bytes) -> list[Event]:
    reader = RequestReader()
    return [event for chunk in chunks for event in reader.receive_data(chunk)]


def test_get_request_fields() -> None:
    [request] = feed(GET)
    assert request == ParsedRequest(b"GET", b"/work?id=1&size=3", "1.1", True, None, b"")


def test_post_form_body_and_content_type() -> None:
    [request] = feed(POST)
    assert isinstance(request, ParsedRequest)
    assert request.body == b"a=1&b=2"
    assert request.content_type == b"application/x-www-form-urlencoded"


def test_pipelined_requests_come_out_in_order() -> None:
    events = feed(GET + POST + b"GET /last HTTP/1.1\r\n\r\n")
    targets = [e.target for e in events if isinstance(e, ParsedRequest)]
    assert targets == [b"/work?id=1&size=3", b"/echo", b"/last"]


def test_byte_by_byte_gives_the_same_events() -> None:
    data = GET + POST
    assert feed(*(data[i:i + 1] for i in range(len(data)))) == feed(data)


@pytest.mark.parametrize(("head", "keep_alive"), [
    (b"GET / HTTP/1.1\r\n\r\n", True),
    (b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", False),
    (b"GET / HTTP/1.0\r\n\r\n", False),
    (b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", True),
])
def test_keep_alive_follows_version_and_connection_header(head: bytes, keep_alive: bool) -> None:
    [request] = feed(head)
    assert isinstance(request, ParsedRequest)
    assert request.keep_alive is keep_alive


def test_chunked_body_is_accepted() -> None:
    [request] = feed(b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    assert isinstance(request, ParsedRequest)
    assert request.body == b"abcde"


def only_error(events: list[Event]) -> Rejection:
    assert len(events) == 1, events
    assert isinstance(events[0], Rejection), events
    return events[0]


@pytest.mark.parametrize(("data", "status"), [
    (b"\x00\x01\x02 garbage\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nBad Header\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
    (b"GET / HTTP/2.0\r\n\r\n", 505),
    (b"GET / HTTP/1.2\r\n\r\n", 505),
    (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
    (b"POST /echo HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY_BYTES + 1), 413),
    (b"GET / HTTP/1.1\r\nX: " + b"a" * MAX_HEAD_BYTES + b"\r\n\r\n", 431),
])
def test_bad_input_maps_to_status(data: bytes, status: int) -> None:
    assert only_error(feed(data)).status == status


def test_chunked_body_over_the_limit_is_413() -> None:
    reader = RequestReader(max_body_bytes=10)
    events = reader.receive_data(b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
    events += reader.receive_data(b"8\r\n12345678\r\n8\r\n12345678\r\n")
    assert only_error(events).status == 413


def test_a_head_that_never_ends_is_431_without_buffering_it_all() -> None:
    reader = RequestReader(max_head_bytes=1000)
    events = reader.receive_data(b"GET / HTTP/1.1\r\nX-Long: ")
    for _ in range(20):
        events += reader.receive_data(b"a" * 100)  # llhttp holds a header until complete; we count feeds
    assert only_error(events).status == 431


def test_a_large_head_split_in_small_feeds_under_the_limit_is_fine() -> None:
    reader = RequestReader(max_head_bytes=1000)
    data = b"GET / HTTP/1.1\r\n" + b"X-A: 1\r\n" * 100 + b"\r\n"  # 816 bytes
    events = [e for i in range(0, len(data), 7) for e in reader.receive_data(data[i:i + 7])]
    assert len(events) == 1
    assert isinstance(events[0], ParsedRequest)


def test_many_pipelined_requests_in_one_feed_are_not_a_large_head() -> None:
    reader = RequestReader(max_head_bytes=1000)
    events = reader.receive_data(GET * 200 + b"GET /partial")
    assert len(events) == 200
    assert all(isinstance(e, ParsedRequest) for e in events)


def test_after_an_error_the_reader_is_closed_and_ignores_input() -> None:
    reader = RequestReader()
    assert only_error(reader.receive_data(b"BAD\r\n\r\n")).status == 400
    assert reader.closed
    assert not reader.at_boundary
    assert reader.receive_data(GET) == []


def test_upgrade_completes_the_request_then_closes() -> None:
    reader = RequestReader()
    [request] = reader.receive_data(b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n\x81\x00")
    assert isinstance(request, ParsedRequest)
    assert request.keep_alive is False
    assert reader.closed


def test_at_boundary_tracks_half_read_requests() -> None:
    reader = RequestReader()
    assert reader.at_boundary
    reader.receive_data(GET[:10])
    assert not reader.at_boundary
    reader.receive_data(GET[10:])
    assert reader.at_boundary


def parse_response(data: bytes) -> Response:
    """``data`` as exactly one complete response, read by the suite's response parser."""
    parser = ResponseParser()
    assert parser.feed(data)
    assert not parser.trailing
    assert parser.response is not None
    return parser.response


@pytest.mark.parametrize(("keep_alive", "version", "connection"), [
    (True, "1.1", None), (True, "1.0", "keep-alive"), (False, "1.1", "close"), (False, "1.0", "close"),
])
def test_encode_response(keep_alive: bool, version: str, connection: str | None) -> None:
    response = parse_response(encode_response(200, b"text/plain", b"hello", keep_alive, version))
    assert (response.status, response.body, response.header("content-length")) == (200, b"hello", "5")
    assert response.header("connection") == connection


@pytest.mark.parametrize("status", [204, 304])
def test_bodiless_statuses_have_no_body_nor_length(status: int) -> None:
    data = encode_response(status, b"text/plain", b"ignored")
    response = parse_response(data)
    assert (response.status, response.body, response.header("content-length")) == (status, b"", None)
    assert b"ignored" not in data  # nothing after the head either, which a parser would skip for these


# Fuzz -------------------------------------------------------------------------------------------------

def check_events(events: list[Event]) -> None:
    """Whatever came in: only our two event types, and an error only as the very last event."""
    assert all(isinstance(e, ParsedRequest | Rejection) for e in events)
    errors = [(i, e) for i, e in enumerate(events) if isinstance(e, Rejection)]
    assert [i for i, _ in errors] in ([], [len(events) - 1])
    for _, error in errors:
        assert error.status in (400, 413, 431, 505)


http_ish = st.lists(st.sampled_from([
    b"GET ", b"POST ", b"/", b"/work?id=1", b" HTTP/1.1", b" HTTP/1.0", b" HTTP/2.0", b"\r\n", b"\r\n\r\n",
    b"Host: x", b"Content-Length: 3", b"Content-Length: -1", b"Transfer-Encoding: chunked", b"abc",
    b"0\r\n\r\n", b"Connection: close", b"Upgrade: h2c", b":", b"\x00", b"\xff", b" ",
]), max_size=40).map(b"".join)


@settings(max_examples=300, deadline=None)
@given(data=st.one_of(st.binary(max_size=2000), http_ish), cuts=st.lists(st.integers(0, 2000), max_size=8))
def test_fuzz_reader_never_raises(data: bytes, cuts: list[int]) -> None:
    reader = RequestReader(max_head_bytes=512, max_body_bytes=64)
    bounds = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    events = [e for a, b in itertools.pairwise(bounds) for e in reader.receive_data(data[a:b])]
    check_events(events)


@settings(max_examples=200, deadline=None)
@given(requests=st.lists(st.sampled_from([GET, POST]), min_size=1, max_size=6),
       last=st.sampled_from([b"", b"GET / HTTP/1.0\r\n\r\n", b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n"]),
       cuts=st.lists(st.integers(0, 1000), max_size=10))
def test_fuzz_splitting_valid_requests_never_changes_the_events(requests: list[bytes], last: bytes,
                                                                 cuts: list[int]) -> None:
    requests = [*requests, last] if last else requests  # no request may follow a closing one
    data = b"".join(requests)
    bounds = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    reader = RequestReader()
    events = [e for a, b in itertools.pairwise(bounds) for e in reader.receive_data(data[a:b])]
    assert events == feed(data)
    assert len(events) == len(requests)
