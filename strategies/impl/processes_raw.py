"""processes-raw: C child processes started in setup + our codec, each child on a connection of its own.

The model (``forkserver`` children, all C started in setup, a round's URLs taken from one shared counter, at
most ``strategies.PROCESSES_MAX``, ``started`` taken in the child) is ``strategies.shared._processes``; the stack is
``strategies.shared._blocking_codec``: each child speaks ``strategies.http1`` over a blocking socket and keeps at most
one connection, reused under ``keepalive``, a fresh connection per request under ``close``. Against
``processes`` it measures what requests costs; against ``threads-raw``, what a process per slot costs over a
thread per slot.

Over https: the stack's one context, made in each child as it starts, wraps each connection (``wrap_socket(server_hostname=)``,
``strategies.shared._blocking_codec``).

``features`` turns the codec strategy's pieces off for the rungs of the model ladder (``strategies.shared._codec``,
``python -m bench.ladder``); the strategy is ``FULL``.

as-written: the same code. The stack is ours, so there is no library default to keep; as-written rows are
``close`` rows, a connection per request, which is what every recipe does.
"""

from __future__ import annotations

from functools import partial

from strategies.base import ClientConfig
from strategies.shared._blocking_codec import CodecStack
from strategies.shared._codec import FULL, Features
from strategies.shared._processes import ProcessesFetcher


def start(config: ClientConfig, features: Features = FULL) -> ProcessesFetcher:
    return ProcessesFetcher(config, partial(CodecStack, features=features))
