"""The fast tier's share of the tests made once per backend or per model.

``python -m pytest -m "not slow"`` (the fast tier) runs a test made once per multiplexer on the one the
sweep's server uses, and a test made once per model on one model of each kind; the full suite (the README's
test command) runs every parameter. The rest are marked ``slow``: the code under test is shared (one server
loop over three multiplexers; one codec over every model), so one of each kind catches the shared code's
faults quickly and the full suite catches a single backend's or model's own.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

#: The multiplexer of the sweep's server (``--server-backend``'s default).
FAST_BACKEND = "epoll"
#: A pool of blocking workers, asyncio's loop, our own loop.
FAST_MODELS = frozenset({"threads-raw", "asyncio", "select"})


def each_backend(backends: Iterable[str]) -> list[Any]:
    """Parameters for a test per backend: every one in the full suite, ``FAST_BACKEND`` in the fast tier."""
    return [pytest.param(b, marks=() if b == FAST_BACKEND else pytest.mark.slow) for b in sorted(backends)]


def each_model(names: Iterable[str]) -> list[Any]:
    """Parameters for a test per model's codec strategy: every one in the full suite, ``FAST_MODELS`` in the
    fast tier."""
    return [pytest.param(n, marks=() if n in FAST_MODELS else pytest.mark.slow) for n in names]
