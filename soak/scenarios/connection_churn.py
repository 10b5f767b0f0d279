"""6. Connection churn: the website under load while the service recycles every connection.

One replica closes each connection after 1 s (`RECOMMENDATIONS_MAX_CONNECTION_AGE_SECONDS`,
1 s of grace), so the website's channels reconnect all the time, and each reconnect ends the
health Watch of the old connection and opens a new one: the traffic that froze servers whose
health servicer sends while holding its lock (the service's integration tests reproduce that
freeze within seconds; here it is the website's own traffic, for as long as the sustained-load
scenario runs).
Promises: not one degraded page or non-200 answer, the site kept its pace to the end (the
last full second served at least a third of the median second), connections really were
recycled, and the replica still exits 0 on SIGTERM.
"""

from __future__ import annotations

import statistics
import subprocess
import threading
import time
from typing import TYPE_CHECKING

from harness.load import SlicedLoad, total
from harness.metrics import difference
from harness.service import Replica
from harness.website import Website
from soak.scenarios.base import Outcome

if TYPE_CHECKING:
    from soak.scenarios.base import Context

TITLE = "Connection churn"
_MAX_AGE_SECONDS = 1


def run(context: Context) -> Outcome:
    """Load the site for 60 s (20 s in --short) against a replica recycling connections."""
    outcome = Outcome("connection_churn", TITLE)
    seconds = context.seconds(60, 20)
    recycling = {
        "RECOMMENDATIONS_MAX_CONNECTION_AGE_SECONDS": str(_MAX_AGE_SECONDS),
        "RECOMMENDATIONS_MAX_CONNECTION_AGE_GRACE_SECONDS": "1",
    }
    replica = Replica(context.supervisor, "churn", context.catalog, extra_env=recycling)
    replica.start()
    site = Website(context.supervisor, "churn-site", context.workdir, f"ipv4:{replica.address}")
    site.start()
    site.get("/")
    calls_before = site.calls()
    peers: set[int] = set()
    stop = threading.Event()

    def watch_connections() -> None:
        while not stop.wait(0.25):
            peers.update(_client_ports(replica.port))

    watcher = threading.Thread(target=watch_connections, daemon=True)
    watcher.start()
    try:
        with SlicedLoad(site.url, origin=outcome.start_clock()) as load:
            time.sleep(seconds)
    finally:
        stop.set()
        watcher.join()
    calls = difference(site.calls(), calls_before)
    site.stop()
    status = replica.terminate(timeout=15)

    rates = [s.rate for s in load.slices]
    requests = total(load.slices)[0]
    outcome.figure("homepage requests (wrk, 8 connections)", f"{requests:,} in {seconds:.0f} s")
    outcome.figure("site's recommendation calls by code", calls)
    outcome.figure("connections from the site to the replica", len(peers))
    outcome.full_pages(load, calls)
    outcome.promise(
        len(rates) > 2 and rates[-2] >= statistics.median(rates) / 3,
        "the site kept its pace to the end (no hang)",
        f"last full second {rates[-2]:.0f} pages/s, median {statistics.median(rates):.0f}"
        if len(rates) > 2
        else f"{len(rates)} one-second slices",
    )
    # Two website workers, each with a connection that lives about 1 to 2 seconds.
    expected = seconds / (_MAX_AGE_SECONDS + 1)
    outcome.promise(
        len(peers) >= expected,
        f"connections were recycled (at least {expected:.0f} opened)",
        len(peers),
    )
    outcome.promise(status == 0, "the replica exited 0 on SIGTERM", status)
    return outcome


def _client_ports(port: int) -> set[int]:
    """The peer ports of the established TCP connections to loopback `port`."""
    command = ["ss", "-Htn", "state", "established", f"( sport = :{port} )"]
    listing = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return {int(line.split()[-1].rsplit(":", 1)[1]) for line in listing.splitlines() if line}
