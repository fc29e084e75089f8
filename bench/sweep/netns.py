"""A server on the far side of a shaped link (``--link RATE``): the bundled server in a network namespace of
our own, joined to this one by a veth pair whose both ends are shaped by the ``tbf`` qdisc.

    with linked_server(parse_rate("10mbit"), backend="epoll", cpus=[0]) as link:
        link.url                                       # http://10.213.0.2:PORT/, reachable from here only

Rules this module keeps:
- everything it creates is named after this process: the namespace ``concbench-PID``, the veth ends
  ``cbPIDh`` (here) and ``cbPIDn`` (in the namespace), addresses from a /30 of ``NETWORK`` that no interface
  here holds. It touches nothing else but what a killed sweep left: namespaces ``concbench-PID`` whose PID
  is gone are removed before a new one is made;
- whatever ends the block or interrupts its setup (an error, Ctrl-C, SIGTERM turned into KeyboardInterrupt
  by the sweep), the server is stopped and both veth ends and the namespace deleted before the exception
  goes on, with SIGINT and SIGTERM blocked meanwhile, so that a second Ctrl-C cannot cut the cleanup short;
- the link is symmetric: the same tbf on both ends, so requests and responses both cross a shaped hop;
- no netem: delay and loss stay the server's (``/work?delay_ms``); this kernel has no netem anyway;
- every ``ip``/``tc`` call is bounded (``COMMAND_TIMEOUT_S``) and its failure is one line (``LinkError``).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO

from bench.record.schema import Link
from local_server.api import ServerProcess

#: Our private addresses: a /30 per link (host end .1, server end .2). 10.213/16 is private (RFC 1918) and
#: used by nothing this project knows of; a /30 in use by any interface here is skipped.
NETWORK = ipaddress.IPv4Network("10.213.0.0/16")
NAMESPACE_PREFIX = "concbench-"
#: ip and tc answer in milliseconds; 10 s only fires on a wedged netlink.
COMMAND_TIMEOUT_S = 10.0

#: tc's SI units (``man tc``, "RATES"): bits per second, and bytes per second for the ``bps`` family.
RATE_UNITS = {"bit": 1, "kbit": 10**3, "mbit": 10**6, "gbit": 10**9, "tbit": 10**12,
              "bps": 8, "kbps": 8 * 10**3, "mbps": 8 * 10**6, "gbps": 8 * 10**9, "tbps": 8 * 10**12}
_RATE = re.compile(r"(\d+(?:\.\d+)?)([a-z]+)")
#: Below 64 kbit/s one full frame takes 0.19 s: TCP's minimum retransmission timeout (0.2 s) would fire on
#: a healthy link, and a 256 KiB body would take half a minute.
MIN_RATE_BIT_S = 64 * 10**3
#: Above 100 Gbit/s the veth pair and the CPU are the limit, not the shaper: it would shape nothing.
MAX_RATE_BIT_S = 100 * 10**9

#: A full Ethernet frame (1500 MTU + 14 header): what tbf counts per segment on a veth.
FRAME_BYTES = 1514
#: The bucket holds 1 ms at the rate: tbf's timer is an hrtimer, so it needs no HZ-sized bucket (the tc-tbf
#: man page's rate/HZ rule predates it); a bigger bucket lets every pause be followed by a line-rate burst,
#: which makes short bodies arrive faster than the rate (at 10mbit, 1 ms = 1250 bytes, less than a frame,
#: so the floor below applies).
BURST_S = 0.001
#: ... but at least two frames: a bucket smaller than one frame can never send it.
MIN_BURST_BYTES = 2 * FRAME_BYTES
#: The queue behind the bucket holds 50 ms at the rate, like a router's buffer on such a link ...
QUEUE_S = 0.05
#: ... and at least 256 KiB: the kernel hands tbf 64 KiB TSO/GSO packets that tbf cuts into frames, and a
#: queue shorter than a few of them would drop segments of one packet, turning the shaper into a lossy link
#: (real retransmissions, 0.2 s stalls). TCP small queues keep each socket's share of it small.
MIN_QUEUE_BYTES = 256 * 1024


class LinkError(RuntimeError):
    """--link cannot be set up here (one line: what failed and why)."""


def parse_rate(text: str) -> int:
    """``--link RATE`` in tc's units (``10mbit``, ``500kbit``, ``1gbit``, ``2mbps``) -> bits per second."""
    match = _RATE.fullmatch(text.strip().lower())
    units = ", ".join(RATE_UNITS)
    if match is None or match.group(2) not in RATE_UNITS:
        raise ValueError(f"--link {text!r}: expected a rate in tc's units, e.g. 10mbit ({units})")
    rate = round(float(match.group(1)) * RATE_UNITS[match.group(2)])
    if not MIN_RATE_BIT_S <= rate <= MAX_RATE_BIT_S:
        raise ValueError(f"--link {text}: the rate must be between 64kbit and 100gbit")
    return rate


def tbf_parameters(rate_bit_s: int) -> tuple[int, int]:
    """(burst, limit) in bytes for a tbf at this rate (the reasons are at ``BURST_S`` and ``QUEUE_S``)."""
    per_s = rate_bit_s / 8
    return max(MIN_BURST_BYTES, round(per_s * BURST_S)), max(MIN_QUEUE_BYTES, round(per_s * QUEUE_S))


def unavailable_reason() -> str | None:
    """Why --link cannot run here (not root, no iproute2), or None."""
    if os.geteuid() != 0:
        return "--link needs root (it creates a network namespace and a veth pair); use --server-url instead"
    missing = [tool for tool in ("ip", "tc") if shutil.which(tool) is None]
    if missing:
        return f"--link needs iproute2's {' and '.join(missing)}, not found on PATH"
    return None


@dataclass
class LinkedServer:
    """A running link: the server's URL, the link as the results record it, the server's process."""

    url: str
    link: Link
    server: ServerProcess


def _ip(*args: str) -> str:
    """Run ``ip``/``tc`` (``args[0]``); LinkError with its stderr on failure."""
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise LinkError(f"{' '.join(args)}: no answer within {COMMAND_TIMEOUT_S:g} s") from None
    if done.returncode != 0:
        raise LinkError(f"{' '.join(args)}: {done.stderr.strip() or f'exit status {done.returncode}'}")
    return done.stdout


def names(pid: int) -> tuple[str, str, str]:
    """(namespace, host veth end, namespace veth end) of process ``pid`` (interface names <= 15 bytes)."""
    return f"{NAMESPACE_PREFIX}{pid}", f"cb{pid}h", f"cb{pid}n"


def namespaces() -> list[str]:
    return [line.split()[0] for line in _ip("ip", "netns", "list").splitlines() if line.strip()]


def remove_stale() -> list[str]:
    """Delete what a killed sweep left (its namespace and host veth end, named after a PID that is gone)."""
    removed = []
    for namespace in namespaces():
        pid = namespace.removeprefix(NAMESPACE_PREFIX)
        if namespace.startswith(NAMESPACE_PREFIX) and pid.isdigit() and not _alive(int(pid)):
            _remove(*names(int(pid)))
            removed.append(namespace)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _free_subnet() -> ipaddress.IPv4Network:
    used = [ipaddress.ip_interface(word).ip for line in _ip("ip", "-o", "-4", "addr", "show").splitlines()
            for word in line.split()[3:4]]
    for subnet in NETWORK.subnets(new_prefix=30):
        if not any(address in subnet for address in used):
            return subnet
    raise LinkError(f"no free /30 left in {NETWORK}")


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    """SIGINT and SIGTERM held until the block ends (then delivered): a cleanup that cannot be cut short."""
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _remove(namespace: str, host_end: str, _namespace_end: str) -> None:
    """Delete the veth pair (deleting one end deletes both; done first, since a namespace's own teardown
    is asynchronous) and the namespace; what is already gone is not an error."""
    for args in (("ip", "link", "del", host_end), ("ip", "netns", "del", namespace)):
        with contextlib.suppress(LinkError):
            _ip(*args)


def _shape(device: str, rate_bit_s: int, namespace: str | None = None) -> None:
    burst, limit = tbf_parameters(rate_bit_s)
    where = ("-n", namespace) if namespace else ()
    _ip("tc", *where, "qdisc", "add", "dev", device, "root", "tbf", "rate", f"{rate_bit_s}bit",
        "burst", str(burst), "limit", str(limit))


@contextlib.contextmanager
def linked_server(rate_bit_s: int, backend: str = "epoll", cpus: Sequence[int] | None = None,
                  stderr: IO[bytes] | None = None) -> Iterator[LinkedServer]:
    """The bundled server in a fresh namespace behind a veth pair shaped to ``rate_bit_s`` on both ends, its
    stderr to ``stderr`` (default: ours); everything removed afterwards (module rules)."""
    reason = unavailable_reason()
    if reason:
        raise LinkError(reason)
    namespace, host_end, namespace_end = names(os.getpid())
    server: ServerProcess | None = None
    try:
        remove_stale()
        subnet = _free_subnet()
        host_address, server_address = (str(address) for address in list(subnet.hosts())[:2])
        _ip("ip", "netns", "add", namespace)
        _ip("ip", "link", "add", host_end, "type", "veth", "peer", "name", namespace_end, "netns", namespace)
        _ip("ip", "addr", "add", f"{host_address}/30", "dev", host_end)
        _ip("ip", "link", "set", host_end, "up")
        _ip("ip", "-n", namespace, "addr", "add", f"{server_address}/30", "dev", namespace_end)
        _ip("ip", "-n", namespace, "link", "set", namespace_end, "up")
        _ip("ip", "-n", namespace, "link", "set", "lo", "up")
        _shape(host_end, rate_bit_s)
        _shape(namespace_end, rate_bit_s, namespace)
        # ``ip netns exec`` enters the namespace and execs the server in the same process: its PID is the
        # server's, so pinning and the parent-death signal apply to the server itself.
        server = ServerProcess(backend, host=server_address, prefix=("ip", "netns", "exec", namespace), cpus=cpus,
                               stderr=stderr)
        server.start()
        burst, limit = tbf_parameters(rate_bit_s)
        yield LinkedServer(server.url, {"rate_bit_s": rate_bit_s, "burst_bytes": burst, "limit_bytes": limit,
                                        "namespace": namespace, "host_address": host_address,
                                        "server_address": server_address}, server)
    finally:
        with _signals_blocked():
            if server is not None:
                server.stop()
            _remove(namespace, host_end, namespace_end)
