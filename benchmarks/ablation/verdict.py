"""The ablation's verdict on a trick: does switching it off change the service beyond noise?

The noise is measured, not assumed: the ablation runs the full service twice per round, and the
per-round ratios of the second run to the first (the control) show how far two runs of the same
code differ on this machine at this time. Their quartiles' larger distance from 1.0 sets the
noise band, 1.0 plus or minus that distance. A trick's per-round ratios variant / full (the
variant being the service with that trick replaced) are then judged by their middle half:

- the trick **pays** when the middle half lies wholly beyond the band on the trick's good side
  (for CPU per call: above it, the variant costs more; for calls/s: below it, it serves fewer);
- it **costs** when the middle half lies wholly beyond the band on the other side (the plain
  way does better);
- otherwise it is **inside the noise**.

The band is symmetric: a control that came out 3% cheaper than the full service says that two
runs of one code can differ by 3%, in either direction.

>>> from benchmarks.stats import spread
>>> control = spread([0.98, 1.00, 1.01, 1.03])  # middle half 0.995-1.015: the band is 1 +- 0.015
>>> verdict(spread([1.05, 1.08, 1.10, 1.12]), control, pays_above=True)
<Verdict.PAYS: 'pays'>
>>> verdict(spread([0.99, 1.02, 1.06, 1.10]), control, pays_above=True)
<Verdict.NOISE: 'inside the noise'>
>>> verdict(spread([0.95, 0.96, 0.97, 0.97]), control, pays_above=True)
<Verdict.COSTS: 'costs'>
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from benchmarks.stats import Spread


class Verdict(enum.Enum):
    """What a trick's measured effect says about keeping it."""

    PAYS = "pays"
    NOISE = "inside the noise"
    COSTS = "costs"


def noise(control: Spread) -> float:
    """The half-width of the noise band around 1.0: the control's quartiles' larger distance."""
    return max(abs(control.q1 - 1.0), abs(control.q3 - 1.0))


def verdict(effect: Spread, control: Spread, *, pays_above: bool) -> Verdict:
    """The verdict on a trick whose ratios variant / full spread as `effect`, against the
    `control` ratios' spread; `pays_above` when ratios above 1.0 mean the trick helps."""
    band = noise(control)
    if effect.q1 > 1.0 + band:
        return Verdict.PAYS if pays_above else Verdict.COSTS
    if effect.q3 < 1.0 - band:
        return Verdict.COSTS if pays_above else Verdict.PAYS
    return Verdict.NOISE
