"""What the benchmarks' entry points share: the baselines, the order of each round, tracing, the
report's tables and its end."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

BASELINES = Path(__file__).resolve().parent / "baselines"

TRACED_RATIO = 0.1
"""The ratio of calls the traced contenders sample."""


def baseline(script: str) -> list[str]:
    """The command that runs the baseline server `script`, a path under `BASELINES`."""
    return [sys.executable, str(BASELINES / script)]


def tracing(otlp_endpoint: str) -> dict[str, str]:
    """The standard OpenTelemetry variables that turn tracing on, exporting to `otlp_endpoint`."""
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_endpoint,
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": str(TRACED_RATIO),
    }


def rotated(contenders: list[T], round_number: int) -> list[T]:
    """The contenders in this round's order: rotated every round, so none always runs first."""
    shift = round_number % len(contenders)
    return contenders[shift:] + contenders[:shift]


def row(*cells: object) -> str:
    """One row of a Markdown table."""
    return "| " + " | ".join(map(str, cells)) + " |"


def finish(report: str, output: Path | None, problem: str | None) -> int:
    """Print the report, write it to `output` if given, and return the exit status: 1, after an
    `error:` line, when there is a `problem` (a missed target)."""
    print(report)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(report, encoding="utf-8")
    if problem is None:
        return 0
    print(f"error: {problem}", file=sys.stderr)
    return 1
