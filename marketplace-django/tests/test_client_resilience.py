"""Round-robin over replicas and what a restart of one of them does to pages."""

from __future__ import annotations

import time

import grpc
from storefront import recommendations
from storefront.categories import Category

from tests.servers import ScriptedServicer, start


def page_loads(count):
    """How many of `count` calls, one per page load, came back degraded."""
    mystery = Category.MYSTERY
    return sum(
        not recommendations.recommend(reader_id=n, category=mystery, page_size=3).available
        for n in range(count)
    )


def test_calls_are_spread_over_every_replica_and_a_rolling_restart_degrades_no_page(settings):
    # Two replicas of the service behind one target, as a headless Service resolves to.
    servicers = [ScriptedServicer(), ScriptedServicer()]
    servers = [start(servicer) for servicer in servicers]
    ports = [port for _, port in servers]
    running = {index: server for index, (server, _) in enumerate(servers)}
    settings.RECOMMENDATIONS_TARGET = "ipv4:" + ",".join(f"127.0.0.1:{port}" for port in ports)
    # What is tested is where calls go and what a restart costs, not how fast they are: a busy
    # machine must not turn a slow call into a degraded page here.
    settings.RECOMMENDATIONS_TIMEOUT_SECONDS = 5.0
    recommendations.close()
    try:
        assert page_loads(40) == 0
        assert len(servicers[0].requests) >= 10
        assert len(servicers[1].requests) >= 10

        running.pop(0).stop(grace=0.5).wait()
        assert page_loads(30) == 0

        restarted = ScriptedServicer()
        running[0], _ = start(restarted, port=ports[0])
        deadline = time.monotonic() + 2.0  # the reconnect backoff is at most 1 s
        while not restarted.requests:
            assert time.monotonic() < deadline, "the restarted replica was not used again"
            assert page_loads(1) == 0
            time.sleep(0.02)

        running.pop(1).stop(grace=0.5).wait()
        assert page_loads(30) == 0
    finally:
        for server in running.values():
            server.stop(0)
        recommendations.close()


def test_unavailable_is_retried_until_the_service_keeps_failing(
    recommendations_server, calls_counted
):
    recommendations_server.error = (grpc.StatusCode.UNAVAILABLE, "overloaded")
    attempts = []

    for _ in range(10):
        before = len(recommendations_server.requests)
        assert page_loads(1) == 1
        attempts.append(len(recommendations_server.requests) - before)

    assert attempts[0] == 3  # the channel's retries
    assert attempts[-5:] == [1, 1, 1, 1, 1]
    assert calls_counted("UNAVAILABLE") == 10  # one call each, however many attempts
