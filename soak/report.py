"""docs/reliability.md and its plot, from the outcomes of a full run.

The report's last section, "Hostile input", is written by hand (its figures come from the tests
it names, not from the soak): a full run keeps it as it is.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
from typing import TYPE_CHECKING, Any

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt

if TYPE_CHECKING:
    from pathlib import Path

    from soak.scenarios.base import Outcome

PLOT = "reliability-latency.png"
KEPT_SECTION = "## Hostile input"
# An event's label: upright beside its line, at the top of the axes.
_EVENT_LABEL: dict[str, Any] = dict(rotation=90, fontsize=6, va="top", ha="right", color="dimgrey")
_PLOTTED = {
    "sustained": "1. Sustained gRPC load (h2load, 64 streams): per second",
    "rolling_restart": "2. Rolling restart: homepage under wrk, per second",
    "outage": "3. Dependency outage: homepage under wrk, per second",
}


def write(outcomes: list[tuple[Outcome, float]], docs: Path, *, total_seconds: float) -> list[Path]:
    """Write the markdown report and the plot into `docs`; return their paths."""
    docs.mkdir(parents=True, exist_ok=True)
    plot = docs / PLOT
    _plot([o for o, _ in outcomes if o.name in _PLOTTED], plot)
    markdown = docs / "reliability.md"
    # The hand-written section at the end of the existing report, if any.
    existing = markdown.read_text() if markdown.exists() else ""
    start = existing.find(f"\n{KEPT_SECTION}\n")
    kept = "" if start < 0 else existing[start + 1 :]
    written = _markdown(outcomes, total_seconds)
    markdown.write_text(f"{written.rstrip()}\n\n{kept}" if kept else written)
    return [markdown, plot]


def _markdown(outcomes: list[tuple[Outcome, float]], total_seconds: float) -> str:
    passed = sum(1 for o, _ in outcomes if o.passed)
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Reliability: the bookshop under load, faults and bad input",
        "",
        f"Written by `make soak` (`ci/soak.sh`, the full run) on {when}, on {platform.machine()} "
        f"with {os.cpu_count()} CPUs shared with other work: **{passed}/{len(outcomes)} "
        f"scenarios kept their promises** in {total_seconds:.0f} s. The scenarios live in "
        "`soak/scenarios/` (one module each; their docstrings state the promises); "
        "`make test` runs the same scenarios shortened (`ci/soak.sh --short`).",
        "",
        "Everything runs on 127.0.0.1 with real processes: `recommendations-server` replicas, the "
        "website under marketplace-server (production settings, two workers, round_robin over a "
        "static list of replicas), `wrk` on the homepage in back-to-back one-second runs (8 "
        "connections), `h2load` for gRPC. Degraded pages are counted from the site's own "
        "metric `marketplace_recommendations_calls_total{grpc_code}`, gRPC outcomes from the "
        "service's `grpc_server_handled_total{grpc_method,grpc_code}`.",
        "",
        "| Scenario | Result | Time |",
        "| --- | --- | --- |",
    ]
    for outcome, seconds in outcomes:
        verdict = "kept its promises" if outcome.passed else "**BROKEN**"
        lines.append(f"| {outcome.title} | {verdict} | {seconds:.0f} s |")
    lines += ["", f"![Latency during the scenarios]({PLOT})", ""]
    for outcome, _ in outcomes:
        lines += [f"## {outcome.title}", "", "| Figure | Value |", "| --- | --- |"]
        lines += [f"| {label.strip()} | {_cell(value)} |" for label, value in outcome.figures]
        lines += ["", "| Promise | Held | Seen |", "| --- | --- | --- |"]
        lines += [
            f"| {_cell(promise)} | {'yes' if held else '**NO**'} | {_cell(seen)} |"
            for promise, held, seen in outcome.checks
        ]
        lines += [f"| {_cell(b)} | **NO** | |" for b in outcome.broken if not outcome.checks]
        if outcome.events:
            lines += [
                "",
                "Timeline (seconds since the load started): "
                + "; ".join(f"{at:.1f} {what}" for at, what in outcome.events)
                + ".",
            ]
        lines.append("")
    return "\n".join(lines) + "\n"


def _cell(value: str) -> str:
    return value.replace("|", "\\|")


def _plot(outcomes: list[Outcome], path: Path) -> None:
    figure, axes = plt.subplots(len(outcomes), 1, figsize=(10, 3.2 * len(outcomes)), squeeze=False)
    for axis, outcome in zip(axes[:, 0], outcomes, strict=True):
        axis.set_title(_PLOTTED[outcome.name], fontsize=10, loc="left")
        for label in ("p50 ms", "p99 ms"):
            if points := outcome.series.get(label):
                axis.plot(*zip(*points, strict=True), label=f"latency {label[:3]}", linewidth=1.2)
        axis.set(xlabel="seconds since the load started", ylabel="latency (ms)", ylim=(0, None))
        for at, what in outcome.events:
            if what.endswith("takes calls"):
                continue  # right after SERVING: a second label would overprint the first
            axis.axvline(at, color="grey", linewidth=0.6, linestyle=":")
            axis.annotate(what, (at, 1), xycoords=("data", "axes fraction"), **_EVENT_LABEL)
        handles = axis.get_legend_handles_labels()[0]
        other = outcome.series.get("RSS MiB") or outcome.series.get("requests/s")
        if other:
            twin = axis.twinx()
            name = "resident memory (MiB)" if "RSS MiB" in outcome.series else "requests/s"
            style = {"color": "tab:green", "linewidth": 0.8, "alpha": 0.6}
            twin.plot(*zip(*other, strict=True), label=name, **style)
            twin.set(ylabel=name, ylim=(0, None))
            handles += twin.get_legend_handles_labels()[0]
        axis.legend(handles=handles, fontsize=7, loc="lower left")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
