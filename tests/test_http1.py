from __future__ import annotations

import gc
import itertools
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.http1 import ProtocolError, Response, ResponseParser, build_request, host_header, split_url

OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"


def _feed_bytewise(data: bytes) -> ResponseParser:
    parser = ResponseParser()
    done = [parser.feed(data[i:i + 1]) for i in range(len(data))]
    assert done[-1]
    assert not any(done[:-1])
    return parser


def test_get_request_bytes() -> None:
    assert build_request("GET", "127.0.0.1:80", "/work?id=1", keepalive=True) == (
        b"GET /work?id=1 HTTP/1.1\r\nHost: 127.0.0.1:80\r\nConnection: keep-alive\r\n\r\n")
    assert b"Connection: close\r\n" in build_request("GET", "h", "/", keepalive=False)


def test_post_request_has_length_and_form_type() -> None:
    data = build_request("POST", "h", "/work", keepalive=False, body=b"a=1", headers={"X-Test": "1"})
    head, body = data.split(b"\r\n\r\n")
    assert body == b"a=1"
    assert b"Content-Length: 3" in head
    assert b"application/x-www-form-urlencoded" in head
    assert b"X-Test: 1" in head


def test_content_length_response_split_anywhere() -> None:
    parser = _feed_bytewise(OK)
    assert parser.response is not None
    assert (parser.response.status, parser.response.body) == (200, b"hello")
    assert parser.response.header("content-type") == "text/plain"
    assert parser.keep_alive
    assert not parser.trailing


def test_connection_close_response_is_not_reusable() -> None:
    parser = ResponseParser()
    assert parser.feed(OK.replace(b"Content-Type", b"Connection: close\r\nContent-Type"))
    assert not parser.keep_alive


def test_chunked_response() -> None:
    data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    parser = _feed_bytewise(data)
    assert parser.response is not None
    assert parser.response.body == b"abcde"
    assert parser.keep_alive


def test_eof_delimited_body_completes_at_eof() -> None:
    parser = ResponseParser()
    assert not parser.feed(b"HTTP/1.0 200 OK\r\n\r\npart one, ")
    assert not parser.feed(b"part two")
    assert parser.feed_eof()
    assert parser.response is not None
    assert parser.response.body == b"part one, part two"
    assert not parser.keep_alive


def test_bodyless_status_needs_no_eof() -> None:
    parser = ResponseParser()
    assert parser.feed(b"HTTP/1.1 204 No Content\r\n\r\n")
    assert parser.response is not None
    assert parser.response.body == b""


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
    assert parser.response is not None
    assert (parser.response.status, parser.response.body) == (200, b"hello")
    assert parser.trailing
    assert parser.feed(b"more garbage")


@pytest.mark.parametrize(("url", "expected"), [
    ("http://127.0.0.1:8080/work?id=3&size=64", ("127.0.0.1", 8080, "/work?id=3&size=64")),
    ("http://localhost/", ("localhost", 80, "/")),
    ("http://[::1]:9000/work", ("::1", 9000, "/work")),
])
def test_split_url(url: str, expected: tuple[str, int, str]) -> None:
    assert split_url(url) == expected


# -- headers are parsed only when read: the same headers, the same framing -------------------------------

def test_headers_are_parsed_when_read_and_equal_a_constructed_response() -> None:
    parser = ResponseParser()
    assert parser.feed(b"HTTP/1.1 200 OK\r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 2\r\n\r\nhi")
    response = parser.response
    assert response == Response(200, [("x-a", "1"), ("x-a", "2"), ("content-length", "2")], b"hi")
    assert response is not None
    assert response.header("X-A") == "1"
    assert repr(response) == (
        "Response(status=200, headers=[('x-a', '1'), ('x-a', '2'), ('content-length', '2')], body=b'hi')")
    assert Response(204).headers == []
    assert Response(204) != "not a response"


def test_trailer_fields_are_not_headers_however_the_bytes_arrive() -> None:
    data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\nX-Trailer: t\r\n\r\n"
    at_once = ResponseParser()
    assert at_once.feed(data)
    for parser in (_feed_bytewise(data), at_once):
        assert parser.response is not None
        assert parser.response.body == b"ab"
        assert parser.response.headers == [("transfer-encoding", "chunked")]


def test_headers_split_across_feeds_are_all_kept() -> None:
    parser = _feed_bytewise(b"HTTP/1.1 200 OK\r\nServer: s\r\nContent-Length: 3\r\n\r\nabc")
    assert parser.response is not None
    assert parser.response.headers == [("server", "s"), ("content-length", "3")]


# -- memory: what a finished response keeps ---------------------------------------------------------------

BIG_HEAD = b"HTTP/1.1 200 OK\r\nServer: s\r\nContent-Length: 200000\r\n\r\n"


def _big_response(parser: ResponseParser) -> Response:
    """200,000 body bytes in the sizes a 64 KiB recv brings them, the first with the header."""
    data = BIG_HEAD + bytes(200_000)
    done = [parser.feed(data[i:i + 65536]) for i in range(0, len(data), 65536)]
    assert done[-1]
    assert not any(done[:-1])
    assert parser.response is not None
    return parser.response


def test_a_finished_parser_is_freed_without_the_cyclic_gc() -> None:
    """No reference cycle outlives a response (httptools' parser holds ours): its body chunks, a second copy
    of the body, must go with the last reference, not wait for a gen-2 collection."""
    gc.collect()
    gc.disable()
    try:
        parser = ResponseParser()
        response = _big_response(parser)
        del parser
        assert gc.collect() == 0
    finally:
        gc.enable()
    assert response.body == bytes(200_000)


def test_a_response_keeps_its_header_not_the_body_that_came_with_it() -> None:
    response = _big_response(ResponseParser())
    assert b"".join(response._head) == BIG_HEAD  # the lazily parsed header, without 64 KiB of body
    assert response.headers == [("server", "s"), ("content-length", "200000")]


_NAMES = st.sampled_from(["Server", "Content-Type", "X-Id", "Connection", "Date"])
_VALUES = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7e), min_size=1, max_size=12)


@st.composite
def _responses(draw: st.DrawFn) -> tuple[bytes, int, list[tuple[str, str]], bytes, str]:
    """(wire bytes, status, headers as parsed, body, framing) of one well-formed response."""
    status = draw(st.sampled_from([200, 201, 204, 304, 404, 500]))
    framing = "none" if status in (204, 304) else draw(st.sampled_from(["length", "chunked", "eof"]))
    body = b"" if framing == "none" else draw(st.binary(max_size=40))
    headers = [(name, value) for name, value in draw(st.lists(st.tuples(_NAMES, _VALUES), max_size=4))
               if name != "Connection"]
    if draw(st.booleans()):
        headers.append(("Connection", draw(st.sampled_from(["close", "keep-alive"]))))
    if framing == "length":
        headers.append(("Content-Length", str(len(body))))
        wire_body = body
    elif framing == "chunked":
        headers.append(("Transfer-Encoding", "chunked"))
        wire_body = (f"{len(body):x}\r\n".encode() + body + b"\r\n" if body else b"") + b"0\r\n\r\n"
    else:
        wire_body = body
    head = f"HTTP/1.1 {status} X\r\n" + "".join(f"{name}: {value}\r\n" for name, value in headers) + "\r\n"
    return head.encode() + wire_body, status, [(n.lower(), v) for n, v in headers], body, framing


@given(_responses(), st.lists(st.integers(min_value=0), max_size=4))
@settings(max_examples=300, deadline=None)
def test_any_response_split_anywhere_parses_to_what_was_sent(
    response: tuple[bytes, int, list[tuple[str, str]], bytes, str], cuts: list[int]
) -> None:
    wire, status, headers, body, framing = response
    bounds = sorted({0, len(wire), *(cut % (len(wire) + 1) for cut in cuts)})
    parser = ResponseParser()
    done = [parser.feed(wire[a:b]) for a, b in itertools.pairwise(bounds)]
    if framing == "eof":
        assert not any(done)
        assert parser.feed_eof()
    else:
        assert done[-1]
        assert not any(done[:-1])
    assert parser.response is not None
    assert (parser.response.status, parser.response.body, parser.response.headers) == (status, body, headers)
    closes = framing == "eof" or ("connection", "close") in headers
    assert parser.keep_alive is not closes
    assert not parser.trailing


@given(_responses(), st.integers(min_value=1))
@settings(max_examples=300, deadline=None)
def test_any_response_cut_short_is_an_error_at_eof(
    response: tuple[bytes, int, list[tuple[str, str]], bytes, str], cut: int
) -> None:
    wire, _, _, _, framing = response
    head_end = wire.index(b"\r\n\r\n") + 4
    size = cut % len(wire)  # a strict prefix
    if framing == "eof" and size >= head_end:  # an EOF-delimited body is complete whatever its length
        return
    parser = ResponseParser()
    assert not parser.feed(wire[:size])
    expected = "before a complete response header" if size < head_end else "mid-body"
    with pytest.raises(ProtocolError, match=expected):
        parser.feed_eof()


# -- split_url: urlsplit's answer, origin split once -----------------------------------------------------

def _answer(split: Callable[[str], tuple[str, int, str]], url: str) -> tuple[str, int, str] | str:
    """What ``split`` returns for ``url``, or the name of what it raises."""
    try:
        return split(url)
    except ValueError as exc:
        return type(exc).__name__


def _by_urlsplit(url: str) -> tuple[str, int, str]:
    parts = urlsplit(url)
    target = f"{parts.path}?{parts.query}" if parts.query else parts.path
    return parts.hostname or "127.0.0.1", parts.port or (443 if parts.scheme == "https" else 80), target


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/work?delay_ms=0&size=64&id=7", "http://h", "http://h?q=1", "http://H.example/p?",
    "http://h/p?#f", "http://h/p#f?x", "http://h:80/a?b?c", "http://[::1]:9/p", "HTTP://h/p", "http://u@h:1/",
    "http://h/a b", " http://h/p", "http://h/p\r\nX: 1", "http://h/é?x=ü", "http:///p",
])
def test_split_url_answers_as_urlsplit(url: str) -> None:
    assert split_url(url) == _by_urlsplit(url)


@given(st.sampled_from(["http", "https", "HTTP"]),
       st.sampled_from(["127.0.0.1", "h", "Host.Ex", "[::1]", ""]), st.sampled_from(["", ":8080", ":1"]),
       st.text(alphabet="/?#&=% abXYZ09\t.-é", max_size=30))
@settings(max_examples=500, deadline=None)
def test_any_url_splits_as_urlsplit_splits_it(scheme: str, host: str, port: str, rest: str) -> None:
    url = f"{scheme}://{host}{port}{rest}"
    assert _answer(split_url, url) == _answer(_by_urlsplit, url)


def test_split_url_raises_for_a_bad_port_as_urlsplit_does() -> None:
    with pytest.raises(ValueError, match="Port out of range"):
        split_url("http://h:99999/p")


@pytest.mark.parametrize(("host", "port", "expected"), [
    ("127.0.0.1", 8080, "127.0.0.1:8080"), ("::1", 8080, "[::1]:8080"), ("example.test", 80, "example.test"),
])
def test_host_header_brackets_ipv6_and_leaves_out_port_80(host: str, port: int, expected: str) -> None:
    assert host_header(host, port) == expected
