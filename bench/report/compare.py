"""Two runs side by side: what changed per row, whether the verdicts agree, how far the ratios moved.

    python -m bench.compare A.json B.json [--out compare.md]

Prints Markdown (and writes it to ``--out``): every row both runs measured, B against A as a ratio with its
95 % confidence interval (``bench.analysis.comparison``: Welch on log req/s over the two runs' rounds), marked
*changed* only where that interval excludes "no change" by at least ``MIN_EFFECT``; every cell's verdict
per reading in both runs; and the reproducibility of what the report states: how much each within-cell
ratio moved from A to B, as a median and 90th percentile: a strategy against the cell's fastest (per row),
and every two strategies of a cell (per cell, the median over its pairs).

Rules this module keeps:
- it reads the two JSON files and nothing else, and judges them with the report's own functions, so
  "changed" and "agree" mean what they mean in REPORT.md;
- rows are matched by what they measured (``bench.record.rows.row_key``: workload, profile, policy, C,
  strategy), never by position; rows only one run has are counted, not compared;
- exit 0 whatever the runs say (a comparison is information, not a test); 1 with one line when a file
  cannot be read.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from bench.analysis import verdict
from bench.analysis.claim import reading_name
from bench.analysis.comparison import MIN_EFFECT, Comparison, compare
from bench.record.rows import CellKey, RowKey, is_measured, round_rates, row_key, rows_by_cell
from bench.record.runfile import load_run
from bench.record.schema import Row, Run
from strategies.workload import percentile


def _rates(row: Row) -> list[float] | None:
    return round_rates(row) if is_measured(row) else None


def row_changes(a: Run, b: Run) -> list[tuple[RowKey, Comparison]]:
    """B against A for every row both measured, in A's order."""
    rows_b = {row_key(row): row for row in b["rows"]}
    out = []
    for row in a["rows"]:
        other = rows_b.get(row_key(row))
        rates_a, rates_b = _rates(row), _rates(other) if other else None
        if rates_a and rates_b:
            out.append((row_key(row), compare("B", rates_b, "A", rates_a)))
    return out


def _cell_ratios(run: Run) -> dict[RowKey, float]:
    """Each strategy's median req/s over its cell's fastest: the ratios the report's orders rest on."""
    ratios = {}
    for rows in rows_by_cell(run).values():
        medians = {row["strategy"]: statistics.median(rates) for row in rows if (rates := _rates(row))}
        if len(medians) > 1:
            best = max(medians.values())
            ratios.update({row_key(row): medians[row["strategy"]] / best
                           for row in rows if row["strategy"] in medians})
    return ratios


def ratio_movement(a: Run, b: Run) -> dict[RowKey, float]:
    """For every row in a cell of both runs: |B's within-cell ratio / A's - 1|, the relative movement. The
    fastest of a cell in both runs (1 against itself twice) is left out: it cannot move."""
    ra, rb = _cell_ratios(a), _cell_ratios(b)
    return {k: abs(rb[k] / ra[k] - 1) for k in ra if k in rb and (ra[k], rb[k]) != (1.0, 1.0)}


def pair_movement(a: Run, b: Run) -> dict[tuple[CellKey, str, str], float]:
    """(cell, x, y) -> |B's ratio x/y / A's - 1| for every two strategies of a cell both runs measured.
    Unlike ``ratio_movement`` it has no reference row, so one noisy row (often the cell's fastest, the
    likeliest to be server-bound) moves its own pairs, not every row of its cell."""
    medians_a, medians_b = _cell_medians(a), _cell_medians(b)
    out = {}
    for key, rates_a in medians_a.items():
        rates_b = medians_b.get(key, {})
        names = [name for name in rates_a if name in rates_b]
        for i, x in enumerate(names):
            for y in names[i + 1:]:
                out[(key, x, y)] = abs(rates_b[x] / rates_b[y] / (rates_a[x] / rates_a[y]) - 1)
    return out


def per_cell(pairs: dict[tuple[CellKey, str, str], float]) -> list[float]:
    """Each cell's median over its pairs."""
    cells: dict[CellKey, list[float]] = {}
    for (key, _, _), moved in pairs.items():
        cells.setdefault(key, []).append(moved)
    return [statistics.median(values) for values in cells.values()]


def _cell_medians(run: Run) -> dict[CellKey, dict[str, float]]:
    return {key: {row["strategy"]: statistics.median(rates) for row in rows if (rates := _rates(row))}
            for key, rows in rows_by_cell(run).items()}


def verdict_agreement(a: Run, b: Run) -> list[tuple[CellKey, tuple[str, ...], str, str]]:
    """(cell, reading, verdict in A, verdict in B) for every cell and reading judged in both runs."""
    judged_b = {(v.key, v.reading): v.verdict for v in verdict.judge_run(b)}
    return [(v.key, v.reading, v.verdict, judged_b[(v.key, v.reading)]) for v in verdict.judge_run(a)
            if v.judged and judged_b.get((v.key, v.reading), verdict.UNJUDGED[0]) not in verdict.UNJUDGED]


def _percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile the worker gives its latencies (``strategies.workload.percentile``)."""
    return percentile(sorted(values), q)


def rows_in_short(a: Run, b: Run, changes: list[tuple[RowKey, Comparison]]) -> str:
    """How many rows ``row_changes`` compared and how many changed, faster and slower (compare.md's first
    line, and the results page's)."""
    changed = [c for _, c in changes if c.decisive]
    only = len({row_key(r) for r in a["rows"]} ^ {row_key(r) for r in b["rows"]})
    return (f"Rows compared: {len(changes)} (rows only one run has: {only}); changed (ratio B/A's 95 % interval "
            f"clear of 1 and at least {MIN_EFFECT:.0%} away): {len(changed)}, faster "
            f"{sum(c.ratio > 1 for c in changed)}, slower {sum(c.ratio < 1 for c in changed)}.")


def render(a: Run, b: Run, names: tuple[str, str]) -> str:
    changes = row_changes(a, b)
    moved = list(ratio_movement(a, b).values())
    moved_pairs = pair_movement(a, b)
    pairs, cells = list(moved_pairs.values()), per_cell(moved_pairs)
    agreement = verdict_agreement(a, b)
    agreeing = sum(va == vb for _, _, va, vb in agreement)
    lines = [f"# {names[1]} against {names[0]}", "",
             f"A: `{names[0]}` ({a.get('created')}); B: `{names[1]}` ({b.get('created')}).", "",
             "## In short", "",
             f"- {rows_in_short(a, b, changes)}",
             f"- Row req/s, B/A: median change {statistics.median(abs(c.ratio - 1) for _, c in changes):.1%}"
             if changes else "- Row req/s: no row measured in both runs.",
             f"- Within-cell ratios (each strategy against its cell's fastest), relative movement A → B: median "
             f"{statistics.median(moved):.1%}, p90 {_percentile(moved, 90):.1%} over {len(moved)} rows."
             if moved else "- Within-cell ratios: no cell with two strategies in both runs.",
             (f"- Within-cell ratios of every two strategies, relative movement A → B: median "
              f"{statistics.median(pairs):.1%}, p90 {_percentile(pairs, 90):.1%} over {len(pairs)} pairs; each "
              f"cell's median over its pairs: median {statistics.median(cells):.1%}, p90 "
              f"{_percentile(cells, 90):.1%} over {len(cells)} cells.")
             if pairs else "- Pair ratios: no cell with two strategies in both runs.",
             f"- Verdicts (cell × reading judged in both): {agreeing} of {len(agreement)} agree.", ""]
    lines += ["## Verdicts that differ", ""]
    differ = [(k, r, va, vb) for k, r, va, vb in agreement if va != vb]
    lines += [f"- {' / '.join(map(str, k))}, {reading_name(r)}: A {va}, B {vb}" for k, r, va, vb in differ]
    lines += ["- none"] if not differ else []
    lines += ["", "## Every row, B against A", "",
              "| workload | profile | policy | C | strategy | A req/s | B req/s | B/A [95 % CI] | changed |",
              "|---|---|---|---|---|---|---|---|---|"]
    for key, c in changes:
        mark = ("faster" if c.ratio > 1 else "slower") if c.decisive else ""
        lines.append(f"| {' | '.join(map(str, key))} | {c.median_b:,.0f} | {c.median_a:,.0f} | "
                     f"{c.interval_text} | {mark} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path, help="the earlier run's JSON (A)")
    parser.add_argument("b", type=Path, help="the later run's JSON (B)")
    parser.add_argument("--out", type=Path, default=None, help="also write the Markdown here")
    args = parser.parse_args(argv)
    try:
        runs = load_run(args.a), load_run(args.b)
    except (OSError, ValueError, KeyError) as exc:
        print(f"bench.compare: {exc}", file=sys.stderr)
        return 1
    text = render(*runs, (str(args.a), str(args.b)))
    print(text, end="")
    if args.out is not None:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
