"""OpenTelemetry server spans: one SERVER span per sampled call, a child of the caller's span.

Written here rather than taken from opentelemetry-instrumentation-grpc, for speed; see
`TracingInterceptor` for why.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, TypeAlias

import grpc
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode

from recommendations.interceptors.base import UnaryInterceptor, split_method, status_code

if TYPE_CHECKING:
    from collections.abc import Sequence

    from recommendations.interceptors.base import UnaryBehavior
    from recommendations.telemetry import Tracing

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

_SCOPE = InstrumentationScope(__name__)
_W3C_FIELDS = (
    frozenset({"traceparent", "tracestate"}),
    frozenset({"traceparent", "tracestate", "baggage"}),
)
# A W3C traceparent of version 00 as its senders write it: version, trace id, parent id, flags.
_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_SAMPLED = trace.TraceFlags(trace.TraceFlags.SAMPLED)
_Metadata: TypeAlias = "Sequence[tuple[str, str | bytes]]"
_RANDOM = trace.TraceFlags.RANDOM_TRACE_ID


class TracingInterceptor(UnaryInterceptor):
    """Runs each sampled call in a SERVER span named `<service>/<method>`, with `rpc.system`,
    `rpc.service`, `rpc.method` and `rpc.grpc.status_code`, and the status ERROR for a server
    error (`SERVER_ERRORS`).

    The caller's trace context is read from the call's metadata by the configured propagator
    (W3C `traceparent` unless OTEL_PROPAGATORS says otherwise), so the span joins the caller's
    trace; while the call runs its span is the current span, so log lines carry its ids. A call
    the sampler drops runs with no span and no tracing work beyond the decision; its log lines
    carry no ids (there is no trace for them to lead to).

    Why by hand: the instrumentation package's interceptor, and a span from the SDK's `Tracer`
    for every call, each cost this server several times more CPU per call than tracing is worth
    (benchmarks/README.md, "Server spans for tracing"), about half of it in deciding. So the
    decision is taken here, from the variables the SDK's samplers read (`telemetry.Sampling`,
    tested equal to them), and a sampled call's span is assembled as the `ReadableSpan` that the
    SDK's span processors and exporters take and handed to the SDK's batch processor, which
    exports it as it does any span.
    Calls from the traced website all carry a `traceparent`, nine in ten of them unsampled: a
    plain version-00 header is read here for the decision alone, cheaper than the SDK's
    propagator (a regular expression, the trace state, the baggage, a new context); the
    propagator still reads any other header, the parent of every sampled call, and everything
    when OTEL_PROPAGATORS names other propagators.
    """

    def __init__(self, tracing: Tracing) -> None:
        self._tracing = tracing

    def wrap(self, method: str, behavior: UnaryBehavior) -> UnaryBehavior:
        """Return `behavior` run inside a server span when the call is sampled."""
        service, name = split_method(method)
        span_name = f"{service}/{name}"
        attributes = {RPC_SYSTEM: "grpc", RPC_SERVICE: service, RPC_METHOD: name}
        resource, on_end = self._tracing.resource, self._tracing.processor.on_end
        sampled = self._tracing.sampling.sampled
        ids = RandomIdGenerator()
        new_trace_id, new_span_id = ids.generate_trace_id, ids.generate_span_id
        propagator = propagate.get_global_textmap()
        fields = frozenset(propagator.fields)
        # W3C trace context alone (with baggage, which names no parent): the default.
        w3c = fields in _W3C_FIELDS
        extract, current_span = propagator.extract, trace.get_current_span
        attach, detach, in_context = (
            otel_context.attach,
            otel_context.detach,
            trace.set_span_in_context,
        )

        def in_span(
            request: object,
            context: grpc.ServicerContext,
            span: SpanContext,
            parent: SpanContext | None,
        ) -> object:
            token = attach(in_context(NonRecordingSpan(span)))
            start = time.time_ns()
            # What a client sees of an exception that carries no status.
            code = grpc.StatusCode.UNKNOWN
            try:
                response = behavior(request, context)
                code = grpc.StatusCode.OK
            finally:
                detach(token)
                code = status_code(context) or code
                on_end(
                    ReadableSpan(
                        span_name,
                        span,
                        parent,
                        resource,
                        {**attributes, RPC_GRPC_STATUS_CODE: code.value[0]},
                        kind=SpanKind.SERVER,
                        status=Status(StatusCode.ERROR, code.name)
                        if code in SERVER_ERRORS
                        else Status(StatusCode.UNSET),
                        start_time=start,
                        end_time=time.time_ns(),
                        instrumentation_scope=_SCOPE,
                    )
                )
            return response

        def caller_of(metadata: _Metadata) -> SpanContext | None:
            # The caller's span, as the configured propagator reads it from the metadata.
            found = current_span(extract(dict(metadata))).get_span_context()
            return found if found.is_valid else None

        def caller_decision(metadata: _Metadata) -> tuple[int, bool | None]:
            # The caller's trace id and sampling decision (None: the call starts a trace),
            # without parsing what the decision does not need (see the class's docstring).
            if w3c:
                for key, value in metadata:
                    if key == "traceparent":
                        match = _TRACEPARENT.fullmatch(value) if isinstance(value, str) else None
                        if match is not None:
                            trace_id = int(match[1], 16)
                            if trace_id and int(match[2], 16):
                                return trace_id, int(match[3], 16) & 1 == 1
                        break  # anything unusual: the propagator decides
                else:
                    return new_trace_id(), None
            elif fields.isdisjoint(key for key, _ in metadata):
                return new_trace_id(), None
            caller = caller_of(metadata)
            if caller is None:
                return new_trace_id(), None
            return caller.trace_id, caller.trace_flags.sampled

        def traced(request: object, context: grpc.ServicerContext) -> object:
            metadata = context.invocation_metadata()
            trace_id, caller_sampled = caller_decision(metadata)
            if not sampled(trace_id, caller_sampled):
                return behavior(request, context)
            # Sampled (a tenth of the calls, say): now the caller's span, with its trace state.
            parent = None if caller_sampled is None else caller_of(metadata)
            flags = _SAMPLED
            if parent is None or parent.trace_flags.random_trace_id:
                flags = trace.TraceFlags(flags | _RANDOM)
            span = SpanContext(
                trace_id,
                new_span_id(),
                is_remote=False,
                trace_flags=flags,
                trace_state=None if parent is None else parent.trace_state,
            )
            return in_span(request, context, span, parent)

        return traced
