"""What every scenario gets (`Context`) and gives back (`Outcome`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

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
    started: float = field(default_factory=time.monotonic)

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

    def event(self, at: float, what: str) -> None:
        """Mark a moment (seconds since the load's origin) on the plot."""
        self.events.append((at, what))
        print(f"  t={at:6.2f} s  {what}", flush=True)
