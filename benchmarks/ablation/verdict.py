"""The ablation's verdict on a trick: does switching it off change the service beyond noise?

The noise is measured, not assumed: the ablation runs a second copy of the full service as a
control, and the per-round ratios control / full show how far two identical servers differ on
this machine at this time. A trick's per-round ratios variant / full (the variant being the
service with that trick replaced) are compared with the control's:

- the trick **pays** when the middle half of its ratios lies wholly on the trick's good side
  of both 1.0 and the control's middle half (for CPU per call: above them, the variant costs
  more; for calls/s: below them, the variant serves fewer);
- it **costs** when they lie wholly on the other side of both (the plain way does better);
- otherwise it is **inside the noise**: its middle half overlaps the control's, or holds 1.0.

Requiring both keeps a run whose control happened to differ from the full service in every round
(two processes of the same code can differ by a few percent) from calling a null effect a gain.

>>> from benchmarks.stats import spread
>>> control = spread([0.98, 1.00, 1.01, 1.03])
>>> verdict(spread([1.05, 1.08, 1.10, 1.12]), control, pays_above=True)
<Verdict.PAYS: 'pays'>
>>> verdict(spread([0.99, 1.02, 1.06, 1.10]), control, pays_above=True)
<Verdict.NOISE: 'inside the noise'>
>>> verdict(spread([0.99, 1.0, 1.0, 1.01]), spread([0.96, 0.97, 0.97, 0.98]), pays_above=True)
<Verdict.NOISE: 'inside the noise'>
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


def verdict(effect: Spread, control: Spread, *, pays_above: bool) -> Verdict:
    """The verdict on a trick whose ratios variant / full spread as `effect`, against the
    `control` ratios' spread; `pays_above` when ratios above the control's mean the trick helps."""
    if effect.q1 > max(control.q3, 1.0):
        return Verdict.PAYS if pays_above else Verdict.COSTS
    if effect.q3 < min(control.q1, 1.0):
        return Verdict.COSTS if pays_above else Verdict.PAYS
    return Verdict.NOISE
