"""``strategies.fdlimit``: the soft RLIMIT_NOFILE goes up to what is needed, never past the hard limit or down."""

from __future__ import annotations

import resource
from collections.abc import Iterator

import pytest

from strategies.fdlimit import raise_nofile


@pytest.fixture
def limits() -> Iterator[tuple[int, int]]:
    """This process's limits, restored afterwards; the soft one lowered to 256 for the test."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    yield 256, hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_the_soft_limit_is_raised_to_what_is_needed_and_never_lowered(limits: tuple[int, int]) -> None:
    _, hard = limits
    if hard != resource.RLIM_INFINITY and hard < 300:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < 300")
    assert raise_nofile(300) == 300 == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    assert raise_nofile(100) == 300 == resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def test_the_hard_limit_is_the_ceiling(limits: tuple[int, int]) -> None:
    _, hard = limits
    if hard == resource.RLIM_INFINITY:
        pytest.skip("no hard limit on RLIMIT_NOFILE here")
    assert raise_nofile(hard + 1) == hard == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
