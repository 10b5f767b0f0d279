"""3. Dependency outage.

Both replicas stop while wrk loads the homepage: every page is still 200 and degraded, with p99
within the call deadline plus 50 ms. Then one replica starts again: full recommendations come
back within 5 s, without restarting the website, and stay.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from harness.load import SlicedLoad, total
from harness.metrics import difference
from harness.processes import wait_until
from harness.service import Replica
from harness.website import Website
from soak.scenarios.base import Outcome

if TYPE_CHECKING:
    from soak.scenarios.base import Context

TITLE = "Dependency outage"
_DEADLINE = 0.3
_SLACK = 0.05
_RECOVERY = 5.0
_HOME_BOOKS = 3


@dataclass
class _Timeline:
    """When each phase began (seconds since the load's origin) and the site's call counters."""

    down_at: float = 0.0
    restart_at: float = 0.0
    full_at: float = 0.0
    whole_at: float = 0.0
    recovered: bool = False
    back_from: float = 0.0
    calls_down: dict[str, float] = field(default_factory=dict)
    calls_restart: dict[str, float] = field(default_factory=dict)
    calls_back: dict[str, float] = field(default_factory=dict)
    calls_end: dict[str, float] = field(default_factory=dict)


def run(context: Context) -> Outcome:
    """Take the service away under load, then bring one replica back."""
    outcome = Outcome("outage", TITLE)
    supervisor = context.supervisor
    replicas = [Replica(supervisor, f"outage-{name}", context.catalog) for name in ("a", "b")]
    for replica in replicas:
        replica.start()
    target = "ipv4:" + ",".join(replica.address for replica in replicas)
    site = Website(
        supervisor,
        "outage-site",
        context.workdir,
        target,
        extra_env={"RECOMMENDATIONS_TIMEOUT_SECONDS": str(_DEADLINE)},
    )
    site.start()
    site.get("/")
    origin = time.monotonic()
    with SlicedLoad(site.url, origin=origin) as load:
        timeline = _drive(context, outcome, replicas, site, origin)
    timeline.calls_end = site.calls()
    replicas[0].terminate()
    site.stop()
    _judge(outcome, load, timeline)
    return outcome


def _drive(
    context: Context, outcome: Outcome, replicas: list[Replica], site: Website, origin: float
) -> _Timeline:
    """Run the phases under load: normal, both down, one replica back."""
    settle = context.seconds(3, 2)
    timeline = _Timeline()

    def now() -> float:
        return time.monotonic() - origin

    time.sleep(settle)
    outcome.event(now(), "SIGTERM A and B")
    for replica in replicas:
        replica.terminate()
    timeline.down_at = now()
    outcome.event(timeline.down_at, "both down")
    timeline.calls_down = site.calls()
    time.sleep(context.seconds(15, 5))
    timeline.calls_restart = site.calls()
    timeline.restart_at = now()
    outcome.event(timeline.restart_at, "start A")
    replicas[0].start(wait=False)
    timeline.recovered = wait_until(lambda: site.get("/").books == _HOME_BOOKS, timeout=15)
    timeline.full_at = now()
    outcome.event(timeline.full_at, "first full page" if timeline.recovered else "no full page")
    replicas[0].wait_serving()
    # Each website worker has its own channel and reconnect backoff: the site is whole again
    # when its count of failed calls has stopped growing (for a second).
    failures, timeline.whole_at = _failures(site), now()
    while now() - timeline.whole_at < 1.0 and now() - timeline.restart_at < 15:
        time.sleep(0.1)
        if (current := _failures(site)) != failures:
            failures, timeline.whole_at = current, now()
    outcome.event(timeline.whole_at, "last degraded page")
    timeline.calls_back = site.calls()
    timeline.back_from = now()
    time.sleep(settle)
    return timeline


def _judge(outcome: Outcome, load: SlicedLoad, timeline: _Timeline) -> None:
    """Record the figures and check the promises."""
    requests, non2xx, socket_errors = total(load.slices)
    # One-second slices that ran entirely while both replicas were down.
    during = load.between(timeline.down_at, timeline.restart_at - 1)
    outage_requests = total(during)[0]
    outage_calls = difference(timeline.calls_restart, timeline.calls_down)
    after_calls = difference(timeline.calls_end, timeline.calls_back)
    after_requests = total(load.between(timeline.back_from, float("inf")))[0]
    worst_p99 = max((s.p99_ms for s in during), default=0.0)
    bound_ms = (_DEADLINE + _SLACK) * 1e3
    recovery = timeline.full_at - timeline.restart_at
    outcome.figure("homepage requests (wrk, 8 connections)", f"{requests:,}")
    outcome.figure(
        "during the outage: requests, worst one-second p99",
        f"{outage_requests:,}, {worst_p99:.0f} ms",
    )
    outcome.figure("site's recommendation calls during the outage", outage_calls)
    whole = timeline.whole_at - timeline.restart_at
    outcome.figure("start of A to first full page", f"{recovery:.2f} s")
    outcome.figure("start of A to the last degraded page", f"{whole:.2f} s")
    outcome.figure("site's recommendation calls after recovery", after_calls)
    outcome.promise(
        non2xx == 0 and socket_errors == 0,
        "every page is 200, outage or not",
        f"{non2xx} non-2xx, {socket_errors} socket errors",
    )
    outcome.promise(
        outage_calls.get("OK", 0) == 0 and sum(outage_calls.values()) >= outage_requests > 0,
        "every page during the outage is degraded",
        f"{outage_calls} for {outage_requests} pages",
    )
    outcome.promise(
        worst_p99 <= bound_ms,
        f"p99 within the deadline plus 50 ms ({bound_ms:.0f} ms)",
        f"{worst_p99:.0f} ms",
    )
    outcome.promise(
        timeline.recovered and whole <= _RECOVERY,
        "every page full again within 5 s of starting a replica",
        f"first full page after {recovery:.2f} s, last degraded after {whole:.2f} s",
    )
    outcome.promise(
        set(after_calls) == {"OK"} and after_calls["OK"] >= after_requests > 0,
        "every page after recovery has its recommendations",
        f"{after_calls} for {after_requests} pages",
    )
    outcome.series["p99 ms"] = [(s.started + 0.5, s.p99_ms) for s in load.slices]
    outcome.series["requests/s"] = [(s.started + 0.5, s.rate) for s in load.slices]


def _failures(site: Website) -> float:
    """The site's failed recommendation calls so far (degraded pages)."""
    return sum(count for code, count in site.calls().items() if code != "OK")
