"""The choices of 2026 beside what the suite already had: each of ``strategies.STRATEGIES_2026`` against the
strategies it would be weighed against, in the cells holding both, and what each as-written recipe's
defaults let through.

A run with ``--strategies default,2026,threads-raw,httpx`` (the committed ``results/field/``) holds them in the
same cells; ``bench.report.sections.field`` prints this module's figures.

Rules this module keeps:
- each new strategy is set beside the codec row of its model (our HTTP code on the same model: what its
  library costs) and beside the library it would replace on that model (which to pick), as ``NEAREST``
  lists them; trio's codec row has no other trio row beside it, so it is set beside asyncio's, the codec on
  the other event loop;
- a pair is compared only in a cell where both rows are measured (``bench.record.rows.is_measured``): a
  cell's rows ran interleaved; every ratio is the new strategy ÷ the other, req/s and CPU µs per request,
  with its 95 % interval (``bench.analysis.comparison``);
- an as-written row's cap is what the server saw (its highest round's peak in flight), never the library's
  documentation: a peak below C is a cap the recipe's defaults imposed; only a workload whose requests wait
  in the server (a delay or a paced body: the row's ``ideal_s``) makes C of them overlap there, so only its
  rows say anything of a cap;
- pure functions of the results; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.analysis.comparison import Comparison, compare
from bench.record.rows import CellKey, RoundFigure, is_measured, measured_summary, round_values, rows_by_cell
from bench.record.schema import Row, Run
from strategies import STRATEGIES_2026

#: New strategy -> (the codec row of its model, the library it would replace there).
NEAREST: dict[str, tuple[str, ...]] = {
    "trio-raw": ("asyncio",),
    "niquests": ("threads-raw", "threads"),
    "niquests-async": ("asyncio", "aiohttp"),
    "pyreqwest": ("asyncio", "aiohttp"),
    "curl-cffi": ("asyncio", "aiohttp"),
    "httpx2": ("asyncio", "httpx"),
}
assert set(NEAREST) == set(STRATEGIES_2026), "every choice of 2026 is set beside something"


@dataclass(frozen=True)
class Beside:
    """A new strategy and an existing one in one cell: ``strategy`` ÷ ``other``."""

    key: CellKey
    strategy: str
    other: str
    mine: Row
    theirs: Row
    rate: Comparison
    cpu: Comparison


@dataclass(frozen=True)
class Cap:
    """An as-written row of a new strategy: at C, the most requests the server saw in flight at once, and its
    CPU µs per request beside the tuned row's of the same cell but for the profile (None without one): a
    peak below C with a CPU cost far above tuned's is the recipe's cost per request, not a pool's limit."""

    key: CellKey
    strategy: str
    #: None for a row of a run that did not record peaks (schema 1).
    peak: int | None
    cpu_us: float | None
    tuned_cpu_us: float | None

    @property
    def capped(self) -> bool:
        return self.peak is not None and self.peak < self.key.concurrency


def besides(run: Run) -> list[Beside]:
    """Every (cell, new strategy, existing one) measured on both sides, cells in the run's order."""
    out = []
    for key, rows in rows_by_cell(run).items():
        measured = {row["strategy"]: row for row in rows if is_measured(row)}
        for name, others in NEAREST.items():
            if name not in measured:
                continue
            for other in others:
                if other in measured:
                    mine, theirs = measured[name], measured[other]
                    out.append(Beside(key, name, other, mine, theirs, _ratio(mine, theirs, "req_per_s"),
                                      _ratio(mine, theirs, "cpu_us_per_req")))
    return out


def caps(run: Run) -> list[Cap]:
    """Every measured as-written row of a new strategy, with the peak the server saw and its CPU cost."""
    cells = rows_by_cell(run)
    out = []
    for key, rows in cells.items():
        if key.profile != "as-written":
            continue
        tuned = {row["strategy"]: row for row in cells.get(key._replace(profile="tuned"), []) if is_measured(row)}
        for row in rows:
            if row["strategy"] in NEAREST and is_measured(row) and measured_summary(row)["ideal_s"]:
                twin = tuned.get(row["strategy"])
                out.append(Cap(key, row["strategy"], _peak(row), measured_summary(row)["cpu_us_per_req"],
                               measured_summary(twin)["cpu_us_per_req"] if twin else None))
    return out


def _ratio(mine: Row, theirs: Row, figure: RoundFigure) -> Comparison:
    return compare(mine["strategy"], round_values(mine, figure), theirs["strategy"], round_values(theirs, figure))


def _peak(row: Row) -> int | None:
    return measured_summary(row)["peak_in_flight_max"]
