"""Prometheus metrics for every unary call: started, handled by code, latency, in flight.

The names and labels are those of grpc-ecosystem's Prometheus exporters (`grpc_service`,
`grpc_method`, `grpc_type`, and `grpc_code` on handled calls), so their dashboards and alerts work
unchanged; `grpc_service` is the service's full name, which tells the API versions apart.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from time import perf_counter
from typing import TYPE_CHECKING

import grpc
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector

from recommendations.interceptors.base import UnaryInterceptor, split_method, status_code

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics_core import Metric

    from recommendations.interceptors.base import UnaryBehavior

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
"""Upper bounds (seconds) of the latency histogram: most calls take well under a millisecond."""


_LABELS = ["grpc_service", "grpc_method", "grpc_type"]
_UNARY = "unary"


class _MethodStats:
    """The counts of one method, changed and read only under `lock`."""

    __slots__ = ("buckets", "handled", "lock", "started", "sum")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started = 0
        self.handled: dict[str, int] = {}
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)  # the last one is +Inf
        self.sum = 0.0


class ServerMetrics(Collector):
    """The server's gRPC metrics, as a prometheus-client collector registered in `registry`.

    prometheus-client's Counter, Gauge and Histogram each take a lock and run a few checks per
    update, six updates a call. This collector keeps plain numbers per method and takes one lock
    when a call starts and one when it ends; prometheus-client still does the exposition, from
    `collect`. What the difference is worth is in benchmarks/README.md.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self._methods: dict[tuple[str, str], _MethodStats] = {}
        self._lock = threading.Lock()
        registry.register(self)

    def method(self, service: str, name: str) -> _MethodStats:
        """Return the counts of rpc `name` of `service`, creating them on first use."""
        with self._lock:
            return self._methods.setdefault((service, name), _MethodStats())

    def collect(self) -> Iterator[Metric]:
        """Yield the four metric families with one sample set per method."""
        started = CounterMetricFamily(
            "grpc_server_started", "RPCs started on the server.", labels=_LABELS
        )
        handled = CounterMetricFamily(
            "grpc_server_handled",
            "RPCs completed on the server, by status code.",
            labels=[*_LABELS, "grpc_code"],
        )
        seconds = HistogramMetricFamily(
            "grpc_server_handling_seconds",
            "Time the server took to handle an RPC.",
            labels=_LABELS,
        )
        in_flight = GaugeMetricFamily(
            "grpc_server_in_flight", "RPCs being handled right now.", labels=_LABELS
        )
        with self._lock:
            methods = list(self._methods.items())
        for (service, name), stats in methods:
            with stats.lock:
                calls, by_code, in_buckets = stats.started, dict(stats.handled), list(stats.buckets)
                total = stats.sum
            labels = [service, name, _UNARY]
            started.add_metric(labels, calls)
            # Every call started is handled or in flight: the one count no call has to keep.
            in_flight.add_metric(labels, calls - sum(by_code.values()))
            for code, count in sorted(by_code.items()):
                handled.add_metric([*labels, code], count)
            cumulative, buckets = 0, []
            for bound, count in zip((*LATENCY_BUCKETS, float("inf")), in_buckets, strict=True):
                cumulative += count
                buckets.append((_bound_text(bound), cumulative))
            seconds.add_metric(labels, buckets, total)
        yield from (started, handled, seconds, in_flight)


class MetricsInterceptor(UnaryInterceptor):
    """Counts and times every unary call under its service's full name and its rpc's name."""

    def __init__(self, metrics: ServerMetrics) -> None:
        self._metrics = metrics

    def wrap(self, method: str, behavior: UnaryBehavior) -> UnaryBehavior:
        """Return `behavior` counted and timed."""
        stats = self._metrics.method(*split_method(method))
        lock, handled, buckets = stats.lock, stats.handled, stats.buckets

        def finish(code: grpc.StatusCode | None, elapsed: float) -> None:
            code_name = "OK" if code is None else code.name
            with lock:
                handled[code_name] = handled.get(code_name, 0) + 1
                buckets[bisect_left(LATENCY_BUCKETS, elapsed)] += 1
                stats.sum += elapsed

        def instrumented(request: object, context: grpc.ServicerContext) -> object:
            with lock:
                stats.started += 1
            start = perf_counter()
            try:
                response = behavior(request, context)
            except BaseException:
                # An exception that carries no status reaches the client as UNKNOWN.
                finish(status_code(context) or grpc.StatusCode.UNKNOWN, perf_counter() - start)
                raise
            finish(status_code(context), perf_counter() - start)
            return response

        return instrumented


def _bound_text(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)
