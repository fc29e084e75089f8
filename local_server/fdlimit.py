"""Open-file descriptors: how many C connections need, and raising the soft ``RLIMIT_NOFILE`` to that.

A process with C connections open holds C descriptors, plus a few of its own. The soft limit is often
1024 (the shell's default), the hard limit what root allows (``ulimit -Hn``); an unprivileged process may
raise its soft limit up to its hard limit, never above. So the suite raises it itself, in the process that
needs it, and says so *before* a level that the hard limit makes impossible is run (``shortfall``), never
with an EMFILE in the middle of a row.

Rules this module keeps:
- ``raise_soft_limit`` is the one place that changes the limit: it only raises the soft limit, never lowers
  it, and never asks for more than the hard limit (asking would fail with EPERM);
- the need of C connections is ``C + FD_MARGIN`` (``needed``), the same in the worker, the server, the CLI
  and the sweep's skip reasons;
- no import of socket or threading: the worker imports this after its strategy (gevent patches first).
"""

from __future__ import annotations

import resource

#: Descriptors a process holds besides its connections: stdio, the worker's protocol pipes and stderr file,
#: the interpreter's and the libraries' own (an epoll or selector fd, self-pipes, Twisted's waker, the
#: server's listener). 4-7 measured in a worker after a round (asyncio, aiohttp, gevent, tornado, twisted,
#: threads-raw); 100 leaves room for what a library opens on its own, at no cost.
FD_MARGIN = 100

#: The kernel's ceiling on any process's descriptors when the hard limit is "unlimited" (fs.nr_open's default).
NR_OPEN = 1 << 20


def needed(connections: int) -> int:
    """The descriptors a process with ``connections`` connections open needs."""
    return connections + FD_MARGIN


def limits() -> tuple[int, int]:
    """(soft, hard) ``RLIMIT_NOFILE`` of this process, "unlimited" read as ``NR_OPEN``."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    unlimited = resource.RLIM_INFINITY
    return (NR_OPEN if soft == unlimited else soft), (NR_OPEN if hard == unlimited else hard)


def raise_soft_limit(need: int | None = None) -> int:
    """Raise the soft limit to ``need`` descriptors (``None``: to the hard limit), as far as the hard limit
    allows; never lower it. Returns the soft limit now in force, which is below ``need`` only when the hard
    limit is."""
    soft, hard = limits()
    target = min(hard if need is None else need, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
        return target
    return soft


def shortfall(connections: int, what: str | None = None) -> str | None:
    """Why ``connections`` open at once cannot be had under this process's hard limit (which the workers and
    the server it starts inherit), with the numbers; None when they can. ``what`` names them (default "C=N")."""
    need, hard = needed(connections), limits()[1]
    if need <= hard:
        return None
    return (f"{what or f'C={connections}'} needs ~{need:,} descriptors, the hard limit RLIMIT_NOFILE is "
            f"{hard:,}: `ulimit -Hn {need}` as root to raise it")
