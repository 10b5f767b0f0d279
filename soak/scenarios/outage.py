"""3. Dependency outage.

Both replicas stop while wrk loads the homepage: every page is still 200 and degraded, with p99
within the call deadline plus 50 ms. Then one replica starts again: full recommendations come
back within 5 s, without restarting the website, and stay.
"""

from __future__ import annotations

import time
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


def run(context: Context) -> Outcome:
    """Take the service away under load, then bring one replica back."""
    outcome = Outcome("outage", TITLE)
    settle = context.seconds(3, 2)
    replicas = [Replica(context.supervisor, f"outage-{name}", context.catalog) for name in "ab"]
    for replica in replicas:
        replica.start()
    target = "ipv4:" + ",".join(replica.address for replica in replicas)
    deadline = {"RECOMMENDATIONS_TIMEOUT_SECONDS": str(_DEADLINE)}
    site = Website(context.supervisor, "outage-site", context.workdir, target, extra_env=deadline)
    site.start()
    site.get("/")
    with SlicedLoad(site.url, origin=outcome.start_clock()) as load:
        time.sleep(settle)
        outcome.event("SIGTERM A and B")
        for replica in replicas:
            replica.terminate()
        down_at = outcome.event("both down")
        calls_down = site.calls()
        time.sleep(context.seconds(15, 5))
        outage_calls = difference(site.calls(), calls_down)
        restart_at = outcome.event("start A")
        replicas[0].start(wait=False)
        recovered = wait_until(lambda: site.get("/").books == _HOME_BOOKS, timeout=15)
        full_at = outcome.event("first full page" if recovered else "no full page")
        replicas[0].wait_serving()
        whole_at = outcome.event("last degraded page", at=_whole_again(outcome, site, restart_at))
        calls_back = site.calls()
        back_from = outcome.now()
        time.sleep(settle)
    after_calls = difference(site.calls(), calls_back)
    replicas[0].terminate()
    site.stop()

    requests, non2xx, socket_errors = total(load.slices)
    # One-second slices that ran entirely while both replicas were down.
    during = load.between(down_at, restart_at - 1)
    outage_requests = total(during)[0]
    after_requests = total(load.between(back_from, float("inf")))[0]
    worst_p99 = max((s.p99_ms for s in during), default=0.0)
    bound_ms = (_DEADLINE + _SLACK) * 1e3
    recovery, whole = full_at - restart_at, whole_at - restart_at
    outcome.figure("homepage requests (wrk, 8 connections)", f"{requests:,}")
    outcome.figure(
        "during the outage: requests, worst one-second p99",
        f"{outage_requests:,}, {worst_p99:.0f} ms",
    )
    outcome.figure("site's recommendation calls during the outage", outage_calls)
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
        recovered and whole <= _RECOVERY,
        "every page full again within 5 s of starting a replica",
        f"first full page after {recovery:.2f} s, last degraded after {whole:.2f} s",
    )
    outcome.promise(
        set(after_calls) == {"OK"} and after_calls["OK"] >= after_requests > 0,
        "every page after recovery has its recommendations",
        f"{after_calls} for {after_requests} pages",
    )
    outcome.plot_load(load)
    return outcome


def _whole_again(outcome: Outcome, site: Website, restart_at: float) -> float:
    """When the site's last degraded page was (seconds since the origin): each website worker
    has its own channel and reconnect backoff, so the site is whole again once its count of
    failed calls has stopped growing for a second (15 s after `restart_at` at the latest)."""
    failures, last = _failures(site), outcome.now()
    while outcome.now() - last < 1.0 and outcome.now() - restart_at < 15:
        time.sleep(0.1)
        if (current := _failures(site)) != failures:
            failures, last = current, outcome.now()
    return last


def _failures(site: Website) -> float:
    """The site's failed recommendation calls so far (degraded pages)."""
    return sum(count for code, count in site.calls().items() if code != "OK")
