"""OpenTelemetry server spans: one SERVER span per call, a child of the caller's span.

Spans come from the SDK's `Tracer`, so the configured sampler decides and the configured span
processor exports; while a call runs its span is the current span, so a span a handler starts
(`trace.get_tracer(__name__).start_as_current_span(...)`) is its child, and log lines carry its
ids. Why an interceptor of ours rather than opentelemetry-instrumentation-grpc's: that one records
a status only when the handler aborts through its own context wrapper, so a call ended with
`abort_with_status` (every INVALID_ARGUMENT this service returns, with its details) is exported
with `rpc.grpc.status_code` 0; it calls grpcio's non-blocking streams (the health Watch) without
their send callback; and it builds a handler and a context wrapper for every call, which cost
a loaded server 10 to 15% more CPU per call than this interceptor (docs/performance.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from recommendations.interceptors.base import (
    MethodInterceptor,
    behavior_of,
    final_code,
    split_method,
    with_behavior,
)

if TYPE_CHECKING:
    from recommendations.interceptors.base import Handler

# The semantic conventions' RPC attributes, under the names opentelemetry-instrumentation-grpc
# gives them and that trace backends' RPC views read.
RPC_SYSTEM = "rpc.system"
RPC_SERVICE = "rpc.service"
RPC_METHOD = "rpc.method"
RPC_GRPC_STATUS_CODE = "rpc.grpc.status_code"

SERVER_ERRORS = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)
"""The codes that mark a server span as an error (the semantic conventions for gRPC): the
others, such as INVALID_ARGUMENT or NOT_FOUND, are the caller's doing, not the server's."""


class TracingInterceptor(MethodInterceptor):
    """Runs each unary-response call in a SERVER span named `<service>/<method>`, with
    `rpc.system`, `rpc.service`, `rpc.method` and `rpc.grpc.status_code`, and the status ERROR
    for a server error (`SERVER_ERRORS`).

    The caller's trace context is read from the call's metadata by the configured propagator
    (W3C `traceparent` unless OTEL_PROPAGATORS says otherwise). Methods with streaming responses
    (reflection, the health Watch) and the services in `untraced` pass through: a probe's health
    check every few seconds is no trace anyone looks for.
    """

    def __init__(
        self, tracer_provider: trace.TracerProvider, *, untraced: frozenset[str] = frozenset()
    ) -> None:
        super().__init__()
        self._tracer = tracer_provider.get_tracer(__name__)
        self._untraced = untraced

    def wrap(self, method: str, handler: Handler) -> Handler:
        """Return `handler` running in a server span."""
        service, name = split_method(method)
        if handler.response_streaming or service in self._untraced:
            return handler
        behavior = behavior_of(handler)
        tracer = self._tracer
        span_name = method.removeprefix("/")
        attributes = {RPC_SYSTEM: "grpc", RPC_SERVICE: service, RPC_METHOD: name}
        extract, attach, detach = propagate.extract, otel_context.attach, otel_context.detach

        def traced(request: object, context: grpc.ServicerContext) -> object:
            caller = extract(dict(context.invocation_metadata()))
            span = tracer.start_span(
                span_name, context=caller, kind=SpanKind.SERVER, attributes=attributes
            )
            token = attach(trace.set_span_in_context(span, caller))
            failed = True
            try:
                response = behavior(request, context)
                failed = False
                return response
            finally:
                detach(token)
                if span.is_recording():
                    code = final_code(context, failed=failed)
                    span.set_attribute(RPC_GRPC_STATUS_CODE, code.value[0])
                    if code in SERVER_ERRORS:
                        span.set_status(Status(StatusCode.ERROR, code.name))
                span.end()

        return with_behavior(handler, traced)
