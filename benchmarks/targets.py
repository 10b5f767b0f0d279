"""The service's speed targets against its baselines, and whether a benchmark met them.

>>> targets = service_targets(
...     cpu_ratio=1.253, cheapest="bare-sync", rate_ratio=0.95, fastest="bare-sync", p50_ms=0.3
... )
>>> [t.met for t in targets]
[False, True, True]
>>> missed(targets)
'missed target: CPU per call 1.253 x bare-sync (target <= 1.25 x bare-sync)'
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Sequence

CPU_RATIO_MAX = 1.25
"""The service's CPU per call, at most this many times the cheapest baseline's."""

RATE_RATIO_MIN = 0.85
"""The service's calls/s, at least this many times the fastest baseline's."""

P50_MAX_MS = 1.0
"""The service's median latency at one connection and one stream, below this (milliseconds)."""

TRACED_RATIO_MAX = 1.15
"""The service's CPU per call with tracing on (10% sampled), at most this many times its own
with tracing off."""

Comparison = Literal["<=", ">=", "<"]
_COMPARE = {"<=": operator.le, ">=": operator.ge, "<": operator.lt}


@dataclass(frozen=True, slots=True)
class Target:
    """One target: the measured `value` of `what`, which must be `comparison` `bound`."""

    what: str
    value: float
    comparison: Comparison
    bound: float
    unit: str

    @property
    def met(self) -> bool:
        return bool(_COMPARE[self.comparison](self.value, self.bound))

    def __str__(self) -> str:
        return (
            f"{self.what} {self.value:.3f}{self.unit} "
            f"(target {self.comparison} {self.bound:.2f}{self.unit})"
        )


def service_targets(
    *, cpu_ratio: float, cheapest: str, rate_ratio: float, fastest: str, p50_ms: float
) -> list[Target]:
    """The three targets: median ratios to the cheapest (CPU per call) and the fastest (calls/s)
    baseline, named, and the median latency at one connection, one stream."""
    return [
        Target("CPU per call", cpu_ratio, "<=", CPU_RATIO_MAX, f" x {cheapest}"),
        Target("calls/s", rate_ratio, ">=", RATE_RATIO_MIN, f" x {fastest}"),
        Target("p50 at 1x1", p50_ms, "<", P50_MAX_MS, " ms"),
    ]


def missed(targets: Sequence[Target]) -> str | None:
    """One line naming every missed target, or None when all were met."""
    misses = [str(target) for target in targets if not target.met]
    plural = "s" if len(misses) > 1 else ""
    return f"missed target{plural}: {'; '.join(misses)}" if misses else None
