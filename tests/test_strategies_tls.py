"""Every registered strategy over TLS, through its worker, against the real server on loopback.

The HTTPS rules of ``strategies.base``: every strategy, both profiles and both policies, fetches over https
verifying the bundled server's certificate and host name against the workload's CA file (bodies verified,
the server's peak in flight C under a delay), and refuses a certificate from another CA, one for another
host name and an expired one, each request an error of kind ``tls`` (``strategies.tls.is_tls_failure``).
The bad certificates come from trustme and are served with the bundled server's ``--cert``/``--key``.

Fast: ``SelectClient``'s own TLS on each of the server's backends (select, poll, epoll), and the refusals
through it. Slow: the per-strategy tests (a worker per strategy, its handshakes) and ``--instructions``.
"""

from __future__ import annotations

import datetime
import json
import shutil
import ssl
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from local_server.api import ServerProcess
from local_server.backends import BACKENDS
from local_server.payload import expected_response
from strategies import REGISTRY
from strategies.base import POLICIES, PROFILES
from strategies.select_client import RequestError, Response, SelectClient
from strategies.tls import TLS_KIND, is_tls_failure
from strategies.workload import Workload
from tests.test_strategies import (
    FAULT_PATHS,
    FAULT_TIMEOUT_S,
    _runnable_policy,
    _skip_unless_runnable,
    _Workers,
    expected_peak,
)
from tests.tiers import each_backend

trustme = pytest.importorskip("trustme", reason="the TLS tests need trustme: pip install 'concbench[tls]'")
pytestmark = pytest.mark.timeout(120)

NAMES = list(REGISTRY)
#: Small: enough for several waves at C=4 over TLS, cheap on 2 cores.
N = 24
C = 4
#: How the refused certificates are wrong.
REFUSALS = ("another-ca", "another-host", "expired")


@pytest.fixture(scope="module")
def tls_server() -> Iterator[ServerProcess]:
    with ServerProcess(tls=True) as server:
        assert server.ca_file is not None
        yield server


@pytest.fixture(scope="module")
def workers() -> Iterator[_Workers]:
    pool = _Workers()
    yield pool
    pool.close()


@contextmanager
def _serving(cert: Any) -> Iterator[str]:
    """The bundled server with ``cert`` (a trustme ``LeafCert``): its URL. Not ``ServerProcess``, which waits
    for ``/stats`` over a verified connection, and no CA verifies these certificates for 127.0.0.1."""
    directory = tempfile.mkdtemp(prefix="concbench-badcert-")
    cert_file, key_file = Path(directory, "cert.pem"), Path(directory, "key.pem")
    cert_file.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(str(key_file))
    popen = subprocess.Popen([sys.executable, "-m", "local_server", "--host", "127.0.0.1", "--port", "0", "--tls",
                              "--cert", str(cert_file), "--key", str(key_file)],
                             stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        assert popen.stdout is not None
        url = popen.stdout.readline().decode().strip()  # the first line, printed once it listens
        assert url.startswith("https://127.0.0.1:"), url
        yield url
    finally:
        popen.terminate()
        popen.communicate(timeout=10)  # and closes its stdout
        shutil.rmtree(directory)


@pytest.fixture(scope="module")
def refusing() -> Iterator[tuple[str, dict[str, str]]]:
    """The CA file every client is given, and a server per refusal case whose certificate it must refuse."""
    trusted, other = trustme.CA(), trustme.CA()
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=30)
    certs = {
        "another-ca": other.issue_cert("127.0.0.1"),
        "another-host": trusted.issue_cert("example.org"),
        "expired": trusted.issue_cert("127.0.0.1", not_before=past - datetime.timedelta(days=1), not_after=past),
    }
    with tempfile.TemporaryDirectory(prefix="concbench-ca-") as directory:
        ca_file = str(Path(directory, "ca.pem"))
        trusted.cert_pem.write_to_path(ca_file)
        with _serving(certs["another-ca"]) as a, _serving(certs["another-host"]) as b, \
                _serving(certs["expired"]) as c:
            yield ca_file, dict(zip(REFUSALS, (a, b, c), strict=True))


def _select_fetch(url: str, context: ssl.SSLContext, backend: str, keepalive: bool,
                  size: int = 100_000) -> list[Response | RequestError | None]:
    host, port = url.split("//")[1].rstrip("/").rsplit(":", 1)
    with SelectClient(max_connections=C, timeout_s=10.0, keepalive=keepalive, backend=backend, tls=context) as client:
        handles = [client.add_request(host, int(port), f"/work?size={size}&id={k}") for k in range(N)]
        client.run()
    return [handle.result for handle in handles]


def _chained(outer: BaseException, inner: BaseException) -> BaseException:
    outer.__context__ = inner
    return outer


@pytest.mark.parametrize(("error", "tls"), [
    (ssl.SSLCertVerificationError(1, "certificate verify failed"), True),
    (_chained(ConnectionError("wrapped"), ssl.SSLError(1, "tlsv1 alert protocol version")), True),
    (ssl.SSLEOFError(8, "EOF occurred in violation of protocol"), False),  # an ending, the plain kind
    (_chained(TimeoutError(), ssl.SSLWantReadError(2, "read")), False),  # a wait that a timeout cut short
    (_chained(ConnectionResetError(104, "reset"), ssl.SSLWantWriteError(3, "write")), False),
])
def test_what_counts_as_a_tls_failure(error: BaseException, tls: bool) -> None:
    assert is_tls_failure(error) is tls


def test_pyreqwest_refusals_are_tls_failures() -> None:
    """pyreqwest gives a refusal no type of its own: rustls' texts in its ConnectError's causes say it."""
    exceptions = pytest.importorskip("pyreqwest.exceptions", reason="pip install 'concbench[pyreqwest]'")
    refused = exceptions.ConnectError("connection error", {"causes": [
        {"message": "client error (Connect)"}, {"message": "invalid peer certificate: UnknownIssuer"}]})
    refused_connect = exceptions.ConnectError("connection error", {"causes": [
        {"message": "tcp connect error"}, {"message": "Connection refused (os error 111)"}]})
    assert is_tls_failure(refused)
    assert not is_tls_failure(refused_connect)


@pytest.mark.parametrize("keepalive", [True, False])
@pytest.mark.parametrize("backend", each_backend(BACKENDS))
def test_select_client_over_tls_on_each_backend(backend: str, keepalive: bool) -> None:
    """The client's non-blocking handshakes and records on one multiplexer, the server's on the same one."""
    with ServerProcess(backend=backend, tls=True) as server:
        assert server.ca_file is not None
        context = ssl.create_default_context(cafile=server.ca_file)
        results = _select_fetch(server.url, context, backend, keepalive)
    for k, result in enumerate(results):
        assert isinstance(result, Response), result
        assert (result.status, result.body) == expected_response(f"{server.url}work?size=100000&id={k}")


def test_select_client_refuses_each_bad_certificate(refusing: tuple[str, dict[str, str]]) -> None:
    ca_file, urls = refusing
    for case, url in urls.items():
        results = _select_fetch(url, ssl.create_default_context(cafile=ca_file), "epoll", True, size=64)
        assert all(isinstance(r, RequestError) and isinstance(r.cause, ssl.SSLCertVerificationError)
                   for r in results), (case, results[0])


@pytest.mark.slow
@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("name", NAMES)
def test_every_body_verified_over_tls(name: str, policy: str, profile: str, tls_server: ServerProcess,
                                      workers: _Workers) -> None:
    concurrency = 1 if name == "sequential" else C
    _skip_unless_runnable(REGISTRY[name], concurrency, policy, profile)
    worker = workers.get(name)
    try:
        for size in (64, 100_000):  # a body in one record, and one in many
            workload = Workload(tls_server.url, N, concurrency, policy=policy, size=size, profile=profile,
                                ca_file=tls_server.ca_file)
            result = worker.run_round(workload)
            assert (result.ok, result.errors) == (N, 0), result.error_samples
            assert result.scheme == "https"
            assert result.tls is not None
            # A handshake per connection: one per request under close; under keep-alive at most C (none in
            # the second round, whose connections the first one left open).
            handshakes = result.tls["full"] + result.tls["resumed"]
            assert handshakes == N if policy == "close" else handshakes <= concurrency, result.tls
    finally:
        workers.release(name)


@pytest.mark.slow
@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("name", NAMES)
def test_faults_over_tls_are_errors_in_their_slots(name: str, profile: str, tls_server: ServerProcess,
                                                   workers: _Workers) -> None:
    """Each fault inside the TLS stream is one error in its slot, its neighbours unharmed; none is a TLS
    failure (a reset after TLS records reads as an EOF in Python's ssl: the connection's kind, not ``tls``)."""
    concurrency = 1 if name == "sequential" else C
    policy = _runnable_policy(REGISTRY[name], concurrency, profile)
    work = [f"work?size=64&id={k}" for k in range(12)]
    paths = [path for pair in zip(work, FAULT_PATHS + [""] * len(work), strict=False) for path in pair if path]
    workload = Workload.from_paths(tls_server.url, paths, concurrency, policy=policy, timeout_s=FAULT_TIMEOUT_S,
                                   profile=profile, ca_file=tls_server.ca_file)
    try:
        result = workers.get(name).run_round(workload)
    finally:
        workers.release(name)
    assert (result.ok, result.errors) == (len(work), len(FAULT_PATHS)), result.error_kinds
    assert "missing" not in result.error_kinds, result.error_samples
    assert TLS_KIND not in result.error_kinds, result.error_samples


@pytest.mark.slow
@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("name", NAMES)
def test_concurrency_is_verified_by_the_server_over_tls(name: str, profile: str, tls_server: ServerProcess,
                                                        workers: _Workers) -> None:
    """C=20 admitted under a 200 ms delay: the server sees 20 in flight, or an as-written default's cap."""
    concurrency = 20
    spec = REGISTRY[name]
    policy = _runnable_policy(spec, concurrency, profile)
    workload = Workload(tls_server.url, 2 * concurrency, concurrency, policy=policy, delay_ms=200,
                        profile=profile, ca_file=tls_server.ca_file)
    try:
        worker = workers.get(name)
        worker.run_round(workload, server_stats=False)  # warm-up, as the bench does
        result = worker.run_round(workload)
    finally:
        workers.release(name)
    assert (result.ok, result.errors) == (2 * concurrency, 0), result.error_samples
    assert result.peak_in_flight in expected_peak(name, concurrency, policy, profile)


@pytest.mark.slow
@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("name", NAMES)
def test_every_bad_certificate_is_refused(name: str, profile: str, refusing: tuple[str, dict[str, str]],
                                          workers: _Workers) -> None:
    """Another CA, another host name, expired: every request an error of kind ``tls``, none accepted."""
    ca_file, urls = refusing
    concurrency = 1 if name == "sequential" else C
    policy = _runnable_policy(REGISTRY[name], concurrency, profile)
    requests = 2 * concurrency
    for case, url in urls.items():
        workload = Workload(url, requests, concurrency, policy=policy, profile=profile, ca_file=ca_file,
                            timeout_s=5.0)
        try:
            result = workers.get(name).run_round(workload, server_stats=False)
        finally:
            # A setup per server, as the bench has one origin per setup: niquests' tuned Session
            # (pool_connections=1) waits without end for its first origin's pool to go idle when handed a
            # second origin after failures on the first (urllib3-future's traffic police).
            workers.release(name)
        assert result.requests == requests
        assert (result.ok, result.error_kinds) == (0, {TLS_KIND: requests}), (case, result.error_samples)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("valgrind") is None, reason="no valgrind: apt-get install valgrind")
def test_instructions_over_tls() -> None:
    done = subprocess.run([sys.executable, "-m", "strategies", "run", "select", "--tls", "-n", "20", "-c", "5",
                           "--instructions", "--json"], capture_output=True, text=True, check=False, timeout=110)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["strategy"], data["requests"], data["clean"]) == ("select", 20, True)
    assert data["instructions_per_request"] > 0
