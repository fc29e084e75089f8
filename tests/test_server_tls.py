"""local_server over TLS (``--tls``), live on each backend: every route, keep-alive, close, pipelining,
pacing and the faults behave as their plain counterparts, and the handshake's settings (version, ALPN,
tickets and resumption, the CA file, a certificate of the user's own).

Each fault's expectation over TLS is its plain meaning inside the TLS stream: ``reset`` is an RST with no
answer; ``close`` a clean close (close_notify, then FIN) with no answer; ``truncate`` a clean close
mid-body; ``garbage`` bytes that decrypt fine and are not HTTP; ``stall`` no answer until the idle timeout.
They are read off the wire (``tls_ending``: memory BIOs over a raw socket), because Python's ``ssl`` sockets
report an RST that follows TLS records as an EOF, not as ECONNRESET (seen with OpenSSL 3.0, Python 3.11).
"""

from __future__ import annotations

import re
import socket
import ssl
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from local_server.api import ServerProcess, fetch_stats, reset_stats
from local_server.backends import BACKENDS
from local_server.payload import ROOT_BODY, bytes_body, expected_response, work_body
from strategies.http1 import ResponseParser
from tests.server_client import READ_TIMEOUT_S, address, connect, exchange, get, read_many, read_responses
from tests.tiers import each_backend

pytestmark = pytest.mark.timeout(120)
trustme = pytest.importorskip("trustme", reason="the TLS tests need trustme: pip install 'concbench[tls]'")


@dataclass
class Tls:
    """A running TLS server: its URL, the CA file that verifies it, a client context trusting that CA."""

    url: str
    ca_file: str
    context: ssl.SSLContext


def client_context(ca_file: str, alpn: tuple[str, ...] = ("http/1.1",)) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_file)  # host name checked, certificate verified
    context.set_alpn_protocols(list(alpn))
    return context


@pytest.fixture(scope="module", params=each_backend(BACKENDS))
def tls(request: pytest.FixtureRequest) -> Iterator[Tls]:
    with ServerProcess(backend=request.param, tls=True, extra_args=("--idle-timeout", "5")) as server:
        assert server.ca_file is not None
        yield Tls(server.url, server.ca_file, client_context(server.ca_file))


def _get(target: str, keep_alive: bool = False) -> bytes:
    connection = "" if keep_alive else "Connection: close\r\n"
    return f"GET {target} HTTP/1.1\r\nHost: t\r\n{connection}\r\n".encode()


def tls_ending(url: str, context: ssl.SSLContext, request: bytes) -> tuple[bytes, str]:
    """Send ``request`` over TLS and read until the stream ends; return the plaintext received and how it
    ended: "close_notify" (then FIN), "fin" (no close_notify) or "reset" (an RST)."""
    raw = socket.create_connection(address(url), timeout=READ_TIMEOUT_S)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=address(url)[0])
    plaintext = bytearray()
    with raw:
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                raw.sendall(outgoing.read())
                incoming.write(raw.recv(65536))
        tls.write(request)
        raw.sendall(outgoing.read())
        while True:
            try:
                data = raw.recv(65536)
            except ConnectionResetError:
                return bytes(plaintext), "reset"
            incoming.write(data) if data else incoming.write_eof()
            while True:
                try:
                    chunk = tls.read(65536)
                except ssl.SSLWantReadError:
                    break
                except ssl.SSLEOFError:  # the memory BIO's EOF (our FIN) came before any close_notify
                    return bytes(plaintext), "fin"
                if not chunk:  # an SSLObject reads a close_notify as the end of the stream
                    return bytes(plaintext), "close_notify"
                plaintext += chunk


# Routes ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["/", "/bytes/0", "/bytes/1", "/bytes/100000", "/bytes/3000000",
                                    "/work?size=1000&id=3", "/work?delay_ms=30&size=64&id=9", "/delay/0"])
def test_content_routes_match_payload_byte_for_byte(tls: Tls, target: str) -> None:
    response = get(tls.url, target, context=tls.context)
    expected = expected_response(tls.url.rstrip("/") + target)
    assert (response.status, response.body) == (expected or (200, b"delayed 0 ms\n"))


@pytest.mark.parametrize("code", [201, 204, 404, 503])
def test_status_route(tls: Tls, code: int) -> None:
    response = get(tls.url, f"/status/{code}", context=tls.context)
    assert response.status == code
    assert response.body == (b"" if code == 204 else f"status {code}\n".encode())


def test_keep_alive_reuses_one_tls_connection(tls: Tls) -> None:
    reset_stats(tls.url, ca_file=tls.ca_file)
    with connect(tls.url, tls.context) as sock:
        for i in range(20):
            sock.sendall(b"GET /work?size=%d&id=%d HTTP/1.1\r\nHost: t\r\n\r\n" % (i * 1000, i))
            [response] = read_responses(sock, 1).responses
            assert response.body == work_body(i, i * 1000)
            assert response.header("connection") is None
    stats = fetch_stats(tls.url, ca_file=tls.ca_file)
    assert stats["requests"] == 20
    assert stats["tls_handshakes"]["full"] + stats["tls_handshakes"]["resumed"] == 2  # ours and this fetch's


def test_connection_close_is_a_clean_tls_close(tls: Tls) -> None:
    plaintext, ending = tls_ending(tls.url, tls.context, _get("/"))
    assert ending == "close_notify"
    assert plaintext.endswith(b"Connection: close\r\nContent-Length: 23\r\n\r\n"
                                                            + ROOT_BODY)
    result = exchange(tls.url, _get("/"), context=tls.context)
    assert [r.body for r in result.responses] == [ROOT_BODY]
    assert result.closed
    assert not result.reset


def test_echo_body_split_across_many_records(tls: Tls) -> None:
    body = bytes(range(256)) * 20
    data = b"POST /echo HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    [response] = exchange(tls.url, data, 1, chunk=7, context=tls.context).responses  # one record per 7 bytes
    assert response.body == body


def test_a_large_upload_in_many_records_at_once(tls: Tls) -> None:
    body = bytes(range(251)) * 4000  # ~1 MB: many 16 KiB records arrive together
    data = b"POST /echo HTTP/1.1\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
    [response] = exchange(tls.url, data, 1, context=tls.context).responses
    assert response.body == body


def test_pipelined_requests_are_answered_in_order_despite_delays(tls: Tls) -> None:
    targets = [b"/delay/80", b"/work?size=5&id=1", b"/work?delay_ms=40&size=5&id=2", b"/", b"/bytes/3"]
    data = b"".join(b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % t for t in targets)
    responses = exchange(tls.url, data, len(targets), context=tls.context).responses
    assert [r.body for r in responses] == [b"delayed 80 ms\n", work_body(1, 5), work_body(2, 5), ROOT_BODY,
                                           bytes_body(3)]


def test_many_pipelined_requests_one_byte_per_record(tls: Tls) -> None:
    data = b"GET /bytes/10 HTTP/1.1\r\n\r\n" * 30 + b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n"
    result = exchange(tls.url, data, chunk=1, context=tls.context)
    assert len(result.responses) == 31
    assert result.closed


def test_a_bad_request_over_tls_is_answered_then_closed(tls: Tls) -> None:
    result = exchange(tls.url, b"GARBAGE\r\n\r\n", context=tls.context)
    assert [r.status for r in result.responses] == [400]
    assert result.closed


def test_a_client_that_never_reads_a_large_body_blocks_no_one(tls: Tls) -> None:
    with connect(tls.url, tls.context) as sock:
        sock.sendall(_get("/bytes/8000000", keep_alive=True))  # far more than the socket buffers hold
        assert get(tls.url, "/", context=tls.context).body == ROOT_BODY  # while its writes would block
        result = read_responses(sock, 1, timeout=60)
    assert [r.body for r in result.responses] == [bytes_body(8_000_000)]


# Pacing ------------------------------------------------------------------------------------------------

def test_a_paced_answer_trickles_and_arrives_whole(tls: Tls) -> None:
    reset_stats(tls.url, ca_file=tls.ca_file)
    parser = ResponseParser()
    with connect(tls.url, tls.context) as sock:
        started = time.monotonic()
        sock.sendall(_get("/work?size=8000&id=2&rate_kbps=64"))  # 8000 bytes/s: one second of body
        assert not parser.feed(sock.recv(65536))  # the head, perhaps a first chunk: not yet complete
        stats = fetch_stats(tls.url, ca_file=tls.ca_file)  # answered while the body trickles
        assert stats["in_flight"] == 1
        while not parser.feed(sock.recv(65536)):
            pass
        assert time.monotonic() - started >= 0.9  # a lower bound only: the link never carries it early
    assert parser.response is not None
    assert parser.response.body == work_body(2, 8000)
    assert fetch_stats(tls.url, ca_file=tls.ca_file)["in_flight"] == 0


def test_many_paced_answers_overlap(tls: Tls) -> None:
    reset_stats(tls.url, ca_file=tls.ca_file)
    socks = [connect(tls.url, tls.context) for _ in range(10)]
    try:
        for k, sock in enumerate(socks):
            sock.sendall(_get(f"/work?size=4000&id={k}&rate_kbps=64"))
        results = read_many(socks, 1, timeout=30)
    finally:
        for sock in socks:
            sock.close()
    assert [r.responses[0].body for r in results] == [work_body(k, 4000) for k in range(10)]
    assert fetch_stats(tls.url, ca_file=tls.ca_file)["peak_in_flight"] == 10


# Faults ------------------------------------------------------------------------------------------------

def test_fault_reset_is_an_rst_without_an_answer(tls: Tls) -> None:
    assert tls_ending(tls.url, tls.context, b"GET /fault/reset HTTP/1.1\r\n\r\n") == (b"", "reset")


def test_fault_close_is_a_clean_close_without_an_answer(tls: Tls) -> None:
    assert tls_ending(tls.url, tls.context, b"GET /fault/close HTTP/1.1\r\n\r\n") == (b"", "close_notify")
    result = exchange(tls.url, b"GET /fault/close HTTP/1.1\r\n\r\n", context=tls.context)
    assert result.closed
    assert not result.reset
    assert not result.responses


def test_fault_truncate_closes_mid_body(tls: Tls) -> None:
    plaintext, ending = tls_ending(tls.url, tls.context, b"GET /fault/truncate HTTP/1.1\r\n\r\n")
    assert ending == "close_notify"
    assert plaintext.startswith(b"HTTP/1.1 200 OK\r\n")
    result = exchange(tls.url, b"GET /fault/truncate HTTP/1.1\r\n\r\n", context=tls.context)
    assert result.closed
    assert not result.reset
    assert not result.responses
    assert re.search(r"mid-body \(truncated after [1-9][0-9]* body bytes\)", result.truncated), result


def test_fault_garbage_is_garbage_http_inside_the_tls_stream(tls: Tls) -> None:
    plaintext, ending = tls_ending(tls.url, tls.context, b"GET /fault/garbage HTTP/1.1\r\n\r\n")
    assert ending == "close_notify"
    assert b"THIS IS NOT HTTP" in plaintext
    result = exchange(tls.url, b"GET /fault/garbage HTTP/1.1\r\n\r\n", context=tls.context)
    assert result.garbage
    assert not result.responses


def test_fault_stall_answers_nothing_until_the_idle_timeout() -> None:
    with ServerProcess(backend="epoll", tls=True, extra_args=("--idle-timeout", "0.5")) as server:
        assert server.ca_file is not None
        started = time.monotonic()
        assert tls_ending(server.url, client_context(server.ca_file), b"GET /fault/stall HTTP/1.1\r\n\r\n") \
            == (b"", "close_notify")
        assert time.monotonic() - started >= 0.4  # closed by the idle timeout, not before
        assert fetch_stats(server.url, ca_file=server.ca_file)["in_flight"] == 0


def test_a_client_reset_mid_paced_body_frees_its_slot(tls: Tls) -> None:
    reset_stats(tls.url, ca_file=tls.ca_file)
    sock = connect(tls.url, tls.context)
    sock.sendall(_get("/work?size=100000&id=1&rate_kbps=8"))  # 100 s of body: the client will not wait
    sock.recv(100)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # an RST: the server sees the error on its next release
    deadline = time.monotonic() + READ_TIMEOUT_S
    while fetch_stats(tls.url, ca_file=tls.ca_file)["in_flight"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fetch_stats(tls.url, ca_file=tls.ca_file)["in_flight"] == 0


# /stats ------------------------------------------------------------------------------------------------

def test_stats_keep_every_plain_key_and_add_the_tls_ones(tls: Tls) -> None:
    reset_stats(tls.url, ca_file=tls.ca_file)
    for target in ["/", "/status/404"]:
        get(tls.url, target, context=tls.context)
    stats = fetch_stats(tls.url, ca_file=tls.ca_file)
    assert set(stats) == {"backend", "requests", "open_connections", "in_flight", "peak_in_flight",
                          "bad_requests", "status_counts", "pid", "cpu_s", "uptime_s", "loop_lag_max_s", "tls",
                          "tls_handshakes", "tls_handshake_failures", "tls_ciphers"}
    assert stats["requests"] == 2
    assert stats["status_counts"] == {"200": 1, "404": 1}
    assert stats["tls"] == {"version": "TLSv1.3", "tickets": True, "alpn": ["http/1.1"],
                            "handshake_timeout_s": 5.0}  # at most the idle timeout
    handshakes = stats["tls_handshakes"]
    assert handshakes["full"] == 3
    assert handshakes["resumed"] == 0
    assert handshakes["full_cpu_s"] > 0
    assert handshakes["resumed_cpu_s"] == 0
    assert stats["tls_handshake_failures"] == {}
    assert sum(stats["tls_ciphers"].values()) == 3
    assert all(name.startswith("TLS_") for name in stats["tls_ciphers"])


# Handshake settings ------------------------------------------------------------------------------------

def _handshake(url: str, context: ssl.SSLContext, session: ssl.SSLSession | None = None,
               host: str = "127.0.0.1") -> tuple[ssl.SSLSocket, bytes]:
    """A handshake and one request on a new connection; the socket (still open) and the response."""
    sock = context.wrap_socket(socket.create_connection(address(url), timeout=READ_TIMEOUT_S),
                               server_hostname=host, session=session)
    sock.sendall(_get("/", keep_alive=True))
    response = read_responses(sock, 1).responses  # reading it also reads the tickets sent before it
    assert [r.body for r in response] == [ROOT_BODY]
    return sock, response[0].body


def test_tls13_by_default_with_alpn_http11(tls: Tls) -> None:
    sock, _ = _handshake(tls.url, client_context(tls.ca_file, ("h2", "http/1.1")))
    with sock:
        assert sock.version() == "TLSv1.3"
        assert sock.selected_alpn_protocol() == "http/1.1"


def test_a_client_without_alpn_is_served(tls: Tls) -> None:
    context = ssl.create_default_context(cafile=tls.ca_file)
    sock, _ = _handshake(tls.url, context)
    with sock:
        assert sock.selected_alpn_protocol() is None


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_tickets_resume_and_are_counted_as_resumed(version: str) -> None:
    with ServerProcess(backend="epoll", tls=True, extra_args=("--tls-version", version)) as server:
        assert server.ca_file is not None
        context = client_context(server.ca_file)
        first, _ = _handshake(server.url, context)
        with first:
            assert first.version() == f"TLSv{version}"
            assert not first.session_reused
            session = first.session
            assert session is not None
            assert session.has_ticket
        reset_stats(server.url, ca_file=server.ca_file)
        second, _ = _handshake(server.url, context, session)
        with second:
            assert second.session_reused
        handshakes = fetch_stats(server.url, ca_file=server.ca_file)["tls_handshakes"]
        assert (handshakes["full"], handshakes["resumed"]) == (1, 1)  # the fetch's, and ours resumed
        assert handshakes["resumed_cpu_s"] > 0


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_no_tickets_gives_full_handshakes_only(version: str) -> None:
    # TLS 1.2 could still resume by session ID from a server-side cache; Python's server contexts keep none.
    with ServerProcess(backend="epoll", tls=True, extra_args=("--no-tickets", "--tls-version", version)) as server:
        assert server.ca_file is not None
        context = client_context(server.ca_file)
        first, _ = _handshake(server.url, context)
        with first:
            session = first.session
            assert session is not None
            assert not session.has_ticket
        for _ in range(3):
            sock, _ = _handshake(server.url, context, session)  # offered, never taken
            with sock:
                assert not sock.session_reused
        stats = fetch_stats(server.url, ca_file=server.ca_file)
        assert stats["tls"]["tickets"] is False
        assert stats["tls_handshakes"]["resumed"] == 0
        assert stats["tls_handshakes"]["full"] >= 5


def test_tls_version_12_gives_12() -> None:
    with ServerProcess(backend="select", tls=True, extra_args=("--tls-version", "1.2")) as server:
        assert server.ca_file is not None
        sock, _ = _handshake(server.url, client_context(server.ca_file))
        with sock:
            assert sock.version() == "TLSv1.2"
            assert sock.selected_alpn_protocol() == "http/1.1"
        assert fetch_stats(server.url, ca_file=server.ca_file)["tls"]["version"] == "TLSv1.2"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_the_ca_file_verifies_the_server_with_host_name_checking(tls: Tls, host: str) -> None:
    context = ssl.create_default_context(cafile=tls.ca_file)
    assert context.check_hostname
    assert context.verify_mode == ssl.CERT_REQUIRED
    sock, _ = _handshake(tls.url, context, host=host)
    sock.close()
    with pytest.raises(ssl.SSLCertVerificationError):  # a name the certificate does not cover
        _handshake(tls.url, context, host="example.com")
    with pytest.raises(ssl.SSLCertVerificationError):  # and the system's CAs do not know ours
        _handshake(tls.url, ssl.create_default_context(), host=host)


def test_the_certificate_names_every_loopback_address(tls: Tls) -> None:
    sock, _ = _handshake(tls.url, tls.context)
    with sock:
        peer = sock.getpeercert()
    assert peer is not None
    assert set(peer["subjectAltName"]) == {("IP Address", "127.0.0.1"), ("DNS", "localhost"),
                                           ("IP Address", "0:0:0:0:0:0:0:1")}  # ::1, as ssl spells it


def test_the_certificate_covers_ipv6_loopback() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        server = ServerProcess(backend="epoll", host="::1", tls=True)
        server.start()
    except Exception as exc:  # noqa: BLE001 - a machine without ::1 configured
        pytest.skip(f"cannot serve on ::1: {exc}")
    try:
        assert server.ca_file is not None
        assert server.url.startswith("https://[::1]:")
        assert fetch_stats(server.url, ca_file=server.ca_file)["requests"] == 0  # verified against ::1
    finally:
        server.stop()


def test_cert_and_key_serve_the_given_certificate(tmp_path: Path) -> None:
    authority = trustme.CA(organization_name="the user's own CA")
    leaf = authority.issue_cert("127.0.0.1", common_name="users-own-cert")
    cert, key, ca = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    leaf.cert_chain_pems[0].write_to_path(cert)
    leaf.private_key_pem.write_to_path(key)
    authority.cert_pem.write_to_path(ca)
    with ServerProcess(backend="poll", tls=True, ca_file=str(ca),
                       extra_args=("--cert", str(cert), "--key", str(key))) as server:
        sock, _ = _handshake(server.url, client_context(str(ca)))
        with sock:
            peer = sock.getpeercert()
            assert peer is not None
            assert (("commonName", "users-own-cert"),) in peer["subject"]


def test_the_first_line_is_the_https_url_and_the_ca_file_is_complete_by_then(tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    command = [sys.executable, "-m", "local_server", "--tls", "--ca-file", str(ca_file)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as popen:
        try:
            assert popen.stdout is not None
            line = popen.stdout.readline().decode()
            assert re.fullmatch(r"https://127\.0\.0\.1:[0-9]+/\n", line), line
            assert get(line.strip(), "/", context=client_context(str(ca_file))).body == ROOT_BODY
        finally:
            popen.terminate()
            assert popen.wait(10) == 0
            assert popen.stdout is not None
            popen.stdout.close()
    assert ca_file.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    assert b"PRIVATE KEY" not in ca_file.read_bytes()  # the CA's key never leaves the server's memory


def test_server_process_removes_its_ca_directory() -> None:
    server = ServerProcess(backend="epoll", tls=True)
    server.start()
    assert server.ca_file is not None
    ca_file = Path(server.ca_file)
    assert ca_file.exists()
    server.stop()
    assert not ca_file.parent.exists()
