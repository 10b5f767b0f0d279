"""The benchmarks' arithmetic: spreads of per-round ratios, targets, the ablation's verdicts."""

from __future__ import annotations

import doctest

import pytest

from benchmarks import counters, stats, targets
from benchmarks.ablation import __main__ as ablation_main
from benchmarks.ablation import report, verdict
from benchmarks.ablation.report import Measurements
from benchmarks.ablation.variants import FULL
from benchmarks.ablation.verdict import Verdict

CONTROL = ablation_main.CONTROL


@pytest.mark.parametrize("module", [counters, stats, targets, verdict])
def test_the_docstring_examples_hold(module: object) -> None:
    failed, tried = doctest.testmod(module)  # type: ignore[arg-type]
    assert tried
    assert not failed


def test_a_spread_has_the_median_quartiles_and_extremes() -> None:
    s = stats.spread([1.3, 0.9, 1.0, 1.1, 1.2, 0.8, 1.05, 1.15, 0.95])
    assert s.median == 1.05
    assert (s.q1, s.q3) == pytest.approx((0.95, 1.15))
    assert (s.low, s.high) == (0.8, 1.3)
    assert s.straddles(1.0)
    assert not s.straddles(1.2)


def test_an_even_number_of_rounds_has_a_median_between_the_middle_two() -> None:
    s = stats.spread([1.0, 1.2])
    assert s.median == pytest.approx(1.1)
    assert s.low <= s.q1 <= s.median <= s.q3 <= s.high


def test_a_single_round_has_no_spread() -> None:
    with pytest.raises(ValueError, match="at least two"):
        stats.spread([1.0])


def test_ratios_pair_the_rounds() -> None:
    assert stats.ratios([2.0, 3.0], [1.0, 6.0]) == [2.0, 0.5]
    with pytest.raises(ValueError, match="2 rounds against 1"):
        stats.ratios([2.0, 3.0], [1.0])


@pytest.mark.parametrize(
    ("cpu", "rate", "p50", "missed"),
    [
        (1.10, 0.90, 0.999, None),
        (
            1.101,
            0.9,
            0.5,
            "missed target: CPU per call 1.101 x bare-sync (target <= 1.10 x bare-sync)",
        ),
        (1.0, 0.899, 0.5, "missed target: calls/s 0.899 x tutorial (target >= 0.90 x tutorial)"),
        (1.0, 1.0, 1.0, "missed target: p50 at 1x1 1.000 ms (target < 1.00 ms)"),
        (
            1.2,
            0.8,
            0.5,
            "missed targets: CPU per call 1.200 x bare-sync (target <= 1.10 x bare-sync);"
            " calls/s 0.800",
        ),
    ],
)
def test_targets_are_met_at_their_bounds_and_missed_beyond(
    cpu: float, rate: float, p50: float, missed: str | None
) -> None:
    result = targets.service_targets(
        cpu_ratio=cpu, cheapest="bare-sync", rate_ratio=rate, fastest="tutorial", p50_ms=p50
    )
    line = targets.missed(result)
    if missed is None:
        assert line is None
    else:
        assert line is not None
        assert line.startswith(missed)
        assert "\n" not in line


CONTROL_SPREAD = stats.spread([0.97, 0.99, 1.0, 1.01, 1.03])  # middle half 0.99-1.01


@pytest.mark.parametrize(
    ("ratios", "pays_above", "expected"),
    [
        ([1.02, 1.04, 1.05, 1.06, 1.2], True, Verdict.PAYS),  # middle half 1.04-1.06
        ([0.8, 0.94, 0.95, 0.96, 0.98], True, Verdict.COSTS),
        ([0.8, 0.94, 0.95, 0.96, 0.98], False, Verdict.PAYS),
        ([1.02, 1.04, 1.05, 1.06, 1.2], False, Verdict.COSTS),
        ([0.9, 1.0, 1.05, 1.1, 1.2], True, Verdict.NOISE),  # reaches into the band
        ([1.0, 1.01, 1.02, 1.03, 1.3], True, Verdict.NOISE),  # touches it
        ([0.5, 0.9, 1.0, 1.1, 1.5], False, Verdict.NOISE),  # straddles it
    ],
)
def test_a_trick_pays_only_when_its_middle_half_clears_the_noise_band(
    ratios: list[float], pays_above: bool, expected: Verdict
) -> None:
    effect = stats.spread(ratios)
    assert verdict.verdict(effect, CONTROL_SPREAD, pays_above=pays_above) is expected


def test_the_noise_band_is_the_controls_farthest_quartile_from_one() -> None:
    assert verdict.noise(CONTROL_SPREAD) == pytest.approx(0.01)
    offset = stats.spread([0.95, 0.96, 0.97, 0.97, 0.98])  # middle half 0.96-0.97
    assert verdict.noise(offset) == pytest.approx(0.04)


@pytest.mark.parametrize(
    ("ratios", "expected"),
    [
        ([1.02, 1.03, 1.03, 1.04, 1.05], Verdict.NOISE),  # beyond the control's, inside 1 +- 0.04
        ([1.04, 1.05, 1.06, 1.07, 1.08], Verdict.PAYS),
        ([0.93, 0.94, 0.95, 0.955, 0.96], Verdict.COSTS),
    ],
)
def test_a_control_away_from_one_widens_the_band_on_both_sides(
    ratios: list[float], expected: Verdict
) -> None:
    control = stats.spread([0.95, 0.96, 0.97, 0.97, 0.98])  # the second run cheaper every round
    assert verdict.verdict(stats.spread(ratios), control, pays_above=True) is expected


def measurements(rounds: list[dict[str, tuple[int, int]]]) -> Measurements:
    m = Measurements([FULL, CONTROL, "thread-pool-executor"], len(rounds), 1000, 100)
    for runs in rounds:
        for name, (cpu, rate) in runs.items():
            m.add(name, cpu, rate)
    return m


ROUNDS = [
    {FULL: (100, 6000), CONTROL: (101, 5950), "thread-pool-executor": (120, 5000)},
    {FULL: (110, 5500), CONTROL: (108, 5600), "thread-pool-executor": (130, 4600)},
    {FULL: (90, 6600), CONTROL: (92, 6500), "thread-pool-executor": (108, 5500)},
]


def test_effects_compare_each_round_with_the_full_service_of_that_round() -> None:
    control, pool = report.effects(measurements(ROUNDS), CONTROL)
    assert control.name == CONTROL
    assert pool.name == "thread-pool-executor"
    assert pool.cpu.median == pytest.approx(1.2)  # 120/100, 130/110, 108/90
    assert pool.rate.median == pytest.approx(5000 / 6000)
    assert pool.cpu_verdict is Verdict.PAYS
    assert pool.rate_verdict is Verdict.PAYS
    assert control.cpu_verdict is Verdict.NOISE


def test_the_report_shows_every_round_and_calls_few_rounds_a_smoke_run() -> None:
    text = report.report(measurements(ROUNDS), CONTROL)
    assert "A smoke run: 3 rounds" in text
    assert "pays (switched off: CPU per call +20%)" in text
    assert "pays (switched off: calls/s -17%)" in text
    assert "| 3 | 90, 6600 | 92, 6500 | 108, 5500 |" in text
    nine = measurements(ROUNDS * 3)
    assert "smoke run" not in report.report(nine, CONTROL)


@pytest.mark.parametrize("variants", [["a"], ["a", "b"], ["a", "b", "c"], list("abcde")])
def test_the_control_runs_as_far_from_the_full_service_as_any_contender(
    variants: list[str],
) -> None:
    names = ablation_main._cycle(variants)
    assert names[0] == FULL
    assert sorted(names) == sorted([FULL, CONTROL, *variants])
    n = len(names)
    distance = {name: min(i, n - i) for i, name in enumerate(names)}  # around the cycle
    assert distance[CONTROL] == max(distance.values())
