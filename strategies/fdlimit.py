"""RLIMIT_NOFILE for a process that holds C sockets: C descriptors, and a few of its own.

Rules this module keeps:
- only the soft limit moves, only upwards, and never past the hard limit (which an unprivileged process
  cannot raise); children started afterwards inherit it;
- it reports, never raises: the caller gets the soft limit in force and decides what a shortfall means
  (a socket past it fails with EMFILE, an error its request reports like any other).
"""

from __future__ import annotations

import resource

#: Descriptors a worker holds besides its C sockets: stdio, the protocol pipe, the interpreter's own, an
#: epoll descriptor, the /proc files read for CPU and RSS (~20 measured); 64 leaves room.
MARGIN = 64


def raise_nofile(needed: int) -> int:
    """Raise the soft RLIMIT_NOFILE to ``needed`` if it is lower, up to the hard limit; the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return soft
    soft = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return soft
