"""What every scenario gets (`Context`) and gives back (`Outcome`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from harness.load import total

if TYPE_CHECKING:
    from pathlib import Path

    from harness.load import SlicedLoad
    from harness.processes import Supervisor


@dataclass(frozen=True, slots=True)
class Context:
    """Shared by the scenarios of one run: where to work and how long to push."""

    supervisor: Supervisor
    workdir: Path
    catalog: Path
    certs: Path
    short: bool

    def seconds(self, full: float, short: float) -> float:
        """A duration: `full` in the full run, `short` under --short."""
        return short if self.short else full


@dataclass
class Outcome:
    """A scenario's figures, the promises it saw broken, and series for the plot."""

    name: str
    title: str
    figures: list[tuple[str, str]] = field(default_factory=list)
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)
    series: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    events: list[tuple[float, str]] = field(default_factory=list)
    origin: float = field(default_factory=time.monotonic)

    @property
    def passed(self) -> bool:
        """True when every promise held."""
        return not self.broken

    def figure(self, label: str, value: object) -> None:
        """Record (and print) one figure."""
        self.figures.append((label, str(value)))
        print(f"  {label}: {value}", flush=True)

    def promise(self, held: bool, promise: str, seen: object) -> None:
        """Record whether `promise` held, with what was seen either way."""
        mark = "ok" if held else "BROKEN"
        print(f"  [{mark}] {promise} (seen: {seen})", flush=True)
        self.checks.append((promise, held, str(seen)))
        if not held:
            self.broken.append(f"{promise} (seen: {seen})")

    def start_clock(self) -> float:
        """Make now the origin of the events and of the plot's time axis; return it."""
        self.origin = time.monotonic()
        return self.origin

    def now(self) -> float:
        """Seconds since the origin."""
        return time.monotonic() - self.origin

    def event(self, what: str, at: float | None = None) -> float:
        """Mark a moment (now unless `at`, in seconds since the origin) on the plot; return it."""
        at = self.now() if at is None else at
        self.events.append((at, what))
        print(f"  t={at:6.2f} s  {what}", flush=True)
        return at

    def full_pages(self, load: SlicedLoad, calls: dict[str, int]) -> None:
        """The promises of the site under `load`, by its own recommendation `calls` by code:
        every answer 200, no page degraded, every page with its recommendations."""
        requests, non2xx, socket_errors = total(load.slices)
        degraded = sum(count for code, count in calls.items() if code != "OK")
        self.promise(
            non2xx == 0 and socket_errors == 0,
            "not a single non-200 response",
            f"{non2xx} non-2xx, {socket_errors} socket errors",
        )
        self.promise(degraded == 0, "not a single degraded page", f"{degraded} degraded")
        self.promise(
            calls.get("OK", 0) >= requests > 0,
            "every page had its recommendations",
            f"{calls.get('OK', 0)} OK calls for {requests} pages",
        )

    def plot_load(self, load: SlicedLoad) -> None:
        """Plot the p99 and the rate of `load`'s one-second slices."""
        self.series["p99 ms"] = [(s.started + 0.5, s.p99_ms) for s in load.slices]
        self.series["requests/s"] = [(s.started + 0.5, s.rate) for s in load.slices]
