"""The ablation's measurements and its Markdown report (`docs/benchmarks-ablation.md`)."""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime

from benchmarks import stats
from benchmarks.ablation.variants import FULL, VARIANTS
from benchmarks.ablation.verdict import Verdict, noise, verdict
from benchmarks.h2load import LOAD_CPU, SERVER_CPU

DECIDING_ROUNDS = 9
"""Fewer rounds than this make a smoke run: the report says its verdicts decide nothing."""


@dataclass
class Measurements:
    """Every run's CPU microseconds per call and calls/s, by contender, in round order."""

    names: list[str]
    rounds: int
    calls: int
    warm_up: int
    cpu: dict[str, list[float]] = field(default_factory=dict)
    rate: dict[str, list[float]] = field(default_factory=dict)
    load_before: float = 0.0
    load_after: float = 0.0

    def add(self, name: str, cpu_us_per_call: float, calls_per_second: float) -> None:
        """Record one run of contender `name`."""
        self.cpu.setdefault(name, []).append(cpu_us_per_call)
        self.rate.setdefault(name, []).append(calls_per_second)


@dataclass(frozen=True, slots=True)
class Effect:
    """A contender against the full service: the spreads of its per-round ratios to it, and
    the verdicts they give against the control's."""

    name: str
    cpu: stats.Spread
    rate: stats.Spread
    cpu_verdict: Verdict
    rate_verdict: Verdict


def effects(measurements: Measurements, control: str) -> list[Effect]:
    """Every contender but the full service against it, the `control` first; verdicts against
    the control's ratios (the control's own verdicts are inside the noise by construction)."""
    full_cpu, full_rate = measurements.cpu[FULL], measurements.rate[FULL]
    spreads = {
        name: (
            stats.spread(stats.ratios(measurements.cpu[name], full_cpu)),
            stats.spread(stats.ratios(measurements.rate[name], full_rate)),
        )
        for name in measurements.names
        if name != FULL
    }
    control_cpu, control_rate = spreads[control]
    return [
        Effect(
            name,
            cpu,
            rate,
            verdict(cpu, control_cpu, pays_above=True),
            verdict(rate, control_rate, pays_above=False),
        )
        for name, (cpu, rate) in sorted(spreads.items(), key=lambda item: item[0] != control)
    ]


def report(measurements: Measurements, control: str) -> str:
    """The report in Markdown."""
    m = measurements
    smoke = m.rounds < DECIDING_ROUNDS
    rows = effects(m, control)
    cpu_band, rate_band = noise(rows[0].cpu), noise(rows[0].rate)
    lines = [
        "# Ablation: what each speed trick of the service is worth",
        "",
        f"Written by `make bench-ablation` (`benchmarks/ablation/`) on"
        f" {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. How it works and how to read it:"
        " `benchmarks/README.md`.",
        "",
    ]
    if smoke:
        lines += [
            f"**A smoke run: {m.rounds} rounds. The verdicts below decide nothing; run at least"
            f" {DECIDING_ROUNDS} rounds on a quiet machine.**",
            "",
        ]
    lines += [
        f"- Contenders: the full service, the full service again (`{control}`, the control), and"
        " one variant per trick, the trick replaced by the plain, library-based way"
        " (`benchmarks/ablation/variants.py`). The control runs halfway round each round's order"
        " from the full service.",
        f"- Each run a fresh server process pinned to CPU {SERVER_CPU}, {m.warm_up} calls of"
        f" warm-up, then {m.calls} measured calls from h2load on CPU {LOAD_CPU} (4 connections x 16"
        f" streams, v2 Recommend with the homepage's request); {m.rounds} rounds, the order rotated"
        " each round.",
        "- CPU per call: user + system time of the server's process tree over the measured calls.",
        "- Every run answered grpcio calls OK with the product's own response before and after its"
        " load, and its own `grpc_server_handled_total` counted every measured call OK.",
        f"- Load average (1 min) at the start and end: {m.load_before:.1f} and {m.load_after:.1f}"
        f" on {os.cpu_count()} CPUs.",
        "",
        "## Each trick switched off, against the full service",
        "",
        "Per-round ratios variant / full service: **median** [middle half of the rounds]"
        " (lowest-highest). The control's ratios set the noise band: 1.0 plus or minus their"
        f" quartiles' larger distance from 1.0 (here CPU per call 1 +- {cpu_band:.3f}, calls/s"
        f" 1 +- {rate_band:.3f}). A trick pays when the middle half of its ratios lies wholly"
        " beyond the band on the trick's side (CPU per call: above, calls/s: below); it costs when"
        " wholly beyond it on the other side; otherwise its effect is inside the noise.",
        "",
        "| Trick switched off | Replaced by (contender) | CPU per call, variant / full"
        " | Calls/s, variant / full | Verdict on CPU per call | Verdict on calls/s |",
        "| --- | --- | ---: | ---: | --- | --- |",
    ]
    for effect in rows:
        if effect.name == control:
            trick, replacement = "none (the control)", f"the full service again (`{control}`)"
            cpu_verdict = rate_verdict = "-"
        else:
            variant = VARIANTS[effect.name]
            trick, replacement = variant.trick, f"{variant.replacement} (`{effect.name}`)"
            cpu_verdict = _worded(effect.cpu_verdict, effect.cpu.median, "CPU per call")
            rate_verdict = _worded(effect.rate_verdict, effect.rate.median, "calls/s")
        lines.append(
            f"| {trick} | {replacement} | {_cell(effect.cpu)} | {_cell(effect.rate)}"
            f" | {cpu_verdict} | {rate_verdict} |"
        )
    lines += [
        "",
        "## Medians over the rounds",
        "",
        "| Contender | CPU per call (us) | Calls/s |",
        "| --- | ---: | ---: |",
    ]
    lines += [
        f"| {name} | {statistics.median(m.cpu[name]):.0f} | {statistics.median(m.rate[name]):.0f} |"
        for name in m.names
    ]
    lines += [
        "",
        "## Every round: CPU per call (us), calls/s",
        "",
        "| Round | " + " | ".join(m.names) + " |",
        "| ---: | " + " | ".join("---:" for _ in m.names) + " |",
    ]
    for r in range(m.rounds):
        cells = " | ".join(f"{m.cpu[name][r]:.0f}, {m.rate[name][r]:.0f}" for name in m.names)
        lines.append(f"| {r + 1} | {cells} |")
    lines.append("")
    return "\n".join(lines)


def _cell(spread: stats.Spread) -> str:
    return (
        f"**{spread.median:.3f}** [{spread.q1:.3f}-{spread.q3:.3f}]"
        f" ({spread.low:.3f}-{spread.high:.3f})"
    )


def _worded(result: Verdict, median: float, what: str) -> str:
    """The verdict with the trick's median effect: what switching it off did to `what`."""
    if result is Verdict.NOISE:
        return str(result.value)
    return f"{result.value} (switched off: {what} {median - 1:+.0%})"
