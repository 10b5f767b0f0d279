"""Variant: prometheus-client's own Counter, Histogram and Gauge instead of the hand-written
collector, with the same names and labels, updated on every call."""

from __future__ import annotations

from time import perf_counter
from typing import TYPE_CHECKING
from unittest import mock

import grpc
from prometheus_client import Counter, Gauge, Histogram
from recommendations import server
from recommendations.interceptors import UnaryInterceptor
from recommendations.interceptors.base import split_method, status_code
from recommendations.interceptors.metrics import LATENCY_BUCKETS

from benchmarks.ablation.check import NotInUseError

if TYPE_CHECKING:
    from contextlib import ExitStack

    from prometheus_client import CollectorRegistry
    from recommendations.interceptors import UnaryBehavior
    from recommendations.server import RunningServer

    from benchmarks.ablation.check import Check

_LABELS = ("grpc_service", "grpc_method", "grpc_type")
_UNARY = "unary"


class LibraryMetrics:
    """The four metric families of `ServerMetrics`, as prometheus-client metrics in `registry`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.started = Counter(
            "grpc_server_started", "RPCs started on the server.", _LABELS, registry=registry
        )
        self.handled = Counter(
            "grpc_server_handled",
            "RPCs completed on the server, by status code.",
            (*_LABELS, "grpc_code"),
            registry=registry,
        )
        self.seconds = Histogram(
            "grpc_server_handling_seconds",
            "Time the server took to handle an RPC.",
            _LABELS,
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )
        self.in_flight = Gauge(
            "grpc_server_in_flight", "RPCs being handled right now.", _LABELS, registry=registry
        )


class LibraryMetricsInterceptor(UnaryInterceptor):
    """Counts and times every unary call as `MetricsInterceptor` does, in `LibraryMetrics`.

    The label values known when a method is registered are bound then (as anyone would write
    it); the status code is known only when a call ends, so `handled` looks its child up then.
    Five metric updates per call, each under the metric's own lock.
    """

    def __init__(self, metrics: LibraryMetrics) -> None:
        self._metrics = metrics

    def wrap(self, method: str, behavior: UnaryBehavior) -> UnaryBehavior:
        """Return `behavior` counted and timed."""
        labels = (*split_method(method), _UNARY)
        metrics = self._metrics
        started = metrics.started.labels(*labels)
        in_flight = metrics.in_flight.labels(*labels)
        seconds = metrics.seconds.labels(*labels)
        handled = metrics.handled

        def finish(code: grpc.StatusCode | None, elapsed: float) -> None:
            in_flight.dec()
            handled.labels(*labels, "OK" if code is None else code.name).inc()
            seconds.observe(elapsed)

        def instrumented(request: object, context: grpc.ServicerContext) -> object:
            started.inc()
            in_flight.inc()
            start = perf_counter()
            try:
                response = behavior(request, context)
            except BaseException:
                finish(status_code(context) or grpc.StatusCode.UNKNOWN, perf_counter() - start)
                raise
            finish(status_code(context), perf_counter() - start)
            return response

        return instrumented


def install(stack: ExitStack) -> Check:
    """Make `server.start` count calls with `LibraryMetrics` instead of `ServerMetrics`."""
    made: list[LibraryMetrics] = []

    def library_metrics(registry: CollectorRegistry) -> LibraryMetrics:
        made.append(LibraryMetrics(registry))
        return made[-1]

    stack.enter_context(mock.patch.object(server, "ServerMetrics", library_metrics))
    stack.enter_context(mock.patch.object(server, "MetricsInterceptor", LibraryMetricsInterceptor))

    def check(running: RunningServer) -> None:
        if [m.registry for m in made] != [running.registry]:
            raise NotInUseError(f"{len(made)} LibraryMetrics made, none for the server's registry")

    return check
