"""Health checking: the standard semantics, and Watch churn that froze the stock servicer.

Clients with health-checked balancing open a Watch per connection and cancel it when the
connection closes. grpcio-health-checking's sync servicer deadlocks when that happens while
another Watch is being answered; `recommendations.health` is the fix.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import TYPE_CHECKING

import grpc
import pytest
from grpc_health.v1 import health_pb2
from grpc_health.v1.health_pb2_grpc import HealthStub

from harness import api

if TYPE_CHECKING:
    from collections.abc import Callable

    from recommendations.server import RunningServer

    from harness.service import Replica

SERVICE = "bookshop.recommendations.v1.RecommendationsService"
REQUEST = health_pb2.HealthCheckRequest(service=SERVICE)
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
CLIENTS, CYCLES = 4, 750  # 3,000 cycles; the stock servicer froze within about 20

# A bare grpc.server with the stock servicer, as grpcio-health-checking documents it.
STOCK_SERVER = """
import sys, threading
from concurrent import futures
import grpc
from grpc_health.v1 import health, health_pb2_grpc
server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
print(server.add_insecure_port("127.0.0.1:0"), flush=True)
server.start()
threading.Event().wait()
"""


def _watch_churn(target: str) -> list[str]:
    """Each client opens a Watch, reads one response and cancels it, CYCLES times; the failures
    (a client stops at its first one), empty when every cycle completed."""
    failures: list[str] = []

    def client() -> None:
        # A connection of its own, as each client of a real server has.
        with grpc.insecure_channel(target, [("grpc.use_local_subchannel_pool", 1)]) as channel:
            watch = HealthStub(channel).Watch
            for _ in range(CYCLES):
                call = watch(health_pb2.HealthCheckRequest(), timeout=2)
                try:
                    next(call)
                except grpc.RpcError as error:
                    failures.append(error.code().name)
                    return
                call.cancel()

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


def test_check_and_watch_follow_the_status_and_an_unknown_service_is_not_found(
    start_server: Callable[..., RunningServer],
) -> None:
    running = start_server()
    with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        stub = HealthStub(channel)
        unknown = health_pb2.HealthCheckRequest(service="no.such.Service")
        with pytest.raises(grpc.RpcError) as error:
            stub.Check(unknown, timeout=5)
        assert error.value.code() is grpc.StatusCode.NOT_FOUND
        watched = stub.Watch(unknown)
        assert next(watched).status == health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
        running.health.set("no.such.Service", SERVING)
        assert next(watched).status == SERVING
        watched.cancel()

        updates = stub.Watch(REQUEST, timeout=10)
        assert next(updates).status == SERVING
        running.health.set(SERVICE, NOT_SERVING)
        assert next(updates).status == NOT_SERVING
        assert stub.Check(REQUEST).status == NOT_SERVING
        running.health.set(SERVICE, SERVING)
        assert next(updates).status == SERVING
        running.health.enter_graceful_shutdown()
        assert next(updates).status == NOT_SERVING
        running.health.set(SERVICE, SERVING)  # ignored from now on
        assert stub.Check(REQUEST).status == NOT_SERVING
        updates.cancel()


def test_watch_churn_leaves_the_server_answering_and_stoppable(
    start_process: Callable[..., Replica],
) -> None:
    server = start_process()
    assert _watch_churn(server.address) == []
    with grpc.insecure_channel(server.address) as channel:
        stub = HealthStub(channel)
        assert stub.Check(REQUEST, timeout=2).status == SERVING
        updates = stub.Watch(REQUEST, timeout=2)
        assert next(updates).status == SERVING
        updates.cancel()
        assert len(api.recommend(channel, timeout=2)) == 3
    assert server.terminate(timeout=15) == 0
    messages = server.log_messages()
    assert messages[messages.index("serving") + 1 :] == ["signal received", "draining", "stopped"]


def test_the_stock_servicer_freezes_under_the_same_churn() -> None:
    """The reason for `recommendations.health`: if this fails, upstream has fixed the deadlock
    and the stock servicer can be used again."""
    stock = subprocess.Popen(
        [sys.executable, "-c", STOCK_SERVER], stdout=subprocess.PIPE, text=True
    )
    try:
        assert stock.stdout is not None
        target = f"127.0.0.1:{stock.stdout.readline().strip()}"

        failures = _watch_churn(target)

        assert failures, "the stock servicer survived the churn: upstream fixed it"
        assert set(failures) == {"DEADLINE_EXCEEDED"}
        with grpc.insecure_channel(target) as channel:
            with pytest.raises(grpc.RpcError) as error:
                HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
            assert error.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    finally:
        stock.kill()  # frozen: SIGTERM would not stop it
        stock.wait()
