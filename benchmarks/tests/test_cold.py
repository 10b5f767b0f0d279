"""The cold-cache benchmark runs the service's own pieces and reports a figure for each."""

from __future__ import annotations

from typing import TYPE_CHECKING

from benchmarks import cold

if TYPE_CHECKING:
    import pytest


def test_every_piece_gets_a_hot_and_a_cold_figure(capsys: pytest.CaptureFixture[str]) -> None:
    assert cold.main(["--calls", "5", "--rounds", "2"]) == 0

    rows = capsys.readouterr().out.splitlines()[2:]
    figures = {name: (float(hot), float(cold_)) for name, hot, cold_ in _cells(rows)}
    assert set(figures) == {
        "an empty call (the instrument's floor)",
        "parse the request",
        "v2 handler",
        "interceptors + v2 handler",
        "watchdog + interceptors + v2 handler",
        "concurrent.futures.Future: made, a callback, a result",
        "CallFuture (the worker pool's): made, a callback, a result",
    }
    assert all(hot > 0 and cold_ > 0 for hot, cold_ in figures.values())


def _cells(rows: list[str]) -> list[list[str]]:
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]
