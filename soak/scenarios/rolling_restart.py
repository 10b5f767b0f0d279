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
    supervisor = context.supervisor
    replicas = [
        Replica(supervisor, f"restart-{name}", context.catalog, drain_seconds=_DRAIN_SECONDS)
        for name in ("a", "b")
    ]
    for replica in replicas:
        replica.start()
    target = "ipv4:" + ",".join(replica.address for replica in replicas)
    site = Website(supervisor, "restart-site", context.workdir, target)
    site.start()
    for _ in range(5):
        site.get("/")
    calls_before = site.calls()
    statuses: list[int] = []
    reconnects: list[float] = []
    origin = time.monotonic()

    def now() -> float:
        return time.monotonic() - origin

    with SlicedLoad(site.url, origin=origin) as load:
        time.sleep(settle)
        for _ in range(rounds):
            for replica in replicas:
                name = replica.name.removeprefix("restart-").upper()
                outcome.event(now(), f"SIGTERM {name}")
                statuses.append(replica.terminate())
                outcome.event(now(), f"{name} exited ({statuses[-1]})")
                replica.start()
                serving_at = now()
                outcome.event(serving_at, f"{name} SERVING")
                # A client reconnects to a restarted replica after its backoff: how long until
                # the site's calls reach it again.
                used = wait_until(partial(_takes_calls, replica), timeout=10)
                reconnects.append(now() - serving_at if used else float("inf"))
                outcome.event(now(), f"{name} takes calls" if used else f"{name} unused")
                time.sleep(settle)
    calls = difference(site.calls(), calls_before)
    served = [replica.handled().get("OK", 0.0) for replica in replicas]
    for replica in replicas:
        statuses.append(replica.terminate())
    site.stop()

    requests, non2xx, socket_errors = total(load.slices)
    degraded = sum(count for code, count in calls.items() if code != "OK")
    outcome.figure("restarts", f"{2 * rounds} (drain {_DRAIN_SECONDS:.0f} s each)")
    outcome.figure("homepage requests (wrk, 8 connections)", f"{requests:,}")
    outcome.figure("worst one-second p99", f"{max(s.p99_ms for s in load.slices):.0f} ms")
    outcome.figure("site's recommendation calls by code", calls)
    outcome.figure(
        "from SERVING to the site's first call, per restart",
        ", ".join(f"{r:.2f} s" for r in reconnects),
    )
    outcome.figure(
        "calls served since the last restart, A / B", f"{served[0]:.0f} / {served[1]:.0f}"
    )
    outcome.promise(
        non2xx == 0 and socket_errors == 0,
        "not a single non-200 response",
        f"{non2xx} non-2xx, {socket_errors} socket errors",
    )
    outcome.promise(degraded == 0, "not a single degraded page", f"{degraded} degraded")
    outcome.promise(
        calls.get("OK", 0) >= requests > 0,
        "every page had its recommendations",
        f"{calls.get('OK', 0)} OK calls for {requests} pages",
    )
    outcome.promise(all(s == 0 for s in statuses), "every replica exited 0 on SIGTERM", statuses)
    outcome.promise(
        max(reconnects) <= _RECONNECT and min(served) > 0,
        f"the site uses every restarted replica again within {_RECONNECT:.0f} s",
        f"{max(reconnects):.2f} s",
    )
    outcome.series["p99 ms"] = [(s.started + 0.5, s.p99_ms) for s in load.slices]
    outcome.series["requests/s"] = [(s.started + 0.5, s.rate) for s in load.slices]
    return outcome


def _takes_calls(replica: Replica) -> bool:
    return replica.handled().get("OK", 0) > 0
