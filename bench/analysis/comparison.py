"""Two sets of per-round figures compared as a ratio: Welch's t-test on their logarithms, its interval, and
Holm's adjustment for a family of such comparisons.

Rules this module keeps:
- a comparison is a ratio (of geometric means), never a difference: the logarithm makes a 2x gap the same
  whatever the level, and Welch's t-test, unlike a rank test, has power with three rounds (a 2x gap with
  10 % round-to-round spread gives p ~ 0.001);
- a difference *counts* (``Comparison.decisive``) only when it is significant at ``ALPHA`` and at least
  ``MIN_EFFECT`` apart; one round a side gives no spread, so no difference;
- every caller compares this way: the claim's steps (``bench.analysis.verdict``), the opt-in rankings, model
  against library, today against an era, and one run against another (``bench.report.compare``);
- one row's own interval is on the same scale (``mean_interval``: Student's t on the logarithms of its rounds):
  the results page prints it, and the sweep stops measuring a row when it is narrow enough
  (``bench.sweep.cells``);
- pure functions; no I/O.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from dataclasses import dataclass
from typing import NamedTuple

from scipy.stats import t as student_t

#: Conventional significance level, applied to Holm-adjusted p-values; also sets the intervals' coverage
#: (1 - ALPHA = 95 %).
ALPHA = 0.05
#: Smallest difference of medians that counts as a difference (5 %): on a shared machine, pinning and
#: placement alone shift a model by a percent or two *consistently*, which the test would call significant.
#: A significant difference below this is reported as negligible, like a non-significant one.
MIN_EFFECT = 0.05


@dataclass(frozen=True)
class Comparison:
    """``a`` against ``b`` on per-round req/s: ``ratio`` (a / b) with its confidence interval and p-value."""

    a: str
    b: str
    median_a: float
    median_b: float
    #: Ratio of geometric means, and its (1 - ALPHA) confidence interval (Welch, on log req/s).
    ratio: float
    low: float
    high: float
    #: Welch's two-sided p, Holm-adjusted within its chain when it is a step of one (``holm``).
    p: float

    @property
    def significant(self) -> bool:
        return self.p < ALPHA

    @property
    def decisive(self) -> bool:
        """Significant and at least ``MIN_EFFECT`` apart: a difference worth stating."""
        return self.significant and abs(self.ratio - 1.0) >= MIN_EFFECT

    @property
    def outcome(self) -> str:
        """For a claimed step a > b: supported, reversed, negligible (significant but < MIN_EFFECT) or
        inconclusive (not significant)."""
        if not self.significant:
            return "inconclusive"
        if not self.decisive:
            return "negligible"
        return "supported" if self.ratio > 1 else "reversed"

    @property
    def interval_text(self) -> str:
        """E.g. ``2.80× [2.51, 3.12]``."""
        return f"{self.ratio:.2f}× [{self.low:.2f}, {self.high:.2f}]"


def compare(a: str, values_a: list[float], b: str, values_b: list[float]) -> Comparison:
    """Welch's t-test and interval on log req/s. One round a side gives no spread: an infinite interval
    and p = 1, never a difference."""
    log_a, log_b = [math.log(v) for v in values_a], [math.log(v) for v in values_b]
    diff = statistics.fmean(log_a) - statistics.fmean(log_b)
    medians = statistics.median(values_a), statistics.median(values_b)
    if len(log_a) < 2 or len(log_b) < 2:
        return Comparison(a, b, *medians, math.exp(diff), 0.0, math.inf, 1.0)
    var_a, var_b = statistics.variance(log_a) / len(log_a), statistics.variance(log_b) / len(log_b)
    se = math.sqrt(var_a + var_b)
    if se == 0:  # every round identical on both sides: the point is exact
        p = 1.0 if diff == 0 else 0.0
        return Comparison(a, b, *medians, math.exp(diff), math.exp(diff), math.exp(diff), p)
    df = (var_a + var_b) ** 2 / (var_a**2 / (len(log_a) - 1) + var_b**2 / (len(log_b) - 1))
    half = float(student_t.ppf(1 - ALPHA / 2, df)) * se
    # Welch's two-sided p from the same t and df as the interval: what scipy's ttest_ind(equal_var=False)
    # computes, without its warning (an error under the suite's pytest settings) for rounds nearly identical.
    p = float(2 * student_t.sf(abs(diff) / se, df))
    return Comparison(a, b, *medians, math.exp(diff), math.exp(diff - half), math.exp(diff + half), p)


class MeanInterval(NamedTuple):
    """A geometric mean of per-round values and its (1 - ALPHA) confidence interval."""

    mean: float
    low: float
    high: float


def mean_interval(values: list[float]) -> MeanInterval | None:
    """The geometric mean of one row's per-round ``values`` and its (1 - ALPHA) confidence interval: Student's
    t on their logarithms, the scale ``compare`` works on; None with fewer than two positive values (the
    others, a round without the figure, are left out)."""
    logs = [math.log(v) for v in values if v and v > 0]
    if len(logs) < 2:
        return None
    mean = statistics.fmean(logs)
    half = float(student_t.ppf(1 - ALPHA / 2, len(logs) - 1)) * statistics.stdev(logs) / math.sqrt(len(logs))
    return MeanInterval(math.exp(mean), math.exp(mean - half), math.exp(mean + half))


def holm(comparisons: list[Comparison]) -> list[Comparison]:
    """The same comparisons with Holm-adjusted p-values (step-down: the k-th smallest p times m - k + 1,
    kept monotone), so that "every step significant" has a family-wise error of at most ``ALPHA``."""
    order = sorted(range(len(comparisons)), key=lambda i: comparisons[i].p)
    adjusted = [0.0] * len(comparisons)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, comparisons[i].p * (len(comparisons) - rank)))
        adjusted[i] = running
    return [dataclasses.replace(c, p=p) for c, p in zip(comparisons, adjusted, strict=True)]
