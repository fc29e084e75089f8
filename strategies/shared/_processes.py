"""The processes model: C child processes started in setup, each pulling the round's next URL, one stack each.

``processes`` (requests) and ``processes-raw`` (our codec) are this model with their stack: diff the two
modules and only the stack differs.

Knobs, all explicit:
- start method ``forkserver``: ``fork`` from the worker is unsafe once it has threads (Python 3.12 warns
  about it), and ``spawn`` would re-import the stack in every child. The fork server preloads this module and
  the stack's (hence requests, or httptools), so each child is a cheap fork of an interpreter that already has
  everything imported, and shares those pages copy-on-write;
- all C children are started in construction (outside the timed region), each with its own stack for its
  one worker (``new_stack(config, 1)``: a Session with a pool of one, or one connection of our codec),
  reused under ``keepalive``, a fresh connection per request under ``close``: C connections in all;
- a round is one message to each child and one back, not a round trip per request. The parent sends every
  child the round's URLs (one bytes object and their end offsets, pickled once for all), and the children
  take slots from one shared counter (``_Counter``: a number in shared memory under a lock), as the threads
  of ``strategies.shared._threads`` take URLs from one iterator: the next URL to whichever child is free first,
  never more than C in flight. Each child returns its outcomes in one message when the counter runs out.
  What is left of the model per request is the counter (a lock held for two reads and a write of shared
  memory) and its outcome pickled back, which a process per worker costs wherever the outcomes are judged:
  here, as for every model, in the worker that verifies them;
- a child that dies takes its slots with it: they are errors of the round (``strategies.shared._rounds``), and
  later rounds go on with the children left. One killed while it holds the counter's lock (a window of
  microseconds per request) would leave the others waiting for it: the runner's deadline ends that round;
- C is capped at ``strategies.PROCESSES_MAX`` (the registry's ``max_concurrency``): one interpreter per
  request slot costs tens of MB each;
- ``started`` is taken in the child (by the stack), when the request is issued.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import pickle
from array import array
from collections.abc import Sequence
from itertools import accumulate
from multiprocessing.connection import Connection, wait
from typing import Any, cast

from strategies.base import ClientConfig, NewStack, Outcome
from strategies.shared._codec import CHECKED
from strategies.shared._rounds import Round, Source, drain

#: How long construction waits for each child to start and make its stack. Starting 100 forked children
#: takes a few seconds on a loaded 2-core machine; past this, construction fails instead of hanging.
WARM_TIMEOUT_S = 120.0
#: How long ``close`` waits for a child to exit after it was told to, before it is killed.
EXIT_TIMEOUT_S = 10.0

#: What a child sends back per request: ``None`` for the shared ``CHECKED`` outcome (the ladder's rungs
#: without an outcome per request), else ``Outcome``'s fields.
Item = tuple[int, tuple[Any, ...] | None]


class _Counter:
    """The round's next slot, shared by the children: a number in shared memory and a lock around it."""

    def __init__(self, context: Any):
        self.value = context.RawValue("q", 0)
        self.lock = context.Lock()

    def source(self, urls: bytes, ends: array) -> Source:
        """The (slot, url) pairs this child takes, until every slot of the round is taken."""
        lock, value, count = self.lock, self.value, len(ends)
        while True:
            with lock:
                slot = value.value
                value.value = slot + 1
            if slot >= count:
                return
            yield slot, urls[ends[slot - 1] if slot else 0:ends[slot]].decode()


def _child(pipe: Connection, config: ClientConfig, new_stack: NewStack, counter: _Counter) -> None:
    stack = new_stack(config, 1)
    request = stack.worker()
    pipe.send(True)
    try:
        while (message := pipe.recv_bytes()) != b"":
            urls, ends = pickle.loads(message)
            stack.begin_round()
            slots: dict[int, Outcome] = {}
            drain(counter.source(urls, array("Q", ends)), slots, request)  # fills only the slots it took
            pipe.send([(slot, None if outcome is CHECKED else (outcome.status, outcome.body, outcome.error,
                                                                outcome.latency_s))
                       for slot, outcome in slots.items()])
    except EOFError:  # the parent is gone
        pass
    finally:
        stack.close()


class ProcessesFetcher:
    def __init__(self, config: ClientConfig, new_stack: NewStack):
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__, getattr(new_stack, "func", new_stack).__module__])
        self._counter = _Counter(context)
        self._pipes: list[Connection] = []
        self._children: list[Any] = []
        try:
            for _ in range(config.concurrency):
                ours, theirs = context.Pipe()
                child = context.Process(target=_child, args=(theirs, config, new_stack, self._counter),
                                        daemon=True)
                child.start()
                theirs.close()
                self._pipes.append(ours)
                self._children.append(child)
            for pipe in self._pipes:
                if not pipe.poll(WARM_TIMEOUT_S) or pipe.recv() is not True:
                    raise RuntimeError("a child process did not make its stack")
        except BaseException:
            self.close()
            raise

    def fetch(self, urls: Sequence[str]) -> list[Outcome]:
        round_ = Round(urls)
        encoded = [url.encode() for url in urls]
        message = pickle.dumps((b"".join(encoded), array("Q", accumulate(map(len, encoded))).tobytes()))
        self._counter.value.value = 0
        pending = []
        for pipe in list(self._pipes):
            try:
                pipe.send_bytes(message)
                pending.append(pipe)
            except OSError:  # a child that died since the last round
                self._pipes.remove(pipe)
        slots = round_.slots
        while pending:
            for ready in wait(pending):
                pipe = cast(Connection, ready)
                pending.remove(pipe)
                try:
                    items: list[Item] = pipe.recv()
                except EOFError:  # the child died mid-round: its slots stay empty, errors of the round
                    self._pipes.remove(pipe)
                    continue
                for slot, fields in items:
                    slots[slot] = CHECKED if fields is None else Outcome(*fields)
        return round_.outcomes()

    def close(self) -> None:
        for pipe in self._pipes:
            with contextlib.suppress(OSError):
                pipe.send_bytes(b"")
        for child in self._children:
            child.join(EXIT_TIMEOUT_S)
            if child.is_alive():
                child.kill()
                child.join(EXIT_TIMEOUT_S)
        for pipe in self._pipes:
            pipe.close()
        self._pipes, self._children = [], []
