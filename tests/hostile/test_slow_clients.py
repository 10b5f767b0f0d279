"""Connection floods against what the website image serves: `marketplace-server` with the
image's configuration (production settings, two workers), in front of a real recommendations
server. Idle connections send nothing; slowloris ones send their headers a byte a second and
never finish (FLOODS; granian's default limit of 512 connections per worker let no page through
the idle flood).

Each flood opens again at once every connection the server drops, so it keeps its size
throughout. A reader loads the homepage on a fresh connection every 0.1 s. Both floods outlast
the header-read timeout twice, so the server must have dropped each connection at least once:
a timeout that does not fire (or fires too late) fails the test even when pages still load.
"""

from __future__ import annotations

import pytest
from marketplace.server import HEADER_READ_TIMEOUT_MS

from harness.processes import Supervisor
from harness.service import Replica, build_catalog
from harness.website import Website
from tests.hostile.floods import Flood, raise_file_limit, read_pages

PAGE_DEADLINE_SECONDS = 1.0
READ_EVERY_SECONDS = 0.1
# The server drops a flood's connections in waves, one header-read timeout apart, and the flood
# reopens each wave at once. A flood that ended on a multiple of the timeout would count its
# connections in the middle of a wave's reopening; halfway between two waves it holds them all.
FLOOD_SECONDS = 2.5 * HEADER_READ_TIMEOUT_MS / 1000
# (connections, slowloris, share of page loads that must complete in time)
FLOODS = {
    "idle": (5000, False, 0.95),
    "slowloris": (2000, True, 0.99),
}


@pytest.fixture(scope="module")
def website(tmp_path_factory):
    """The site as the image runs it, calling a live recommendations server."""
    raise_file_limit(max(size for size, *_ in FLOODS.values()) + 1000)
    workdir = tmp_path_factory.mktemp("floods")
    with Supervisor(workdir / "logs") as supervisor:
        catalog = workdir / "catalog.sqlite3"
        build_catalog(catalog)
        service = Replica(supervisor, "recommendations", catalog)
        service.start()
        site = Website(supervisor, "website", workdir, f"ipv4:{service.address}")
        site.start()
        yield site


@pytest.mark.parametrize("kind", FLOODS)
def test_pages_load_during_a_connection_flood(website, kind):
    size, slowloris, share = FLOODS[kind]
    seconds = FLOOD_SECONDS

    with Flood(website.port, size, slowloris=slowloris) as flood:
        loads = read_pages(
            website.port, seconds=seconds, every=READ_EVERY_SECONDS, deadline=PAGE_DEADLINE_SECONDS
        )

    full = [
        load
        for load in loads
        if load.status == 200 and load.books == 3 and load.seconds <= PAGE_DEADLINE_SECONDS
    ]
    slowest = sorted(round(load.seconds, 3) for load in loads)[-5:]
    report = (
        f"{kind} flood of {size} connections for {seconds:.0f} s: {len(full)} of {len(loads)} "
        f"page loads within {PAGE_DEADLINE_SECONDS} s (slowest {slowest}); "
        f"{flood.held} connections held at the end, {flood.dropped} dropped by the server"
    )
    print(report)
    assert flood.held >= 0.95 * size, f"the flood did not hold its connections: {report}"
    assert len(full) >= share * len(loads), report
    assert flood.dropped >= size, f"the header-read timeout did not drop them: {report}"
