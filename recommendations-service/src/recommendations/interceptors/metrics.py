"""Prometheus metrics for every unary call: started, handled by code, latency, in flight."""

from __future__ import annotations

from time import perf_counter
from typing import TYPE_CHECKING

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from recommendations.interceptors.base import UnaryInterceptor, short_method_name, status_code

if TYPE_CHECKING:
    from recommendations.interceptors.base import UnaryBehavior

# Most calls take well under a millisecond; the tail matters up to the clients' deadlines.
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class ServerMetrics:
    """The server's gRPC metrics, registered in `registry` (one registry per server)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.started = Counter(
            "grpc_server_started_total",
            "RPCs started on the server.",
            ["grpc_method"],
            registry=registry,
        )
        self.handled = Counter(
            "grpc_server_handled_total",
            "RPCs completed on the server, by status code.",
            ["grpc_method", "grpc_code"],
            registry=registry,
        )
        self.handling_seconds = Histogram(
            "grpc_server_handling_seconds",
            "Time the server took to handle an RPC.",
            ["grpc_method"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.in_flight = Gauge(
            "grpc_server_in_flight",
            "RPCs being handled right now.",
            ["grpc_method"],
            registry=registry,
        )


class MetricsInterceptor(UnaryInterceptor):
    """Counts and times every unary call.

    The labelled children are looked up once per method (and once per new status code), so a
    call costs four lock-protected additions and no label resolution.
    """

    def __init__(self, metrics: ServerMetrics) -> None:
        super().__init__()
        self._metrics = metrics

    def wrap(self, method: str, behavior: UnaryBehavior) -> UnaryBehavior:
        """Return `behavior` counted and timed under the rpc's short name."""
        name = short_method_name(method)
        started = self._metrics.started.labels(name)
        in_flight = self._metrics.in_flight.labels(name)
        latency = self._metrics.handling_seconds.labels(name)
        handled = self._metrics.handled
        by_code = {"OK": handled.labels(name, "OK")}

        def count(code: grpc.StatusCode | None) -> None:
            code_name = "OK" if code is None else code.name
            counter = by_code.get(code_name)
            if counter is None:
                counter = by_code[code_name] = handled.labels(name, code_name)
            counter.inc()

        def instrumented(request: object, context: grpc.ServicerContext) -> object:
            started.inc()
            in_flight.inc()
            start = perf_counter()
            try:
                response = behavior(request, context)
            except BaseException:
                # An exception that carries no status reaches the client as UNKNOWN.
                count(status_code(context) or grpc.StatusCode.UNKNOWN)
                raise
            else:
                count(status_code(context))
                return response
            finally:
                latency.observe(perf_counter() - start)
                in_flight.dec()

        return instrumented
