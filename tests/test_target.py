"""``bench.sweep.target`` and ``--server-url``: the URL's checks, the round trip, and the sweep against a server it
did not start.

The external server is the bundled one on 127.0.0.2, a second loopback address (Linux routes all of
127.0.0.0/8 to lo), so that it is reached at an address the sweep's own server never has. Servers that are
not ours: the stdlib ``http.server`` of ``tests/stdlib_server.py``, a stdlib server whose /stats is JSON
without our counters, a listener that answers bytes that are not HTTP, one that never answers, a closed port.
Through the real sweep (pytest in a subprocess) each must be one line and a non-zero exit status. As root
with iproute2, the server is also reached as a second host, in a network namespace of the test's own.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bench.report.document import render
from bench.report.sections.run import server_text
from bench.sweep import netns, target
from bench.sweep.netns import linked_server, parse_rate
from bench.sweep.options import resumed_server_url
from bench.sweep.target import TargetError, check_server, parse_server_url
from local_server.api import STATS_KEYS, running_server
from tests.stdlib_server import stdlib_server

ROOT = Path(__file__).resolve().parent.parent
#: The sweep in a subprocess: pytest's start and one tiny cell take ~10 s on a loaded 2-core machine.
SWEEP_TIMEOUT_S = 180


@pytest.fixture(scope="module")
def external_url() -> Iterator[str]:
    """The bundled server on 127.0.0.2 (a test server of its own: another loopback address than 127.0.0.1)."""
    with running_server(host="127.0.0.2") as url:
        yield url


@pytest.mark.parametrize(("text", "url"), [
    ("http://127.0.0.2:8080/", "http://127.0.0.2:8080/"),
    ("http://127.0.0.2:8080", "http://127.0.0.2:8080/"),
    (" HTTP://Example.org:81/ ", "http://example.org:81/"),
    ("http://example.org/", "http://example.org:80/"),
    ("http://[::1]:8080/", "http://[::1]:8080/"),
])
def test_parse_server_url_normalizes(text: str, url: str) -> None:
    assert parse_server_url(text) == url


@pytest.mark.parametrize(("text", "words"), [
    ("foo", "expected http://HOST:PORT/"),
    ("127.0.0.2:8080", "expected http://HOST:PORT/"),
    ("http://", "expected http://HOST:PORT/"),
    ("ftp://127.0.0.2:21/", "expected http://HOST:PORT/"),
    ("https://127.0.0.2:8443/", "not https://"),
    ("http://127.0.0.2:99999/", "out of range"),
    ("http://127.0.0.2:8080/work", "server's root"),
    ("http://127.0.0.2:8080/?x=1", "server's root"),
])
def test_parse_server_url_refuses_in_one_line(text: str, words: str) -> None:
    with pytest.raises(TargetError) as caught:
        parse_server_url(text)
    assert words in str(caught.value)
    assert "\n" not in str(caught.value)


def test_check_server_reads_our_stats_and_times_the_round_trip(external_url: str) -> None:
    stats, rtt = check_server(external_url, samples=5)
    assert stats["backend"] == "epoll"
    assert stats["in_flight"] == 0
    assert rtt["samples"] == 5
    for figures in (rtt["connect_ms"], rtt["request_ms"]):
        assert 0 < figures["min"] <= figures["median"] <= figures["p90"]
    assert set(stats) == set(STATS_KEYS)  # a plain server answers every key Stats requires, and no other
    # /stats is a control route: the check leaves the counters as they were
    assert check_server(external_url, samples=1)[0]["requests"] == 0


class _ForeignStats(BaseHTTPRequestHandler):
    """An HTTP/1.1 server whose /stats is JSON, but not our counters."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = json.dumps({"requests": 1}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def _foreign_stats_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ForeignStats)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextlib.contextmanager
def _listener(answer: bytes | None) -> Iterator[str]:
    """A TCP listener on loopback: it sends ``answer`` to whoever connects and closes, or (None) never
    accepts at all, so that a request is never answered."""
    sock = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        sock.settimeout(0.05)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(4096)
                conn.sendall(answer or b"")
    thread = threading.Thread(target=serve, daemon=True) if answer is not None else None
    if thread:
        thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
    finally:
        stop.set()
        if thread:
            thread.join()
        sock.close()


def _closed_port_url() -> str:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return f"http://127.0.0.1:{sock.getsockname()[1]}/"


def _one_line_error(url: str) -> str:
    with pytest.raises(TargetError) as caught:
        check_server(url, samples=1)
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith(url)
    return text


def test_check_server_refuses_what_is_not_ours(monkeypatch: pytest.MonkeyPatch) -> None:
    with stdlib_server() as server:
        assert "answered 404: not our server" in _one_line_error(server.url)
    with _foreign_stats_server() as url:
        lacking = ", ".join(key for key in STATS_KEYS if key != "requests")  # it has only "requests"
        assert f"lacks {lacking}: not our server" in _one_line_error(url)
    with _listener(b"SSH-2.0-OpenSSH_9.6\r\n") as url:
        assert "not answered in HTTP" in _one_line_error(url)
    assert "Connection refused" in _one_line_error(_closed_port_url())
    monkeypatch.setattr(target, "TIMEOUT_S", 0.3)  # the listener never answers: wait less than 3 s for it
    with _listener(None) as url:
        assert "no answer within 0.3 s" in _one_line_error(url)


def test_resume_needs_the_same_kind_of_server() -> None:
    assert resumed_server_url("run.json", None, None) is None
    assert resumed_server_url("run.json", "http://127.0.0.2:1/", "http://127.0.0.2:2") == "http://127.0.0.2:2/"
    with pytest.raises(ValueError, match="give --server-url"):
        resumed_server_url("run.json", "http://127.0.0.2:1/", None)
    with pytest.raises(ValueError, match="mix two servers"):
        resumed_server_url("run.json", None, "http://127.0.0.2:1/")


def _sweep(tmp_path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "bench/test_sweep.py", "--benchmark-disable", "--requests=10",
         "--concurrency=1,5", "--strategies=asyncio", "--workloads=latency", "--profiles=tuned",
         f"--results-dir={tmp_path / 'results'}", "-p", "no:cacheprovider", "-q", *options],
        cwd=ROOT, capture_output=True, text=True, timeout=SWEEP_TIMEOUT_S, check=False,
    )


@pytest.mark.slow  # a real sweep
def test_sweep_against_an_external_server(tmp_path: Path, external_url: str) -> None:
    done = _sweep(tmp_path, f"--server-url={external_url}")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    run = json.loads((tmp_path / "results" / "latest.json").read_text())
    server = run["server"]
    assert server["kind"] == "external"
    assert server["url"] == external_url
    assert server["backend"] == "epoll"
    assert server["rtt"]["samples"] == target.RTT_SAMPLES
    assert server["rtt"]["request_ms"]["median"] > 0
    assert run["options"]["server_url"] == external_url
    assert run["machine"]["pinning"]["server"] is None
    rows = run["rows"]
    assert len(rows) == 4
    assert all(row["status"] in ("ok", "flagged") for row in rows)
    for row in rows:
        assert row["summary"]["errors"] == 0
        assert row["summary"]["peak_in_flight_max"] == row["concurrency"]
        assert row["summary"]["server_cpu_ratio"] is not None  # the external server's own CPU time, from /stats
    assert f"an external local_server at {external_url}" in (tmp_path / "results" / "REPORT.md").read_text()


@pytest.mark.skipif(netns.unavailable_reason() is not None, reason=f"{netns.unavailable_reason()}")
@pytest.mark.slow  # a real sweep
def test_sweep_against_a_server_in_a_network_namespace(tmp_path: Path) -> None:
    """The server as a second host: in a namespace of the test's own (``bench.sweep.netns``, a 1 Gbit/s link),
    reached by its address there and nowhere else."""
    with linked_server(parse_rate("1gbit")) as running:
        done = _sweep(tmp_path, f"--server-url={running.url}")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    run = json.loads((tmp_path / "results" / "latest.json").read_text())
    assert run["server"]["kind"] == "external"
    assert run["server"]["url"] == running.url
    assert run["server"]["rtt"]["connect_ms"]["median"] > 0
    assert run["rows"]
    assert all(row["summary"]["errors"] == 0 for row in run["rows"])


@pytest.mark.slow  # a real sweep
def test_sweep_refuses_what_is_not_our_server_in_one_line(tmp_path: Path) -> None:
    with stdlib_server() as server:
        cases = [(server.url, "answered 404: not our server"), (_closed_port_url(), "Connection refused"),
                 ("not-a-url", "expected http://HOST:PORT/")]
        for url, words in cases:
            done = _sweep(tmp_path, f"--server-url={url}")
            output = done.stdout + done.stderr
            errors = [line for line in output.splitlines() if line.startswith("ERROR:")]
            assert done.returncode == pytest.ExitCode.USAGE_ERROR, output[-2000:]
            assert len(errors) == 1, output[-2000:]
            assert words in errors[0], output[-2000:]
            assert "--server-url" in errors[0], output[-2000:]
            assert "Traceback" not in output
    assert not (tmp_path / "results").exists()


def test_report_names_the_server() -> None:
    rtt = {"samples": 20, "connect_ms": {"median": 0.5, "p90": 0.9, "min": 0.4},
           "request_ms": {"median": 1.25, "p90": 2.0, "min": 1.0}}
    external = {"backend": "epoll", "pid": 1, "url": "http://192.0.2.7:8080/", "kind": "external", "rtt": rtt}
    text = server_text(external)
    assert "external local_server at http://192.0.2.7:8080/" in text
    assert "1.25 ms (p90 2)" in text
    assert "not known to the sweep" in text
    old = {"backend": "epoll", "pid": 1, "url": "http://127.0.0.1:1/"}  # a run from before the kinds
    assert server_text(old) == "the bundled local_server (started by the sweep), backend `epoll`"
    run = {"machine": {}, "options": {}, "libraries": {}, "rows": [], "server": external}
    assert "**Server:** an external local_server at http://192.0.2.7:8080/" in render(run, [], "run.json")
