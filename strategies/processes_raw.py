"""processes-raw: ``ProcessPoolExecutor(C)`` + our codec, one idle connection per child process.

The model (``forkserver`` children, all C started in setup, at most ``strategies.PROCESSES_MAX``,
``started`` taken in the child) is ``strategies._processes``; the stack is ``strategies._blocking_codec``:
each child speaks ``strategies.http1`` over a blocking socket and keeps at most one idle connection (it
does one request at a time), reused under ``keepalive``, a fresh connection per request under ``close``.
Against ``processes`` it measures what requests costs; against ``threads-raw``, what a process per slot
costs over a thread per slot.

as-written: the same code. The stack is ours, so there is no library default to keep; as-written rows are
``close`` rows, a connection per request, which is what every recipe does.
"""

from __future__ import annotations

from strategies._blocking_codec import CodecRequester
from strategies._processes import ProcessesFetcher
from strategies.base import ClientConfig


def start(config: ClientConfig) -> ProcessesFetcher:
    return ProcessesFetcher(config, CodecRequester)
