"""BENCH-ONLY server: the recommendations service whose server spans are the SDK's work alone.

`python benchmarks/sdk_spans_service.py` runs `recommendations-server` as deployed, tracing
through the same `OTEL_*` variables to the same SDK provider, sampler, batching and OTLP
exporter, but each call's server span is only started and ended by the SDK's tracer, with the
same name, kind and attributes: the caller's trace context is not read, the span is not made
current, and no status is recorded. So its CPU per call over the untraced service is what the
OpenTelemetry SDK itself costs, which the benchmark tells apart from the rest of tracing. Never
deployed.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from opentelemetry.trace import SpanKind
from recommendations.cli import main
from recommendations.interceptors import tracing
from recommendations.interceptors.base import behavior_of, split_method, with_behavior

if TYPE_CHECKING:
    import grpc
    from recommendations.interceptors.base import Handler


def sdk_spans(interceptor: tracing.TracingInterceptor, method: str, handler: Handler) -> Handler:
    """`handler` in a server span the SDK starts and ends, and nothing else of tracing."""
    service, name = split_method(method)
    # The interceptor's own tracer and untraced services, as the real `wrap` uses them.
    if handler.response_streaming or service in interceptor._untraced:
        return handler
    behavior = behavior_of(handler)
    tracer = interceptor._tracer
    span_name = method.removeprefix("/")
    attributes = {
        tracing.RPC_SYSTEM: "grpc",
        tracing.RPC_SERVICE: service,
        tracing.RPC_METHOD: name,
    }

    def traced(request: object, context: grpc.ServicerContext) -> object:
        span = tracer.start_span(span_name, kind=SpanKind.SERVER, attributes=attributes)
        try:
            return behavior(request, context)
        finally:
            span.end()

    return with_behavior(handler, traced)


tracing.TracingInterceptor.wrap = sdk_spans  # type: ignore[method-assign, assignment]

if __name__ == "__main__":
    sys.exit(main())
