"""The three readiness multiplexers of the ``select`` module behind one small interface.

Rules this module keeps:
- interest and readiness are masks with the poll(2) bit values (``READ`` = POLLIN, ``WRITE`` = POLLOUT,
  plus ``ERROR`` = POLLERR|POLLHUP, which is always reported); epoll uses the same values on Linux, so
  ``poll()`` returns the kernel's list untouched there, and only ``select`` has to build it;
- level-triggered everywhere: a socket the loop did not fully drain is reported again, so no event is lost;
- ``max_fd`` is the first descriptor a backend cannot watch (FD_SETSIZE for select, none otherwise); the
  loop must not register such a descriptor.
"""

from __future__ import annotations

import math
import select
from collections.abc import Callable

READ = select.POLLIN
WRITE = select.POLLOUT
ERROR = select.POLLERR | select.POLLHUP
#: select(2) cannot watch descriptors >= FD_SETSIZE; glibc fixes it at 1024 and Python does not expose it.
FD_SETSIZE = 1024


class SelectBackend:
    name = "select"
    max_fd: int | None = FD_SETSIZE

    def __init__(self) -> None:
        self._read: set[int] = set()
        self._write: set[int] = set()

    def register(self, fd: int, mask: int) -> None:
        self.modify(fd, mask)

    def modify(self, fd: int, mask: int) -> None:
        (self._read.add if mask & READ else self._read.discard)(fd)
        (self._write.add if mask & WRITE else self._write.discard)(fd)

    def unregister(self, fd: int) -> None:
        self._read.discard(fd)
        self._write.discard(fd)

    def poll(self, timeout: float | None) -> list[tuple[int, int]]:
        readable, writable, _ = select.select(self._read, self._write, (), timeout)
        if not writable:
            return [(fd, READ) for fd in readable]
        ready = dict.fromkeys(readable, READ)
        for fd in writable:
            ready[fd] = ready.get(fd, 0) | WRITE
        return list(ready.items())

    def close(self) -> None:
        self._read.clear()
        self._write.clear()


class PollBackend:
    name = "poll"
    max_fd: int | None = None

    def __init__(self) -> None:
        self._poll = select.poll()
        self.register = self._poll.register
        self.modify = self._poll.modify
        self.unregister = self._poll.unregister

    def poll(self, timeout: float | None) -> list[tuple[int, int]]:
        # poll(2) takes milliseconds; round up so a timer is never woken for early and spun on.
        return self._poll.poll(None if timeout is None else math.ceil(timeout * 1000))

    def close(self) -> None:
        pass


class EpollBackend:
    name = "epoll"
    max_fd: int | None = None

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self.register = self._epoll.register
        self.modify = self._epoll.modify
        self.unregister = self._epoll.unregister
        self.poll: Callable[[float | None], list[tuple[int, int]]] = self._epoll.poll
        self.close = self._epoll.close


BACKENDS: dict[str, type] = {"select": SelectBackend, "poll": PollBackend}
if hasattr(select, "epoll"):
    BACKENDS["epoll"] = EpollBackend
