"""Per-round ratios and their spread: how the benchmarks summarise alternating rounds.

Every benchmark here runs its contenders in alternating rounds and compares them within each
round (a ratio of two runs a few seconds apart), because the machine's speed drifts more between
rounds than between neighbouring runs. A set of per-round ratios is summarised by its median and
its quartiles.

>>> s = spread([1.0, 1.2, 0.9, 1.1, 1.05])
>>> s.median, s.q1, s.q3
(1.05, 1.0, 1.1)
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence


@dataclass(frozen=True, slots=True)
class Spread:
    """The median of some values and their quartiles: the middle half lies in [`q1`, `q3`]."""

    median: float
    q1: float
    q3: float


def spread(values: Sequence[float]) -> Spread:
    """The median and quartiles of `values` (at least two). The quartiles are interpolated
    between the values themselves (`statistics.quantiles`, "inclusive"): never outside them."""
    if len(values) < 2:
        raise ValueError(f"a spread needs at least two values, got {len(values)}")
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return Spread(median=statistics.median(values), q1=q1, q3=q3)


def ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """`numerators[i] / denominators[i]` for each round `i` (both sequences as long)."""
    if len(numerators) != len(denominators):
        raise ValueError(f"{len(numerators)} rounds against {len(denominators)}")
    return [a / b for a, b in zip(numerators, denominators, strict=True)]
