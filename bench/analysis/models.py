"""Model × stack: each concurrency model's cost per request apart from its HTTP library's.

A strategy is a model (how requests wait) and a stack (the HTTP code that makes each request; the
registry's ``model`` and ``stack``). Within one model, its ``codec`` strategy (our sans-IO
``strategies.http1`` over the model's own sockets) measures the model; each of its library strategies
measures the model plus that library, so their difference is the library's own cost.

Rules this module keeps:
- it compares rows of one cell only (workload, profile, policy, C): measured interleaved, close in time;
- the pairs are the throughput workload's (no delay: the CPU per request is all there is), tuned profile;
- every ratio comes with its 95 % interval, Welch's on the logarithms of the per-round values
  (``bench.analysis.comparison``), the library row over the model's codec row: CPU per request (how much more
  the library spends) and req/s (how much of the model's speed it keeps);
- a model without a codec row in the cell (not run, failed) shows its library rows without a ratio; a
  model with two (``select`` and ``epoll``) compares its libraries with the first in registry order.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from bench.analysis.comparison import Comparison, compare
from bench.record.rows import CellKey, RoundFigure, is_measured, measured_summary, round_values, rows_by_cell
from bench.record.schema import Row, Run
from strategies import CODEC, MODELS, REGISTRY

WORKLOAD = "throughput"
PROFILE = "tuned"


@dataclass(frozen=True)
class StackRow:
    """One strategy of a model in one cell, and how it compares with the model's codec row."""

    model: str
    stack: str
    strategy: str
    cpu_us_per_req: float
    req_per_s: float
    #: library / codec, CPU per request and req/s; ``None`` for the codec row itself or without one.
    cpu_ratio: Comparison | None
    rate_ratio: Comparison | None

    @property
    def library_us(self) -> float | None:
        """The library's own CPU per request: this row's less the codec row's (medians)."""
        if self.cpu_ratio is None:
            return None
        return self.cpu_ratio.median_a - self.cpu_ratio.median_b


def _error_free(row: Row) -> bool:
    """Measured, and without a failed request: a library's cost per request is read off clean rows only."""
    return is_measured(row) and not measured_summary(row)["errors"]


def cell_stacks(rows: list[Row]) -> list[StackRow]:
    """A cell's rows as model × stack, models in ``MODELS`` order, each model's codec row first."""
    by_model: dict[str, list[Row]] = {}
    for row in rows:
        spec = REGISTRY.get(row["strategy"])
        if spec is not None and _error_free(row):
            by_model.setdefault(spec.model, []).append(row)
    out = []
    for model in MODELS:
        members = sorted(by_model.get(model, []), key=lambda r: (REGISTRY[r["strategy"]].stack != CODEC,
                                                                 list(REGISTRY).index(r["strategy"])))
        codec = next((r for r in members if REGISTRY[r["strategy"]].stack == CODEC), None)
        for row in members:
            # A second codec row (``epoll`` beside ``select``) is the model again, not a library over it.
            other = codec if codec is not None and REGISTRY[row["strategy"]].stack != CODEC else None
            out.append(StackRow(
                model, REGISTRY[row["strategy"]].stack, row["strategy"],
                statistics.median(round_values(row, "cpu_us_per_req")), statistics.median(round_values(row, "req_per_s")),
                _ratio(row, other, "cpu_us_per_req"), _ratio(row, other, "req_per_s")))
    return out


def _ratio(row: Row, codec: Row | None, figure: RoundFigure) -> Comparison | None:
    if codec is None:
        return None
    return compare(row["strategy"], round_values(row, figure), codec["strategy"], round_values(codec, figure))


def model_cells(run: Run) -> dict[CellKey, list[StackRow]]:
    """The throughput cells (tuned) where at least one model has both a codec and a library row."""
    out = {}
    for key, rows in rows_by_cell(run).items():
        if key.workload == WORKLOAD and key.profile == PROFILE:
            stacks = cell_stacks(rows)
            if any(s.cpu_ratio is not None for s in stacks):
                out[key] = stacks
    return out
