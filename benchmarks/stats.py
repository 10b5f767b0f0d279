"""Per-round ratios and their spread: how the benchmarks summarise alternating rounds.

Every benchmark here runs its contenders in alternating rounds and compares them within each
round (a ratio of two runs a few seconds apart), because the machine's speed drifts more between
rounds than between neighbouring runs. A set of per-round ratios is summarised by its median and
its spread.

>>> s = spread([1.0, 1.2, 0.9, 1.1, 1.05])
>>> s.median, s.q1, s.q3, s.low, s.high
(1.05, 1.0, 1.1, 0.9, 1.2)
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence


@dataclass(frozen=True, slots=True)
class Spread:
    """The median of some values, their quartiles (`q1`, `q3`: the middle half lies between
    them) and their extremes (`low`, `high`)."""

    median: float
    q1: float
    q3: float
    low: float
    high: float

    def straddles(self, value: float) -> bool:
        """Whether `value` lies inside the middle half [q1, q3]."""
        return self.q1 <= value <= self.q3


def spread(values: Sequence[float]) -> Spread:
    """The median, quartiles and extremes of `values` (at least two).

    Quartiles are interpolated between the values themselves (`statistics.quantiles` with the
    "inclusive" method), so they never lie outside the values seen.
    """
    if len(values) < 2:
        raise ValueError(f"a spread needs at least two values, got {len(values)}")
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return Spread(median=statistics.median(values), q1=q1, q3=q3, low=min(values), high=max(values))


def ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """`numerators[i] / denominators[i]` for each round `i` (both sequences as long)."""
    if len(numerators) != len(denominators):
        raise ValueError(f"{len(numerators)} rounds against {len(denominators)}")
    return [a / b for a, b in zip(numerators, denominators, strict=True)]
