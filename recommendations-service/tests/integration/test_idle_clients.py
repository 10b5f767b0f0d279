"""Clients that start calls and never send their requests cannot stop anyone else's calls.

grpcio's sync server gives a call a worker thread as soon as its headers arrive; the thread then
waits for the request. One connection may have only RECOMMENDATIONS_MAX_CALLS_PER_CONNECTION
calls open, fewer than the workers, so one client holding many idle calls (or idle reflection
streams) holds only its share. tests/hostile attacks the same limit from a raw HTTP/2 client that
ignores it. A client that keeps to it but starts a burst beyond its share may have a few calls
refused, never run, which a retry policy recovers.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import TYPE_CHECKING

import grpc
import pytest
from bookshop.recommendations.v2.recommendations_pb2 import BOOK_CATEGORY_MYSTERY, RecommendRequest
from bookshop.recommendations.v2.recommendations_pb2_grpc import RecommendationsServiceStub
from grpc_health.v1 import health_pb2, health_pb2_grpc

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from recommendations.server import RunningServer

WEBSITE_DEADLINE = 0.3  # RECOMMENDATIONS_TIMEOUT_SECONDS' default
IDLE_CALLS = 64
IDLE_DEADLINE = 2.0
# Channels to one target in one process share a connection unless told otherwise; each attacker's
# channel here is a connection of its own, as another process's would be.
OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]
METHODS = {
    "recommend": ("/bookshop.recommendations.v2.RecommendationsService/Recommend", False),
    "health-check": ("/grpc.health.v1.Health/Check", False),
    "reflection": ("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", True),
}


def _silent(release: threading.Event) -> Iterator[bytes]:
    """A request stream that sends nothing until released (headers go out, no message)."""
    release.wait()
    yield from ()


def _hold_idle_calls(
    channel: grpc.Channel,
    method: str,
    streaming: bool,
    release: threading.Event,
    calls: int = IDLE_CALLS,
) -> list[grpc.Future]:
    # Connected first: the calls then reach the server before another client's first call.
    grpc.channel_ready_future(channel).result(timeout=10)
    if streaming:
        call = channel.stream_stream(method)
        return [call(_silent(release), timeout=IDLE_DEADLINE) for _ in range(calls)]
    unary = channel.stream_unary(method)
    return [unary.future(_silent(release), timeout=IDLE_DEADLINE) for _ in range(calls)]


def _code(function: Callable[..., object], *args: object, **kwargs: object) -> str:
    """The status code `function(*args, **kwargs)` ends with."""
    try:
        function(*args, **kwargs)
    except grpc.RpcError as error:
        return error.code().name
    return "OK"


def _codes(calls: list[grpc.Future], streaming: bool) -> Counter[str]:
    """How the held calls ended, by status code."""
    if streaming:
        return Counter(_code(list, call) for call in calls)
    return Counter(_code(call.result, timeout=10) for call in calls)


def _others_calls(port: int) -> Counter[str]:
    """Twenty calls from another client with the website's deadline, by outcome."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        recommend = RecommendationsServiceStub(channel).Recommend
        requests = [
            RecommendRequest(reader_id=f"reader-{n}", category=BOOK_CATEGORY_MYSTERY)
            for n in range(20)
        ]
        return Counter(_code(recommend, r, timeout=WEBSITE_DEADLINE) for r in requests)


@pytest.mark.parametrize("kind", list(METHODS))
def test_idle_calls_on_one_connection_cannot_stop_other_clients(
    start_server: Callable[..., RunningServer], kind: str
) -> None:
    running = start_server()
    method, streaming = METHODS[kind]
    release = threading.Event()
    with grpc.insecure_channel(f"127.0.0.1:{running.port}", OWN_CONNECTION) as attacker:
        try:
            held = _hold_idle_calls(attacker, method, streaming, release)
            assert _others_calls(running.port) == {"OK": 20}
            # The idle calls end by their own deadline, or refused beyond the connection's share.
            codes = _codes(held, streaming)
            assert set(codes) <= {"DEADLINE_EXCEEDED", "UNAVAILABLE"}, codes
            assert sum(codes.values()) == IDLE_CALLS
        finally:
            release.set()


def test_without_the_share_idle_calls_on_one_connection_stop_everyone(
    start_server: Callable[..., RunningServer],
) -> None:
    # The guard above, switched off: one connection may hold as many calls as there are workers.
    running = start_server(workers=4, max_calls_per_connection=4)
    method, streaming = METHODS["recommend"]
    release = threading.Event()
    with grpc.insecure_channel(f"127.0.0.1:{running.port}", OWN_CONNECTION) as attacker:
        try:
            held = _hold_idle_calls(attacker, method, streaming, release, calls=4)
            assert "OK" not in _others_calls(running.port)
            _codes(held, streaming)
        finally:
            release.set()


def test_calls_beyond_the_limit_are_refused_at_once(
    start_server: Callable[..., RunningServer],
) -> None:
    running = start_server(max_concurrent_calls=8, max_calls_per_connection=4)
    method, streaming = METHODS["recommend"]
    release = threading.Event()
    channels = [
        grpc.insecure_channel(f"127.0.0.1:{running.port}", OWN_CONNECTION) for _ in range(4)
    ]
    try:
        held = [
            call
            for channel in channels
            for call in _hold_idle_calls(channel, method, streaming, release, calls=4)
        ]
        codes = _codes(held, streaming)
    finally:
        release.set()
        for channel in channels:
            channel.close()
    assert codes == {"RESOURCE_EXHAUSTED": 8, "DEADLINE_EXCEEDED": 8}
    assert _others_calls(running.port) == {"OK": 20}


BURST = 64
"""Calls a client starts at once on one connection: far more than its share (8)."""
V2_SERVICE = "bookshop.recommendations.v2.RecommendationsService"
_RETRY_UNAVAILABLE = json.dumps(
    {
        "methodConfig": [
            {
                "name": [{"service": V2_SERVICE}],
                "retryPolicy": {
                    "maxAttempts": 5,
                    "initialBackoff": "0.02s",
                    "maxBackoff": "0.1s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ]
    }
)


def _burst(port: int, options: list[tuple[str, str | int]]) -> Counter[str]:
    """`BURST` calls started at once on one connection (connected first), by outcome."""
    with grpc.insecure_channel(f"127.0.0.1:{port}", [*OWN_CONNECTION, *options]) as channel:
        recommend = RecommendationsServiceStub(channel).Recommend
        request = RecommendRequest(reader_id="reader", category=BOOK_CATEGORY_MYSTERY)
        recommend(request, timeout=10)
        calls = [recommend.future(request, timeout=10) for _ in range(BURST)]
        return Counter(_code(call.result) for call in calls)


def _handled_ok(running: RunningServer) -> float:
    sample = {
        "grpc_service": V2_SERVICE,
        "grpc_method": "Recommend",
        "grpc_type": "unary",
        "grpc_code": "OK",
    }
    return running.registry.get_sample_value("grpc_server_handled_total", sample) or 0.0


def test_a_burst_beyond_the_share_may_be_refused_in_part_and_the_refused_never_ran(
    start_server: Callable[..., RunningServer],
) -> None:
    # gRPC core counts a finished call until the server has let go of it, while the client
    # starts its next call as soon as it sees the last one end: some of a burst's calls
    # beyond the share are refused (REFUSED_STREAM, which gRPC maps to UNAVAILABLE).
    running = start_server()
    outcomes: Counter[str] = Counter()
    for _ in range(10):
        outcomes += _burst(running.port, [])
        if outcomes["UNAVAILABLE"]:
            break
    assert set(outcomes) == {"OK", "UNAVAILABLE"}, outcomes
    # Each burst's first call, and only the calls that reached their client OK, ever ran.
    bursts = sum(outcomes.values()) // BURST
    assert _handled_ok(running) == bursts + outcomes["OK"]


def test_a_burst_beyond_the_share_is_whole_with_a_retry_policy(
    start_server: Callable[..., RunningServer],
) -> None:
    # What the threat model tells clients: UNAVAILABLE is safe to retry, and gRPC's own
    # retry policy (the website's channel has one) makes such a burst whole, each call run once.
    running = start_server()
    retrying = [("grpc.service_config", _RETRY_UNAVAILABLE), ("grpc.enable_retries", 1)]
    for _ in range(3):
        assert _burst(running.port, retrying) == {"OK": BURST}
    assert _handled_ok(running) == 3 * (BURST + 1)


def test_open_health_watches_hold_no_worker(start_server: Callable[..., RunningServer]) -> None:
    # Three workers, two calls per connection: 16 watches on 16 connections would hold them all.
    # (With one call per connection, gRPC core counts a finished call until the server has let
    # go of it, and may refuse the next one of a client calling one call after another.)
    running = start_server(workers=3, max_calls_per_connection=2)
    channels = [
        grpc.insecure_channel(f"127.0.0.1:{running.port}", OWN_CONNECTION) for _ in range(16)
    ]
    try:
        watches = [
            health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(), timeout=30)
            for channel in channels
        ]
        assert {next(w).status for w in watches} == {health_pb2.HealthCheckResponse.SERVING}
        assert _others_calls(running.port) == {"OK": 20}
    finally:
        for channel in channels:
            channel.close()
