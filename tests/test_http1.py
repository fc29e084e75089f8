from __future__ import annotations

import pytest

from strategies.http1 import ProtocolError, ResponseParser, build_request

OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"


def _feed_bytewise(data: bytes) -> ResponseParser:
    parser = ResponseParser()
    done = [parser.feed(data[i:i + 1]) for i in range(len(data))]
    assert done[-1] and not any(done[:-1])
    return parser


def test_get_request_bytes() -> None:
    assert build_request("GET", "127.0.0.1:80", "/work?id=1", keepalive=True) == (
        b"GET /work?id=1 HTTP/1.1\r\nHost: 127.0.0.1:80\r\nConnection: keep-alive\r\n\r\n")
    assert b"Connection: close\r\n" in build_request("GET", "h", "/", keepalive=False)


def test_post_request_has_length_and_form_type() -> None:
    data = build_request("POST", "h", "/work", keepalive=False, body=b"a=1", headers={"X-Test": "1"})
    head, body = data.split(b"\r\n\r\n")
    assert body == b"a=1"
    assert b"Content-Length: 3" in head and b"application/x-www-form-urlencoded" in head
    assert b"X-Test: 1" in head


def test_content_length_response_split_anywhere() -> None:
    parser = _feed_bytewise(OK)
    assert parser.response is not None
    assert (parser.response.status, parser.response.body) == (200, b"hello")
    assert parser.response.header("content-type") == "text/plain"
    assert parser.keep_alive and not parser.trailing


def test_connection_close_response_is_not_reusable() -> None:
    parser = ResponseParser()
    assert parser.feed(OK.replace(b"Content-Type", b"Connection: close\r\nContent-Type"))
    assert not parser.keep_alive


def test_chunked_response() -> None:
    data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    parser = _feed_bytewise(data)
    assert parser.response is not None and parser.response.body == b"abcde"
    assert parser.keep_alive


def test_eof_delimited_body_completes_at_eof() -> None:
    parser = ResponseParser()
    assert not parser.feed(b"HTTP/1.0 200 OK\r\n\r\npart one, ")
    assert not parser.feed(b"part two")
    assert parser.feed_eof()
    assert parser.response is not None and parser.response.body == b"part one, part two"
    assert not parser.keep_alive


def test_bodyless_status_needs_no_eof() -> None:
    parser = ResponseParser()
    assert parser.feed(b"HTTP/1.1 204 No Content\r\n\r\n")
    assert parser.response is not None and parser.response.body == b""


@pytest.mark.parametrize("received", [b"", b"HTTP/1.1 200 OK\r\nContent-Len", OK[:-2],
                                      b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"])
def test_eof_before_the_end_is_an_error(received: bytes) -> None:
    parser = ResponseParser()
    assert not parser.feed(received)
    with pytest.raises(ProtocolError):
        parser.feed_eof()


def test_garbage_is_an_error() -> None:
    with pytest.raises(ProtocolError, match="malformed"):
        ResponseParser().feed(b"this is not http\r\n\r\n")


def test_bytes_after_the_response_are_flagged_not_parsed() -> None:
    parser = ResponseParser()
    assert parser.feed(OK + b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n")
    assert parser.response is not None and (parser.response.status, parser.response.body) == (200, b"hello")
    assert parser.trailing
    assert parser.feed(b"more garbage")
