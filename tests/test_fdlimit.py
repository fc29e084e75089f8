"""``local_server.fdlimit``: the soft RLIMIT_NOFILE goes up to what is needed, never past the hard limit or down,
and a need the hard limit cannot meet is said with its numbers."""

from __future__ import annotations

import resource
from collections.abc import Iterator

import pytest

from local_server.fdlimit import FD_MARGIN, limits, needed, raise_soft_limit, shortfall

#: A need no hard limit allows (the kernel's fs.nr_open is 2**20 by default, 2**30 at most).
HUGE = 10**8


@pytest.fixture
def hard_limit() -> Iterator[int]:
    """This process's hard limit, its soft one lowered to 256 for the test and restored afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    yield limits()[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_the_soft_limit_is_raised_to_what_is_needed_and_never_lowered(hard_limit: int) -> None:
    if hard_limit < 300:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard_limit} < 300")
    assert raise_soft_limit(300) == 300 == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    assert raise_soft_limit(100) == 300 == resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def test_the_hard_limit_is_the_ceiling(hard_limit: int) -> None:
    assert raise_soft_limit(HUGE) == hard_limit == limits()[0]


def test_without_a_need_the_soft_limit_goes_to_the_hard_limit(hard_limit: int) -> None:
    assert raise_soft_limit() == hard_limit == limits()[0]


def test_a_need_past_the_hard_limit_is_said_with_its_numbers() -> None:
    hard = limits()[1]
    assert needed(HUGE) == HUGE + FD_MARGIN
    assert shortfall(HUGE) == (f"C={HUGE} needs ~{HUGE + FD_MARGIN:,} descriptors, the hard limit RLIMIT_NOFILE is "
                               f"{hard:,}: `ulimit -Hn {HUGE + FD_MARGIN}` as root to raise it")
    assert (shortfall(HUGE, "the pools") or "").startswith("the pools needs ~")
    assert shortfall(hard - FD_MARGIN) is None
