"""The benchmarks' arithmetic: spreads of per-round ratios, counted calls, and targets."""

from __future__ import annotations

import doctest

import pytest

from benchmarks import answers, stats, targets


@pytest.mark.parametrize("module", [answers, stats, targets])
def test_the_docstring_examples_hold(module: object) -> None:
    failed, tried = doctest.testmod(module)  # type: ignore[arg-type]
    assert tried
    assert not failed


def test_an_even_number_of_rounds_has_a_median_between_the_middle_two() -> None:
    s = stats.spread([1.0, 1.2])
    assert s.median == pytest.approx(1.1)
    assert 1.0 <= s.q1 <= s.median <= s.q3 <= 1.2


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
        (1.25, 0.85, 0.999, None),
        (1.0, 0.849, 0.5, "missed target: calls/s 0.849 x tutorial (target >= 0.85 x tutorial)"),
        (1.0, 1.0, 1.0, "missed target: p50 at 1x1 1.000 ms (target < 1.00 ms)"),
        (
            1.3,
            0.8,
            0.5,
            "missed targets: CPU per call 1.300 x bare-sync (target <= 1.25 x bare-sync);"
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
