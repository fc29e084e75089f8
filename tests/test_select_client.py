"""The public SelectClient API: callbacks, errors, deadlines, the connection cap, keep-alive, FD_SETSIZE.

The API tests run on each multiplexer the client takes (``backend``: select, poll, epoll): one client code
path over all three, as the server's.
"""

from __future__ import annotations

import os
import resource
import socket
from urllib.parse import urlsplit

import pytest

from local_server.api import fetch_stats, reset_stats, running_server
from local_server.payload import work_body
from strategies.select_client import BACKENDS, FD_SETSIZE, RequestError, Response, SelectClient
from tests.stdlib_server import stdlib_server
from tests.tiers import each_backend

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def server(server_url: str) -> tuple[str, str, int]:
    parts = urlsplit(server_url)
    return server_url, parts.hostname or "127.0.0.1", parts.port or 80


@pytest.fixture(params=each_backend(BACKENDS))
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_every_callback_gets_the_parsed_response(server: tuple[str, str, int], backend: str) -> None:
    _, host, port = server
    first: list[Response | RequestError] = []
    second: list[Response | RequestError] = []
    client = SelectClient(max_connections=2, backend=backend)
    requests = [client.add_request(host, port, f"/work?size=100&id={k}", callbacks=[first.append, second.append])
                for k in range(5)]
    client.run()
    client.close()
    assert first == second
    assert len(first) == 5
    assert all(isinstance(r, Response) and r.status == 200 for r in first)
    assert sorted(r.body for r in first if isinstance(r, Response)) == sorted(work_body(k, 100) for k in range(5))
    for k, request in enumerate(requests):
        assert isinstance(request.result, Response)
        assert request.result.body == work_body(k, 100)
        assert request.result.header("content-length") == "100"
        assert request.elapsed_s > 0


def test_post_body_is_sent(server: tuple[str, str, int], backend: str) -> None:
    _, host, port = server
    results: list[Response | RequestError] = []
    client = SelectClient(backend=backend)
    client.add_request(host, port, "/echo", method="POST", body=b"a=1&b=2", callbacks=[results.append])
    client.run()
    client.close()
    assert isinstance(results[0], Response)
    assert results[0].body == b"a=1&b=2"


def test_faults_become_request_errors(server: tuple[str, str, int], backend: str) -> None:
    _, host, port = server
    client = SelectClient(max_connections=3, timeout_s=0.5, backend=backend)
    faults = ["reset", "close", "truncate", "stall", "garbage"]
    requests = {kind: client.add_request(host, port, f"/fault/{kind}") for kind in faults}
    good = client.add_request(host, port, "/work?id=7&size=64")
    client.run()
    client.close()
    for kind, request in requests.items():
        assert isinstance(request.result, RequestError), kind
    assert "TimeoutError" in requests["stall"].result.message  # type: ignore[union-attr]
    assert isinstance(good.result, Response)
    assert good.result.body == work_body(7, 64)


def test_connection_refused_is_an_error(backend: str) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago and has no listener
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = SelectClient(backend=backend)
    request = client.add_request("127.0.0.1", port, "/")
    client.run()
    assert isinstance(request.result, RequestError)
    # The kind is the socket's own error (ECONNREFUSED), whichever path reported it.
    assert request.result.message.startswith("ConnectionRefusedError: "), request.result.message


def test_close_calls_back_every_unfinished_request(server: tuple[str, str, int], backend: str) -> None:
    _, host, port = server
    results: list[Response | RequestError] = []

    def stop_at_first(result: Response | RequestError) -> None:
        results.append(result)
        if len(results) == 1:
            raise RuntimeError("a callback that raises ends run() early")

    with SelectClient(max_connections=2, backend=backend) as client:
        for k in range(5):  # 2 in flight when the first answer arrives, 3 queued
            client.add_request(host, port, f"/work?delay_ms=50&size=8&id={k}", callbacks=[stop_at_first])
        with pytest.raises(RuntimeError, match="ends run"):
            client.run()
    assert len(results) == 5  # leaving the block closed the client: every request got exactly one result
    assert isinstance(results[0], Response)
    assert all(isinstance(r, RequestError) and r.message.startswith("ConnectionAbortedError: ")
               for r in results[1:])


@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6 on this machine")
def test_ipv6_host_is_bracketed_and_fetched() -> None:
    try:
        with running_server(host="::1") as url:  # its own server: conftest's listens on 127.0.0.1
            port = urlsplit(url).port or 80
            with SelectClient() as client:
                request = client.add_request("::1", port, "/work?size=16&id=3")
                client.run()
    except Exception as exc:  # noqa: BLE001 - a machine without ::1 on loopback: say so, do not fail
        pytest.skip(f"the server cannot listen on ::1 here: {exc}")
    assert f"Host: [::1]:{port}\r\n".encode() in request.data
    assert isinstance(request.result, Response)
    assert request.result.body == work_body(3, 16)


def test_at_most_max_connections_in_flight(server: tuple[str, str, int], backend: str) -> None:
    url, host, port = server
    reset_stats(url)
    client = SelectClient(max_connections=7, keepalive=False, backend=backend)
    for k in range(21):
        client.add_request(host, port, f"/work?delay_ms=100&id={k}")
    client.run()
    assert fetch_stats(url)["peak_in_flight"] == 7


@pytest.mark.parametrize("keepalive", [True, False])
def test_keepalive_reuses_connections_and_close_does_not(keepalive: bool, backend: str) -> None:
    with stdlib_server() as server:
        port = int(server.url.rsplit(":", 1)[1].strip("/"))
        client = SelectClient(max_connections=3, keepalive=keepalive, backend=backend)
        for round_ in range(2):  # the second run() reuses the first one's idle connections
            requests = [client.add_request("127.0.0.1", port, f"/work?id={k}&size=32") for k in range(12)]
            client.run()
            assert all(isinstance(r.result, Response) and r.result.status == 200 for r in requests), round_
        client.close()
        if keepalive:
            assert 1 <= server.connections <= 3
        else:
            assert server.connections == 24


def test_a_descriptor_past_fd_setsize_is_refused_by_select_and_served_by_the_others(
        server: tuple[str, str, int], backend: str) -> None:
    _, host, port = server
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < FD_SETSIZE + 16:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} is below FD_SETSIZE")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, FD_SETSIZE + 16), hard))
    filler: list[int] = []
    try:
        while not filler or filler[-1] < FD_SETSIZE:
            filler.append(os.open(os.devnull, os.O_RDONLY))
        with SelectClient(backend=backend) as client:  # its epoll descriptor is past FD_SETSIZE too
            request = client.add_request(host, port, "/work?id=5&size=32")
            client.run()
        if backend == "select":
            assert isinstance(request.result, RequestError)
            assert "FD_SETSIZE" in request.result.message
        else:
            assert isinstance(request.result, Response)
            assert request.result.body == work_body(5, 32)
    finally:
        for fd in filler:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_closed_client_does_not_run_again(server: tuple[str, str, int], backend: str) -> None:
    _, host, port = server
    with SelectClient(backend=backend) as client:
        client.add_request(host, port, "/")
        client.run()
    client.add_request(host, port, "/")
    with pytest.raises(RuntimeError, match="closed"):
        client.run()


def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="backend must be one of"):
        SelectClient(backend="kqueue")
