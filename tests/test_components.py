"""``strategies.probes.components``: each piece runs as the count runs it, and the count is the piece's alone."""

from __future__ import annotations

import pytest

from strategies.probes import components
from tests.test_instructions import needs_valgrind

pytestmark = pytest.mark.slow  # callgrind


@pytest.mark.parametrize("name", components.PIECES)
@pytest.mark.parametrize("role", ["piece", "baseline"])
def test_every_piece_and_baseline_runs_as_the_count_runs_it(name: str, role: str) -> None:
    assert components.main(["--run", name, "--role", role, "-k", "3"]) == 0


def test_an_unknown_piece_is_refused() -> None:
    with pytest.raises(SystemExit):
        components.main(["no-such-piece"])


@pytest.mark.timeout(120)
@needs_valgrind
def test_a_count_is_the_piece_alone_and_repeats() -> None:
    # Outcome.ok costs ~4,000 instructions: start-up (~450 million) or nothing at all would be far outside.
    first, second = (components.per_call("outcome", repeats=200) for _ in range(2))
    assert 1_000 < first < 20_000
    assert abs(first - second) < 0.01 * first
