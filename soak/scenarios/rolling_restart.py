"""2. Rolling restart with zero loss.

Two replicas (drain delay 2 s) behind the website (marketplace-server, two workers, round_robin
over the static list of both), wrk on the homepage throughout. SIGTERM replica A, start it
again, then the same for B (three rounds in the full run, one in --short).
Promises: not one non-200 answer, not one degraded page (the site's own metric), every
replica exits 0 on SIGTERM, and the site calls each restarted replica again within 3 s.
"""

from __future__ import annotations

import time
from functools import partial
from typing import TYPE_CHECKING

from harness.load import SlicedLoad, total
from harness.metrics import difference
from harness.processes import wait_until
from harness.service import Replica
from harness.website import Website
from soak.scenarios.base import Outcome

if TYPE_CHECKING:
    from soak.scenarios.base import Context

TITLE = "Rolling restart"
_DRAIN_SECONDS = 2.0
# The site's reconnect backoff is capped at 1 s (with jitter): a replica unused for longer than
# this after it is SERVING again is lost capacity for the next step of a rolling restart.
_RECONNECT = 3.0


def run(context: Context) -> Outcome:
    """Restart both replicas one after the other under load, and count what the site saw."""
    outcome = Outcome("rolling_restart", TITLE)
    rounds = 1 if context.short else 3
    settle = context.seconds(3, 2)
    replicas = [
        Replica(
            context.supervisor, f"restart-{name}", context.catalog, drain_seconds=_DRAIN_SECONDS
        )
        for name in ("a", "b")
    ]
    for replica in replicas:
        replica.start()
    target = "ipv4:" + ",".join(replica.address for replica in replicas)
    site = Website(context.supervisor, "restart-site", context.workdir, target)
    site.start()
    for _ in range(5):
        site.get("/")
    calls_before = site.calls()
    statuses: list[int] = []
    reconnects: list[float] = []
    with SlicedLoad(site.url, origin=outcome.start_clock()) as load:
        time.sleep(settle)
        for _ in range(rounds):
            for replica in replicas:
                name = replica.name.removeprefix("restart-").upper()
                outcome.event(f"SIGTERM {name}")
                statuses.append(replica.terminate())
                outcome.event(f"{name} exited ({statuses[-1]})")
                replica.start()
                serving_at = outcome.event(f"{name} SERVING")
                # A client reconnects to a restarted replica after its backoff: how long until
                # the site's calls reach it again.
                used = wait_until(partial(_takes_calls, replica), timeout=10)
                reconnects.append(outcome.now() - serving_at if used else float("inf"))
                outcome.event(f"{name} takes calls" if used else f"{name} unused")
                time.sleep(settle)
    calls = difference(site.calls(), calls_before)
    served = [replica.handled().get("OK", 0.0) for replica in replicas]
    statuses += [replica.terminate() for replica in replicas]
    site.stop()

    outcome.figure("restarts", f"{2 * rounds} (drain {_DRAIN_SECONDS:.0f} s each)")
    outcome.figure("homepage requests (wrk, 8 connections)", f"{total(load.slices)[0]:,}")
    outcome.figure("worst one-second p99", f"{max(s.p99_ms for s in load.slices):.0f} ms")
    outcome.figure("site's recommendation calls by code", calls)
    outcome.figure(
        "from SERVING to the site's first call, per restart",
        ", ".join(f"{r:.2f} s" for r in reconnects),
    )
    outcome.figure(
        "calls served since the last restart, A / B", f"{served[0]:.0f} / {served[1]:.0f}"
    )
    outcome.full_pages(load, calls)
    outcome.promise(all(s == 0 for s in statuses), "every replica exited 0 on SIGTERM", statuses)
    outcome.promise(
        max(reconnects) <= _RECONNECT and min(served) > 0,
        f"the site uses every restarted replica again within {_RECONNECT:.0f} s",
        f"{max(reconnects):.2f} s",
    )
    outcome.plot_load(load)
    return outcome


def _takes_calls(replica: Replica) -> bool:
    return replica.handled().get("OK", 0) > 0
