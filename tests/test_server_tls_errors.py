"""Bad TLS input on each backend: every case ends its connection with a count in ``/stats``
(``tls_handshake_failures``), costs the loop nothing (a good request is answered after each, and while 50
handshakes stall), and leaves no traceback on the server's stderr; and the CLI's TLS flags.

| case                                   | counter                     | the client sees                  |
|----------------------------------------|-----------------------------|----------------------------------|
| a plain HTTP request (GET/POST/HEAD/PUT) | plain_http (+ a 400)        | nginx's plain-text 400, a close  |
| random bytes, another protocol         | not_tls                     | a close or an RST, no answer     |
| a garbled ClientHello                  | bad_hello                   | an alert, a close                |
| a truncated ClientHello, then a close  | eof                         | a decode_error alert, a close    |
| a reset mid-handshake                  | reset                       | (nothing: it left)               |
| TLS 1.2 against 1.3, TLS 1.1           | version                     | a protocol_version alert         |
| a client that refuses our certificate  | tlsv1_alert_unknown_ca      | its own verification error       |
| a handshake that stalls                | timeout                     | a close at the handshake timeout |
"""

from __future__ import annotations

import errno
import random
import socket
import ssl
import struct
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local_server.api import ServerProcess, Stats, fetch_stats, reset_stats
from local_server.backends import BACKENDS
from local_server.payload import ROOT_BODY
from tests.server_client import READ_TIMEOUT_S, address, connect, exchange, get, read_responses
from tests.tiers import each_backend

pytestmark = pytest.mark.timeout(120)
pytest.importorskip("trustme", reason="the TLS tests need trustme: pip install 'concbench[tls]'")

#: Short enough to see stalled handshakes closed in a test, long enough that a fetch made while 50 of them
#: stall is answered well before they expire (a fetch takes milliseconds; this is a hang guard).
HANDSHAKE_TIMEOUT = 2.0
#: How long a test waits for the server to count what it just did (its loop runs within milliseconds).
SETTLE_S = 10.0


class Target:
    """A running TLS server, the context that trusts it, and the file its stderr goes to."""

    def __init__(self, url: str, ca_file: str, stderr: Path) -> None:
        self.url, self.ca_file, self.stderr = url, ca_file, stderr
        self.context = ssl.create_default_context(cafile=ca_file)

    def stats(self) -> Stats:
        return fetch_stats(self.url, ca_file=self.ca_file)

    def reset(self) -> None:
        reset_stats(self.url, ca_file=self.ca_file)

    def failures_after(self, kind: str, count: int = 1) -> dict[str, int]:
        """The failure counts once ``kind`` reached ``count`` (or the last read, after SETTLE_S)."""
        deadline = time.monotonic() + SETTLE_S
        while True:
            failures = self.stats()["tls_handshake_failures"]
            if failures.get(kind, 0) >= count or time.monotonic() > deadline:
                return failures
            time.sleep(0.02)

    def assert_still_serves(self) -> None:
        assert get(self.url, "/", context=self.context).body == ROOT_BODY


@pytest.fixture(scope="module", params=each_backend(BACKENDS))
def target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    stderr = tmp_path_factory.mktemp("tls") / "server.stderr"
    with stderr.open("wb") as log:
        server = ServerProcess(backend=request.param, tls=True, stderr=log,
                               extra_args=("--idle-timeout", "10", "--handshake-timeout", str(HANDSHAKE_TIMEOUT)))
        with server:
            assert server.ca_file is not None
            yield Target(server.url, server.ca_file, stderr)
    text = stderr.read_text()
    assert "Traceback" not in text, text
    assert "Error" not in text, text  # every bad case ended quietly


def client_hello() -> bytes:
    """The first flight of a real TLS 1.3 client (its ClientHello record), made in memory."""
    context = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


HELLO = client_hello()


def send_and_end(url: str, data: bytes) -> tuple[bytes, bool]:
    """Send ``data`` on a raw socket, half-close, read until the server ends it: (bytes back, reset?)."""
    received = bytearray()
    with socket.create_connection(address(url), timeout=READ_TIMEOUT_S) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            while chunk := sock.recv(65536):
                received += chunk
        except (ConnectionResetError, BrokenPipeError):
            return bytes(received), True
        except OSError as exc:  # ENOTCONN: the server's RST came before our shutdown
            if exc.errno != errno.ENOTCONN:
                raise
            return bytes(received), True
    return bytes(received), False


# The cases -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["GET", "POST", "HEAD", "PUT"])
def test_a_plain_http_request_gets_nginx_s_400_in_plain_text(target: Target, method: str) -> None:
    target.reset()
    body = b"" if method in ("GET", "HEAD") else b"a=1"
    request = f"{method} / HTTP/1.1\r\nHost: t\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
    result = exchange(target.url, request)  # no context: plain text on the TLS port
    assert [r.status for r in result.responses] == [400]
    assert result.closed
    assert not result.reset
    assert result.responses[0].body == b"The plain HTTP request was sent to HTTPS port\n"
    stats = target.stats()
    assert stats["tls_handshake_failures"] == {"plain_http": 1}
    assert (stats["bad_requests"], stats["status_counts"]) == (1, {"400": 1})
    target.assert_still_serves()


def test_random_bytes_are_not_tls(target: Target) -> None:
    target.reset()
    noise = bytes([0x9C]) + random.Random(18).randbytes(299)  # 0x9c: no TLS record type, not a letter
    received, _ = send_and_end(target.url, noise)
    assert b"HTTP" not in received
    assert target.failures_after("not_tls") == {"not_tls": 1}
    target.assert_still_serves()


def test_a_garbled_client_hello_is_a_bad_hello(target: Target) -> None:
    target.reset()
    hello = bytearray(HELLO)
    hello[9:60] = random.Random(5).randbytes(51)  # the record header stands, the handshake inside is noise
    send_and_end(target.url, bytes(hello))
    assert target.failures_after("bad_hello") == {"bad_hello": 1}
    target.assert_still_serves()


def test_a_truncated_client_hello_then_a_close_is_an_eof(target: Target) -> None:
    target.reset()
    hello = HELLO
    received, _ = send_and_end(target.url, hello[:len(hello) // 2])
    assert received in (b"", b"\x15\x03\x03\x00\x02\x02\x32")  # nothing, or OpenSSL's decode_error alert
    assert target.failures_after("eof") == {"eof": 1}
    target.assert_still_serves()


def test_a_reset_mid_handshake_is_counted_as_reset(target: Target) -> None:
    target.reset()
    sock = socket.create_connection(address(target.url), timeout=READ_TIMEOUT_S)
    sock.sendall(HELLO[:20])
    deadline = time.monotonic() + SETTLE_S  # the server holds it mid-handshake before we reset it
    while target.stats()["open_connections"] < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # an RST
    assert target.failures_after("reset") == {"reset": 1}
    target.assert_still_serves()


@pytest.mark.parametrize("version", ["TLSv1_1", "TLSv1_2"])
def test_a_version_the_server_does_not_speak(target: Target, version: str) -> None:
    target.reset()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(target.ca_file)
    with warnings.catch_warnings():  # ssl.TLSVersion.TLSv1_1 is deprecated: the point of the test
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = context.maximum_version = getattr(ssl.TLSVersion, version)
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # let OpenSSL send a TLS 1.1 hello at all
    with pytest.raises(ssl.SSLError, match=r"(?i)protocol version|unsupported protocol"):
        connect(target.url, context).close()
    assert target.failures_after("version") == {"version": 1}
    target.assert_still_serves()


def test_a_client_that_refuses_our_certificate(target: Target) -> None:
    target.reset()
    with pytest.raises(ssl.SSLCertVerificationError):
        connect(target.url, ssl.create_default_context()).close()  # the system's CAs: ours is unknown
    assert target.failures_after("tlsv1_alert_unknown_ca") == {"tlsv1_alert_unknown_ca": 1}
    target.assert_still_serves()


@pytest.mark.slow  # waits out the handshake timeout
def test_fifty_stalled_handshakes_block_no_one_and_time_out(target: Target) -> None:
    target.reset()
    hello = HELLO
    stalled = [socket.create_connection(address(target.url), timeout=READ_TIMEOUT_S) for _ in range(50)]
    try:
        for sock in stalled[::2]:
            sock.sendall(hello[:len(hello) // 2])  # half a hello; the others send nothing at all
        deadline = time.monotonic() + SETTLE_S
        while target.stats()["open_connections"] < 51 and time.monotonic() < deadline:
            time.sleep(0.02)
        # While all 50 stall: a full handshake and a request, answered. The stats it reads prove the 50 were
        # still open and none had timed out yet when it was answered.
        stats = target.stats()
        assert stats["open_connections"] >= 51
        assert "timeout" not in stats["tls_handshake_failures"]
        target.assert_still_serves()
        # Then the handshake timeout closes every one of them, and counts them.
        assert target.failures_after("timeout", 50) == {"timeout": 50}
        for sock in stalled:
            assert read_responses(sock, timeout=READ_TIMEOUT_S).closed
    finally:
        for sock in stalled:
            sock.close()
    target.assert_still_serves()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=1, max_size=600) | st.lists(st.sampled_from(
    [HELLO[:5], HELLO[5:200], HELLO[200:], b"\x16\x03\x03\x00\x10", b"\x15\x03\x03\x00\x02",
     b"\x17\x03\x03\x00\x05hello", b"GET / HTTP/1.1\r\n\r\n", b"\x00", b"\xff" * 8]),
    min_size=1, max_size=8).map(b"".join))
def test_fuzz_never_crashes_the_loop_and_always_ends_the_connection(target: Target, data: bytes) -> None:
    send_and_end(target.url, data)  # returns only once the server has closed or reset it
    target.assert_still_serves()


# The CLI ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [["--tls-version", "1.3"], ["--no-tickets"], ["--ca-file", "x"],
                                  ["--tls", "--cert", "c.pem"], ["--tls", "--key", "k.pem"],
                                  ["--tls", "--cert", "c", "--key", "k", "--ca-file", "ca"],
                                  ["--tls", "--tls-version", "1.1"], ["--tls", "--handshake-timeout", "0"]])
def test_a_bad_tls_flag_is_one_line_and_status_2(args: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "local_server", *args], capture_output=True, text=True,
                          check=False, timeout=30)
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "error" in done.stderr, done.stderr


def test_a_certificate_that_does_not_load_is_one_line_and_status_1(tmp_path: Path) -> None:
    (tmp_path / "c.pem").write_text("not a certificate\n")
    done = subprocess.run([sys.executable, "-m", "local_server", "--tls", "--cert", str(tmp_path / "c.pem"),
                           "--key", str(tmp_path / "c.pem")], capture_output=True, text=True, check=False,
                          timeout=30)
    assert done.returncode == 1
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "--cert" in done.stderr, done.stderr


#: Runs the server with ``import trustme`` failing, as on a machine without it.
WITHOUT_TRUSTME = """
import runpy, sys
class NoTrustme:
    def find_spec(self, name, path=None, target=None):
        if name == "trustme":
            raise ImportError("No module named 'trustme'")
sys.meta_path.insert(0, NoTrustme())
sys.argv = ["local_server", "--tls"]
runpy.run_module("local_server", run_name="__main__")
"""


def test_a_missing_trustme_is_one_line_saying_how_to_get_it() -> None:
    done = subprocess.run([sys.executable, "-c", WITHOUT_TRUSTME], capture_output=True, text=True, check=False,
                          timeout=30)
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "trustme" in lines[0], lines
    assert "pip install 'concbench[tls]'" in lines[0], lines


def test_the_plain_server_needs_no_trustme() -> None:
    script = WITHOUT_TRUSTME.replace('"--tls"', '"--port", "0"')
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL) as popen:
        try:
            stdout: IO[bytes] | None = popen.stdout
            assert stdout is not None
            line = stdout.readline().decode()
            assert line.startswith("http://127.0.0.1:")
            assert get(line.strip(), "/").body == ROOT_BODY
        finally:
            popen.terminate()
            popen.wait(10)
            if popen.stdout is not None:
                popen.stdout.close()
