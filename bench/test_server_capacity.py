"""The bundled server's own capacity, per backend: measured, never asserted.

    pytest bench/test_server_capacity.py --benchmark-only   # ~1 minute
    pytest bench/ --benchmark-only -k server                # the same, from the whole bench

- ``test_server_capacity``: requests/s with keep-alive and with a new connection per request, 50 busy
  connections, driven by wrk when installed (else by raw-socket client processes, ``bench.sweep.load_generator``);
  server and load generator pinned to different CPUs when there are two or more.
- ``test_server_idle_cost``: the select/poll/epoll tutorials' claim: the cost of one request while K idle
  connections are open, K = 10, 100, 1000, 5000 (select stops below FD_SETSIZE). Timed by pytest-benchmark
  (one keep-alive request-response per iteration); the server's own CPU per request is in extra_info.
- ``test_server_vs_nginx``: the issue's yardstick: the same wrk run against nginx (1 worker, ``return 200``
  of the same body) and the server, interleaved, best of a few runs each; the ratio is in extra_info. Over
  plain HTTP and over TLS 1.3 (``https``: the same trustme-made certificate for both, session tickets on,
  so wrk's reconnections resume; ``https-no-tickets``: no tickets on either side, every handshake full),
  with the server's handshake counts and CPU per handshake from its ``/stats``.

Rules this file keeps: the figures go to ``benchmark.extra_info``; every run is bounded in time; nothing here
touches bench/conftest.py's sweep (its options and fixtures are ignored, ``--quick`` only shortens runs).
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_server.api import ServerProcess, fetch_stats, reset_stats
from local_server.backends import BACKENDS, FD_SETSIZE
from local_server.payload import ROOT_BODY

pytestmark = pytest.mark.timeout(300)

#: Busy connections for the capacity runs: the issue's calibration point (wrk -t1 -c50).
CONNECTIONS = 50
#: Seconds per capacity run: long enough for a stable rate on a quiet box, short for the 10-minute budget.
RUN_S = 2.0
QUICK_RUN_S = 1.0
#: Idle connection counts of the tutorials' claim.
IDLE_COUNTS = (10, 100, 1000, 5000)
#: Requests timed per idle-cost case (rounds x iterations): enough to average out one scheduler tick.
IDLE_ROUNDS, IDLE_ITERATIONS = 10, 100
#: wrk runs per side in the nginx comparison; best of them, because the box is shared and noisy.
NGINX_REPEATS = 2

CPUS = sorted(os.sched_getaffinity(0))
#: Server on the first CPU, load on the others; with one CPU they share it (the figures then say so).
SERVER_CPUS = CPUS[:1] if len(CPUS) > 1 else None
LOAD_CPUS = CPUS[1:] if len(CPUS) > 1 else None
WRK = shutil.which("wrk")


def run_seconds(config: pytest.Config) -> float:
    return QUICK_RUN_S if config.getoption("quick", default=False) else RUN_S


@pytest.fixture(scope="module", autouse=True)
def enough_descriptors() -> Iterator[None]:
    """Room for 5000 idle clients here and 5000 sockets in the server (it inherits the limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2 * max(IDLE_COUNTS) + 500
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(wanted, hard)), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def pinned(cpus: list[int] | None) -> list[str]:
    return ["taskset", "-c", ",".join(map(str, cpus))] if cpus and shutil.which("taskset") else []


# Load generators ------------------------------------------------------------------------------------------

def wrk(url: str, seconds: float, mode: str) -> dict[str, Any]:
    assert WRK is not None
    header = ["-H", "Connection: close"] if mode == "close" else []
    command = [*pinned(LOAD_CPUS), WRK, "-t1", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s", *header, url]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 30).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "requests": requests,
        "errors": sum(map(int, errors.groups())) if errors else 0,
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "load_generator": f"wrk -t1 -c{CONNECTIONS}" + (" -H 'Connection: close'" if header else ""),
    }


def raw_clients(url: str, seconds: float, mode: str) -> dict[str, Any]:
    processes = max(1, len(LOAD_CPUS or CPUS))  # one per CPU left to the load: a Python client is slow
    per_process = max(1, CONNECTIONS // processes)
    command = [sys.executable, "-m", "bench.sweep.load_generator", url, "--seconds", str(seconds), "--connections",
               str(per_process), "--mode", mode]
    popens = [subprocess.Popen([*pinned(LOAD_CPUS), *command], stdout=subprocess.PIPE, text=True)
              for _ in range(processes)]
    results = []
    for popen in popens:
        out, _ = popen.communicate(timeout=seconds + 30)
        results.append(json.loads(out))
    requests = sum(r["requests"] for r in results)
    return {
        "requests_per_s": requests / max(r["seconds"] for r in results),
        "requests": requests,
        "errors": sum(r["errors"] for r in results),
        "non_2xx": sum(r["non_2xx"] for r in results),
        "load_generator": f"bench.sweep.load_generator x{processes} ({per_process} connections each)",
    }


def load(url: str, seconds: float, mode: str) -> dict[str, Any]:
    return wrk(url, seconds, mode) if WRK else raw_clients(url, seconds, mode)


def measure(url: str, seconds: float, mode: str) -> dict[str, Any]:
    """One load run, with the server's own CPU seconds per request from /stats."""
    before = fetch_stats(url)
    result = load(url, seconds, mode)
    after = fetch_stats(url)
    served = after["requests"] - before["requests"]
    result["server_cpu_us_per_request"] = round((after["cpu_s"] - before["cpu_s"]) / max(1, served) * 1e6, 2)
    return result


# Capacity -------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module", params=sorted(BACKENDS))
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    with ServerProcess(backend=request.param, cpus=SERVER_CPUS, stderr=subprocess.DEVNULL) as process:
        yield process


@pytest.mark.parametrize("mode", ["keepalive", "close"])
def test_server_capacity(benchmark: Any, request: pytest.FixtureRequest, server: ServerProcess,
                         mode: str) -> None:
    seconds = run_seconds(request.config)
    benchmark.group = f"server capacity {mode}"
    result = benchmark.pedantic(measure, args=(server.url, seconds, mode), rounds=1, iterations=1)
    benchmark.extra_info.update(result, mode=mode, connections=CONNECTIONS, seconds=seconds,
                                backend=fetch_stats(server.url)["backend"], server_cpus=SERVER_CPUS,
                                load_cpus=LOAD_CPUS)


# Idle connections -----------------------------------------------------------------------------------------

def open_idle(url: str, count: int) -> list[socket.socket]:
    host, port = url.split("//")[1].rstrip("/").rsplit(":", 1)
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            socks.append(socket.create_connection((host, int(port)), timeout=10))
    except BaseException:
        for sock in socks:
            sock.close()
        raise
    return socks


@pytest.mark.parametrize("idle", IDLE_COUNTS)
def test_server_idle_cost(benchmark: Any, server: ServerProcess, idle: int) -> None:
    backend = fetch_stats(server.url)["backend"]
    if backend == "select" and idle + 16 >= FD_SETSIZE:  # its own fds and the timed connection count too
        pytest.skip(f"select() cannot watch descriptors >= FD_SETSIZE ({FD_SETSIZE}); the server answers "
                    "503 beyond it (tests/test_server_concurrency.py)")
    socks = open_idle(server.url, idle)
    try:
        with socket.create_connection(socks[0].getpeername()[:2], timeout=10) as client:
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            request = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
            client.sendall(request)
            response = client.recv(65536)
            assert response.endswith(ROOT_BODY)
            size = len(response)

            def one_request() -> None:
                client.sendall(request)
                received = 0
                while received < size:
                    received += len(client.recv(65536))

            deadline = time.monotonic() + 30
            while fetch_stats(server.url)["open_connections"] < idle + 2 and time.monotonic() < deadline:
                time.sleep(0.05)  # all idle connections accepted and registered before timing
            before = fetch_stats(server.url)
            benchmark.group = f"server idle cost {backend}"
            benchmark.pedantic(one_request, rounds=IDLE_ROUNDS, iterations=IDLE_ITERATIONS, warmup_rounds=1)
            after = fetch_stats(server.url)
    finally:
        for sock in socks:
            sock.close()
    served = after["requests"] - before["requests"]
    benchmark.extra_info.update(
        backend=backend, idle_connections=idle, open_connections=before["open_connections"],
        server_cpu_us_per_request=round((after["cpu_s"] - before["cpu_s"]) / max(1, served) * 1e6, 2))


# Side by side with nginx ----------------------------------------------------------------------------------

#: The transports of the nginx comparison, and the modes each is measured in (a new TLS connection per
#: request is where the handshake costs; keep-alive shows the record layer alone).
NGINX_CASES = [("http", "keepalive"), ("http", "close"), ("https", "keepalive"), ("https", "close"),
               ("https-no-tickets", "close")]

NGINX_CONF = """
worker_processes 1;
daemon off;
master_process off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000000;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{ default_type text/plain; return 200 "{body}"; }}
    }}
    server {{
        listen 127.0.0.1:{tls_port} ssl backlog=4096;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.3;
        location / {{ default_type text/plain; return 200 "{body}"; }}
    }}
    server {{
        listen 127.0.0.1:{no_tickets_port} ssl backlog=4096;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.3;
        ssl_session_tickets off;
        ssl_conf_command NumTickets 0;  # without it nginx still sends (unusable) TLS 1.3 tickets
        location / {{ default_type text/plain; return 200 "{body}"; }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def certificate() -> Iterator[dict[str, str]]:
    """One certificate for both servers, from a test CA (its files in a temporary directory): cert, key, ca."""
    trustme = pytest.importorskip("trustme", reason="the TLS comparison needs trustme: pip install 'concbench[tls]'")
    with tempfile.TemporaryDirectory() as tmp:
        authority = trustme.CA()
        leaf = authority.issue_cert("127.0.0.1", "localhost")
        files = {name: str(Path(tmp, f"{name}.pem")) for name in ("cert", "key", "ca")}
        leaf.cert_chain_pems[0].write_to_path(files["cert"])
        leaf.private_key_pem.write_to_path(files["key"])
        authority.cert_pem.write_to_path(files["ca"])
        yield files


@pytest.fixture(scope="module")
def nginx(certificate: dict[str, str]) -> Iterator[tuple[dict[str, str], int]]:
    """nginx, pinned as the server is: its URL per transport (``NGINX_CASES``) and its pid."""
    binary = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
    if binary is None or WRK is None:
        pytest.skip("needs nginx and wrk (apt-get install nginx-light wrk)")
    with tempfile.TemporaryDirectory() as tmp:
        ports = {"http": free_port(), "https": free_port(), "https-no-tickets": free_port()}
        conf = Path(tmp, "nginx.conf")
        conf.write_text(NGINX_CONF.format(tmp=tmp, port=ports["http"], tls_port=ports["https"],
                                          no_tickets_port=ports["https-no-tickets"], cert=certificate["cert"],
                                          key=certificate["key"],
                                          body=ROOT_BODY.decode().replace("\n", "\\n")))
        popen = subprocess.Popen([*pinned(SERVER_CPUS), binary, "-p", tmp, "-c", str(conf)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            for port in ports.values():
                while True:
                    try:
                        socket.create_connection(("127.0.0.1", port), timeout=1).close()
                        break
                    except OSError:
                        if popen.poll() is not None or time.monotonic() > deadline:
                            pytest.skip(f"nginx did not start: {Path(tmp, 'error.log').read_text()[-300:]}")
                        time.sleep(0.05)
            yield ({name: f"{name.split('-')[0]}://127.0.0.1:{port}/" for name, port in ports.items()},
                   popen.pid)
        finally:
            popen.terminate()
            popen.wait(10)


def process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.parametrize(("transport", "mode"), NGINX_CASES)
def test_server_vs_nginx(benchmark: Any, request: pytest.FixtureRequest, nginx: tuple[dict[str, str], int],
                         certificate: dict[str, str], transport: str, mode: str) -> None:
    seconds = run_seconds(request.config)
    nginx_urls, nginx_pid = nginx
    best: dict[str, dict[str, float]] = {}
    pair_ratios: list[float] = []  # server ÷ nginx req/s of each interleaved pair: the spread of the ratio
    tls = transport != "http"
    extra_args = ["--cert", certificate["cert"], "--key", certificate["key"]] if tls else []
    if transport == "https-no-tickets":
        extra_args.append("--no-tickets")
    with ServerProcess(backend="epoll", cpus=SERVER_CPUS, stderr=subprocess.DEVNULL, extra_args=extra_args,
                       tls=tls, ca_file=certificate["ca"] if tls else None) as server:
        targets = {"nginx": (nginx_urls[transport], nginx_pid), "server": (server.url, server.pid)}
        reset_stats(server.url, ca_file=server.ca_file)

        def side_by_side() -> None:
            for _ in range(NGINX_REPEATS):
                rates = {}
                for name, (url, pid) in targets.items():  # interleaved: both see the same noise
                    cpu = process_cpu_s(pid)
                    result = wrk(url, seconds, mode)
                    cpu_us = (process_cpu_s(pid) - cpu) / max(1, result["requests"]) * 1e6
                    entry = best.setdefault(name, {"requests_per_s": 0.0, "cpu_us_per_request": 1e9})
                    entry["requests_per_s"] = max(entry["requests_per_s"], result["requests_per_s"])
                    entry["cpu_us_per_request"] = round(min(entry["cpu_us_per_request"], cpu_us), 2)
                    rates[name] = result["requests_per_s"]
                pair_ratios.append(round(rates["server"] / rates["nginx"], 3))

        benchmark.group = "server vs nginx"
        benchmark.pedantic(side_by_side, rounds=1, iterations=1)
        stats = fetch_stats(server.url, ca_file=server.ca_file)
    if tls:  # the server's own handshakes over the runs: how many resumed, and its CPU per handshake
        handshakes = stats["tls_handshakes"]
        per_handshake = {kind: round(cpu_s / count * 1e6, 1) for kind, cpu_s, count in (
            ("full", handshakes["full_cpu_s"], handshakes["full"]),
            ("resumed", handshakes["resumed_cpu_s"], handshakes["resumed"])) if count}
        benchmark.extra_info.update(tls_handshakes=handshakes, tls_handshake_cpu_us=per_handshake)
    benchmark.extra_info.update(
        transport=transport, mode=mode, nginx=best["nginx"], server=best["server"], server_backend="epoll",
        ratio=round(best["server"]["requests_per_s"] / best["nginx"]["requests_per_s"], 3), pair_ratios=pair_ratios,
        method=f"wrk -t1 -c{CONNECTIONS} -d{seconds}s, best of {NGINX_REPEATS} interleaved runs each; "
               f"nginx 1 process, return 200 of the same body, access_log off"
               f"{', TLS 1.3 on the same certificate' if tls else ''}; pinned to CPUs {SERVER_CPUS}, "
               f"wrk to {LOAD_CPUS}")
