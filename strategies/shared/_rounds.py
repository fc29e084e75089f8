"""One round's URLs as the one source the C workers of a model pull from, and the slots they fill.

Every model runs C workers (threads, greenlets, child processes, asyncio tasks, Twisted coroutines) over a
round the same way: a worker takes the next URL as soon as its last request is done, and writes that
request's outcome into the URL's slot. The admission is that: never more than C requests in flight, the
next URL to whichever worker is free first, as a pool or a semaphore would give it, without handing each
request to a pool (a future or a new greenlet per request, a queue hand-off and a wake-up per request).

Rules this module keeps:
- the source is one iterator over ``(slot, url)`` written in C (``enumerate`` over a list iterator):
  ``next`` on it runs no Python code and never releases the GIL, so C threads (or greenlets, or tasks)
  sharing it take each URL exactly once, in order;
- a worker writes only the slots it took; ``outcomes()`` returns them in URL order, and a slot no worker
  filled (one died) as an error, so a round always has one outcome per URL;
- the workers' request callables never raise: a failure is its slot's outcome (``strategies.base``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import cast

from strategies.base import Outcome

Source = Iterator[tuple[int, str]]


class Round:
    """The URLs of one ``fetch``, as the source its workers share and the slots they fill."""

    __slots__ = ("slots", "source")

    def __init__(self, urls: Sequence[str]):
        self.slots: list[Outcome | None] = [None] * len(urls)
        self.source: Source = iter(enumerate(urls))

    def outcomes(self) -> list[Outcome]:
        slots = self.slots
        if any(slot is None for slot in slots):  # ``is``: ``in`` would call Outcome.__eq__ on every slot
            return [slot or Outcome(None, None, "RuntimeError: no worker finished this request", 0.0)
                    for slot in slots]
        return cast(list[Outcome], slots)


def drain(source: Source, slots: list[Outcome | None] | dict[int, Outcome], request: Callable[[str], Outcome]) -> None:
    """One worker's share of a round: the next URL of ``source`` until none is left."""
    for slot, url in source:
        slots[slot] = request(url)
