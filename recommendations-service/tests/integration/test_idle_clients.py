"""Clients that start calls and never send their requests cannot stop anyone else's calls.

grpcio's sync server gives a call a worker thread as soon as its headers arrive; an attacker
holding many calls open without sending a message (or idle reflection streams) would take every
worker without the watchdog. Here 64 such calls are held while other clients call with the
website's deadline.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import grpc
import pytest
from bookshop.recommendations.v2.recommendations_pb2 import BOOK_CATEGORY_MYSTERY, RecommendRequest
from bookshop.recommendations.v2.recommendations_pb2_grpc import RecommendationsServiceStub
from grpc_health.v1 import health_pb2, health_pb2_grpc
from recommendations import executor

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from recommendations.server import RunningServer

WEBSITE_DEADLINE = 0.3  # RECOMMENDATIONS_TIMEOUT_SECONDS' default
IDLE_CALLS = 64
RECEIVE_TIMEOUT = 1.0
METHODS = {
    "recommend": ("/bookshop.recommendations.v2.RecommendationsService/Recommend", False),
    "health-check": ("/grpc.health.v1.Health/Check", False),
    "health-watch": ("/grpc.health.v1.Health/Watch", True),
    "reflection": ("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", True),
}


def _silent(release: threading.Event) -> Iterator[bytes]:
    """A request stream that sends nothing until released (headers go out, no message)."""
    release.wait()
    yield from ()


def _hold_idle_calls(
    channel: grpc.Channel, method: str, streaming: bool, release: threading.Event
) -> list[grpc.Future]:
    if streaming:
        call = channel.stream_stream(method)
        return [call(_silent(release), timeout=30) for _ in range(IDLE_CALLS)]
    unary = channel.stream_unary(method)
    return [unary.future(_silent(release), timeout=30) for _ in range(IDLE_CALLS)]


def _codes(calls: list[grpc.Future], streaming: bool) -> dict[str, int]:
    """How the held calls ended, by status code."""
    codes: dict[str, int] = {}
    for call in calls:
        try:
            list(call) if streaming else call.result(timeout=10)  # type: ignore[call-overload]
            code = "OK"
        except grpc.RpcError as error:
            code = error.code().name
        codes[code] = codes.get(code, 0) + 1
    return codes


def _others_calls(port: int) -> dict[str, int]:
    """Twenty calls from another client with the website's deadline, by outcome."""
    codes: dict[str, int] = {}
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = RecommendationsServiceStub(channel)
        for n in range(20):
            request = RecommendRequest(reader_id=f"reader-{n}", category=BOOK_CATEGORY_MYSTERY)
            try:
                stub.Recommend(request, timeout=WEBSITE_DEADLINE)
                code = "OK"
            except grpc.RpcError as error:
                code = error.code().name
            codes[code] = codes.get(code, 0) + 1
    return codes


@pytest.mark.parametrize("kind", list(METHODS))
def test_idle_calls_cannot_stop_other_clients_and_are_cancelled_by_the_server(
    start_server: Callable[..., RunningServer], kind: str
) -> None:
    running = start_server(receive_timeout_seconds=RECEIVE_TIMEOUT)
    method, streaming = METHODS[kind]
    release = threading.Event()
    with grpc.insecure_channel(f"127.0.0.1:{running.port}") as attacker:
        try:
            held = _hold_idle_calls(attacker, method, streaming, release)
            time.sleep(0.2)  # the idle calls are in, holding whatever they hold

            assert _others_calls(running.port) == {"OK": 20}

            started = time.monotonic()
            assert _codes(held, streaming) == {"CANCELLED": IDLE_CALLS}
        finally:
            release.set()
    assert time.monotonic() - started < RECEIVE_TIMEOUT + 2
    service, name = method.removeprefix("/").rsplit("/", 1)
    timeouts = running.registry.get_sample_value(
        "grpc_server_receive_timeouts_total", {"grpc_service": service, "grpc_method": name}
    )
    assert timeouts == IDLE_CALLS


def test_calls_beyond_the_limit_are_refused_at_once(
    start_server: Callable[..., RunningServer],
) -> None:
    running = start_server(max_concurrent_calls=8, receive_timeout_seconds=RECEIVE_TIMEOUT)
    method, streaming = METHODS["recommend"]
    release = threading.Event()
    with grpc.insecure_channel(f"127.0.0.1:{running.port}") as attacker:
        try:
            held = _hold_idle_calls(attacker, method, streaming, release)
            codes = _codes(held, streaming)
        finally:
            release.set()
    assert codes == {"RESOURCE_EXHAUSTED": IDLE_CALLS - 8, "CANCELLED": 8}
    assert _others_calls(running.port) == {"OK": 20}


def test_open_health_watches_hold_no_worker(
    start_server: Callable[..., RunningServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Spares started for the burst of 64 new calls end soon; no watch may keep a thread busy.
    monkeypatch.setattr(executor, "SPARE_IDLE_SECONDS", 0.2)
    running = start_server()
    with grpc.insecure_channel(f"127.0.0.1:{running.port}") as watcher:
        watch = health_pb2_grpc.HealthStub(watcher).Watch
        watches = [watch(health_pb2.HealthCheckRequest(), timeout=30) for _ in range(IDLE_CALLS)]
        assert {next(w).status for w in watches} == {health_pb2.HealthCheckResponse.SERVING}

        assert _others_calls(running.port) == {"OK": 20}
        deadline = time.monotonic() + 5
        while running.pool.threads > running.settings.workers and time.monotonic() < deadline:
            time.sleep(0.05)
        assert running.pool.threads == running.settings.workers
        for w in watches:
            w.cancel()
