"""Prometheus metrics for every call: started, handled by code, and handling time.

The names and labels are those of grpc-ecosystem's Prometheus exporters (`grpc_service`,
`grpc_method`, `grpc_type`, and `grpc_code` on handled calls), so their dashboards and alerts work
unchanged; `grpc_service` is the service's full name, which tells the API versions apart. Calls in
flight are `grpc_server_started_total - sum without (grpc_code) (grpc_server_handled_total)`.
"""

from __future__ import annotations

from time import perf_counter
from typing import TYPE_CHECKING

import grpc
from prometheus_client import Counter, Histogram

from recommendations.interceptors.base import (
    MethodInterceptor,
    behavior_of,
    final_code,
    is_non_blocking,
    rpc_type,
    split_method,
    with_behavior,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prometheus_client import CollectorRegistry

    from recommendations.interceptors.base import Handler

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
"""Upper bounds (seconds) of the latency histogram: most calls take well under a millisecond."""

_LABELS = ("grpc_service", "grpc_method", "grpc_type")


class ServerMetrics:
    """The server's gRPC metrics, registered in `registry`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.started = Counter(
            "grpc_server_started", "RPCs started on the server.", _LABELS, registry=registry
        )
        self.handled = Counter(
            "grpc_server_handled",
            "RPCs completed on the server, by status code.",
            (*_LABELS, "grpc_code"),
            registry=registry,
        )
        self.handling_seconds = Histogram(
            "grpc_server_handling_seconds",
            "Time the server took to handle an RPC.",
            _LABELS,
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )


class _MethodMetrics:
    """One method's label children, bound once: a call's updates skip the label lookups."""

    def __init__(self, metrics: ServerMetrics, labels: tuple[str, str, str]) -> None:
        self._labels = labels
        self._handled = metrics.handled
        self.started = metrics.started.labels(*labels)
        self.handling_seconds = metrics.handling_seconds.labels(*labels)
        # OK's child exists from the method's first call on, so its series does too, and most
        # calls find it without a dict lookup (StatusCode's hash is Enum's, in Python).
        self._ok = metrics.handled.labels(*labels, grpc.StatusCode.OK.name)
        self.handled: dict[grpc.StatusCode, Counter] = {}

    def finish(self, code: grpc.StatusCode, start: float) -> None:
        """Count a call that ended with `code`, started at `start` (perf_counter)."""
        self.handling_seconds.observe(perf_counter() - start)
        if code is grpc.StatusCode.OK:
            self._ok.inc()
            return
        handled = self.handled.get(code)
        if handled is None:
            handled = self.handled[code] = self._handled.labels(*self._labels, code.name)
        handled.inc()


class MetricsInterceptor(MethodInterceptor):
    """Counts and times every call under its service's full name, rpc name and type.

    A streaming call is timed until its last response is sent. grpcio's non-blocking streams
    (the health Watch) outlive their handler, so they pass through uncounted.
    """

    def __init__(self, metrics: ServerMetrics) -> None:
        super().__init__()
        self._metrics = metrics

    def wrap(self, method: str, handler: Handler) -> Handler:
        """Return `handler` counted and timed."""
        if is_non_blocking(handler):
            return handler
        behavior = behavior_of(handler)
        calls = _MethodMetrics(self._metrics, (*split_method(method), rpc_type(handler)))
        started = calls.started

        def unary(request: object, context: grpc.ServicerContext) -> object:
            started.inc()
            start = perf_counter()
            try:
                response = behavior(request, context)
            except BaseException:
                calls.finish(final_code(context, failed=True), start)
                raise
            calls.finish(final_code(context, failed=False), start)
            return response

        def streamed(request: object, context: grpc.ServicerContext) -> Iterator[object]:
            started.inc()
            start = perf_counter()
            try:
                yield from behavior(request, context)
            except BaseException:
                calls.finish(final_code(context, failed=True), start)
                raise
            calls.finish(final_code(context, failed=False), start)

        return with_behavior(handler, streamed if handler.response_streaming else unary)
