"""Server spans from a real server: parent from the caller's traceparent, the RPC attributes,
statuses, sampling, a handler's own span as the server span's child, log lines joined to the
span; and with tracing off, no tracing at all.

The spans go to the SDK's in-memory exporter here; tests/observability receives them over OTLP
from real processes."""

from __future__ import annotations

import json
import logging
import threading
from typing import TYPE_CHECKING

import grpc
import pytest
from bookshop.recommendations.v2.recommendations_pb2 import (
    BOOK_CATEGORY_MYSTERY,
    BOOK_CATEGORY_UNSPECIFIED,
    RecommendRequest,
)
from bookshop.recommendations.v2.recommendations_pb2_grpc import RecommendationsServiceStub
from opentelemetry import propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import TextMapPropagator, default_getter, default_setter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, Sampler
from opentelemetry.trace import SpanKind, StatusCode, get_current_span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client import CollectorRegistry
from recommendations.interceptors import (
    AccessLogInterceptor,
    DecodingInterceptor,
    ExceptionToStatusInterceptor,
    MetricsInterceptor,
    ServerMetrics,
    TracingInterceptor,
)
from recommendations.logs import JsonFormatter
from recommendations.server import server_interceptors
from recommendations.telemetry import configure

if TYPE_CHECKING:
    from collections.abc import Callable

    from recommendations.server import RunningServer

V2 = "bookshop.recommendations.v2.RecommendationsService"
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
SAMPLED_CALLER = (("traceparent", f"00-{TRACE_ID}-{PARENT_ID}-01"),)
ALWAYS = ParentBased(ALWAYS_ON)


@pytest.fixture
def exported() -> InMemorySpanExporter:
    return InMemorySpanExporter()


def _provider(exported: InMemorySpanExporter, sampler: Sampler = ALWAYS) -> TracerProvider:
    provider = TracerProvider(
        resource=Resource.create({"service.name": "recommendations"}), sampler=sampler
    )
    provider.add_span_processor(SimpleSpanProcessor(exported))
    return provider


@pytest.fixture
def serve_traced(start_server, exported: InMemorySpanExporter) -> Callable[..., RunningServer]:
    """Start servers whose spans go to `exported`."""

    def _start(sampler: Sampler = ALWAYS, catalog_: object = None) -> RunningServer:
        return start_server(catalog_, tracer_provider=_provider(exported, sampler))

    return _start


def _call(running: RunningServer, metadata=(), **fields: object) -> grpc.StatusCode:
    request = RecommendRequest(**{"category": BOOK_CATEGORY_MYSTERY, "reader_id": "1", **fields})
    with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        try:
            RecommendationsServiceStub(channel).Recommend(request, metadata=metadata, timeout=5)
        except grpc.RpcError as error:
            return error.code()
    return grpc.StatusCode.OK


def test_the_server_span_is_a_child_of_the_callers_span(serve_traced, exported) -> None:
    running = serve_traced()
    assert _call(running, SAMPLED_CALLER) is grpc.StatusCode.OK
    (span,) = exported.get_finished_spans()
    assert span.name == f"{V2}/Recommend"
    assert span.kind is SpanKind.SERVER
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert span.parent is not None
    assert format(span.parent.span_id, "016x") == PARENT_ID
    assert dict(span.attributes) == {
        "rpc.system": "grpc",
        "rpc.service": V2,
        "rpc.method": "Recommend",
        "rpc.grpc.status_code": 0,
    }
    assert span.status.status_code is StatusCode.UNSET
    assert span.resource.attributes["service.name"] == "recommendations"
    assert span.start_time < span.end_time


@pytest.mark.parametrize(
    ("bug", "code", "status"),
    [
        (False, grpc.StatusCode.INVALID_ARGUMENT, StatusCode.UNSET),
        (True, grpc.StatusCode.INTERNAL, StatusCode.ERROR),
    ],
    ids=["refused", "failed"],
)
def test_a_span_carries_its_calls_code_and_only_a_server_error_marks_it_as_an_error(
    serve_traced, exported, catalog_that_breaks, bug: bool, code, status
) -> None:
    running = serve_traced(catalog_=catalog_that_breaks)
    catalog_that_breaks.broken = bug
    category = BOOK_CATEGORY_MYSTERY if bug else BOOK_CATEGORY_UNSPECIFIED
    assert _call(running, SAMPLED_CALLER, category=category) is code
    (span,) = exported.get_finished_spans()
    assert span.attributes["rpc.grpc.status_code"] == code.value[0]
    assert span.status.status_code is status
    assert span.status.description == ("INTERNAL" if bug else None)


def test_a_sampler_that_samples_no_new_trace_still_follows_a_sampled_caller(
    serve_traced, exported
) -> None:
    # An unsampled caller gets no span: test_the_caller_is_read_as_the_sdks_propagator_reads_it.
    never = serve_traced(ParentBased(ALWAYS_OFF))
    _call(never)
    _call(never, SAMPLED_CALLER)
    assert [format(s.context.trace_id, "032x") for s in exported.get_finished_spans()] == [TRACE_ID]


def test_log_lines_of_a_call_carry_its_span_ids(serve_traced, exported, caplog) -> None:
    # Every call logged (decided when the server starts), as JSON formatted inside the call.
    with caplog.at_level(logging.DEBUG, logger="recommendations.access"):
        caplog.handler.setFormatter(JsonFormatter())
        _call(serve_traced(), SAMPLED_CALLER)
    (span,) = exported.get_finished_spans()
    lines = [json.loads(text) for text in caplog.text.splitlines()]
    (line,) = [line for line in lines if line["logger"] == "recommendations.access"]
    assert line["grpc_code"] == "OK"
    assert line["trace_id"] == TRACE_ID
    assert line["span_id"] == format(span.context.span_id, "016x")


def _exporting_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("OtelBatch")]


def test_with_tracing_off_no_interceptor_and_no_thread(start_server) -> None:
    metrics = ServerMetrics(CollectorRegistry())
    assert [type(i) for i in server_interceptors(metrics, None)] == [
        AccessLogInterceptor,
        MetricsInterceptor,
        ExceptionToStatusInterceptor,
        DecodingInterceptor,
    ]
    running = start_server()
    assert running.tracer_provider is None
    assert _call(running) is grpc.StatusCode.OK
    assert _exporting_threads() == []
    # What the two checks above would see with tracing on:
    provider = configure({"OTEL_TRACES_EXPORTER": "otlp"})
    assert provider is not None
    try:
        assert _exporting_threads() == ["OtelBatchSpanRecordProcessor"]
        metrics = ServerMetrics(CollectorRegistry())
        assert isinstance(server_interceptors(metrics, provider)[0], TracingInterceptor)
    finally:
        provider.shutdown()


def test_a_span_started_in_a_handler_is_a_child_of_the_server_span(
    start_server, catalog, exported, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = _provider(exported)
    # The process-wide provider can be installed once per process: this test process's is ours.
    trace.set_tracer_provider(provider)
    if trace.get_tracer_provider() is not provider:
        pytest.fail("another test installed the process's tracer provider first")
    books_at = catalog.books_at

    def traced_books_at(*args: object) -> object:
        # As a developer's code in a handler would: the API's tracer, the process's provider.
        with trace.get_tracer(__name__).start_as_current_span("catalog books_at"):
            return books_at(*args)

    monkeypatch.setattr(catalog, "books_at", traced_books_at)
    running = start_server(tracer_provider=provider)
    assert _call(running, SAMPLED_CALLER) is grpc.StatusCode.OK
    spans = exported.get_finished_spans()
    (server,) = [s for s in spans if s.kind is SpanKind.SERVER]
    inner = [s for s in spans if s.kind is SpanKind.INTERNAL]
    assert inner, "the handler's span was not exported"
    for span in inner:
        assert span.parent is not None
        assert span.parent.span_id == server.context.span_id
        assert format(span.context.trace_id, "032x") == TRACE_ID


TRACEPARENTS = [
    f"00-{TRACE_ID}-{PARENT_ID}-01",
    f"00-{TRACE_ID}-{PARENT_ID}-00",
    f"00-{TRACE_ID}-{PARENT_ID}-03",  # sampled, random trace id
    f"00-{TRACE_ID}-{PARENT_ID}-02",
    f"00-{TRACE_ID.upper()}-{PARENT_ID}-01",
    f"  00-{TRACE_ID}-{PARENT_ID}-01",
    f"01-{TRACE_ID}-{PARENT_ID}-01-what-comes-later",
    f"00-{TRACE_ID}-{PARENT_ID}-01-not-in-version-00",
    f"ff-{TRACE_ID}-{PARENT_ID}-01",
    f"00-{'0' * 32}-{PARENT_ID}-01",
    f"00-{TRACE_ID}-{'0' * 16}-01",
    f"00-{TRACE_ID[:-1]}-{PARENT_ID}-01",
    "not a traceparent",
    None,  # no traceparent at all
]


class _OtherHeader(TextMapPropagator):
    """A propagator that reads nothing, so that the composite is not W3C's alone."""

    def extract(self, carrier, context=None, getter=default_getter):
        return context if context is not None else Context()

    def inject(self, carrier, context=None, setter=default_setter):
        return None

    @property
    def fields(self):
        return {"x-other"}


@pytest.mark.parametrize(
    "propagators",
    [
        [TraceContextTextMapPropagator(), W3CBaggagePropagator()],
        [TraceContextTextMapPropagator(), _OtherHeader()],
    ],
    ids=["w3c", "another-propagator-too"],
)
def test_the_caller_is_read_as_the_sdks_propagator_reads_it(
    serve_traced, exported, propagators
) -> None:
    previous = propagate.get_global_textmap()
    propagate.set_global_textmap(CompositePropagator(propagators))
    try:
        running = serve_traced()  # the interceptor takes the propagator when it is composed
    finally:
        propagate.set_global_textmap(previous)
    for header in TRACEPARENTS:
        exported.clear()
        carrier = {} if header is None else {"traceparent": header}
        _call(running, tuple(carrier.items()))
        read = TraceContextTextMapPropagator().extract(carrier)
        caller = get_current_span(read).get_span_context()
        spans = exported.get_finished_spans()
        if caller.is_valid and not caller.trace_flags.sampled:
            assert spans == (), header  # the caller's decision, followed
            continue
        (span,) = spans
        assert span.context.is_valid, header
        if caller.is_valid:
            assert span.parent is not None
            assert (span.context.trace_id, span.parent.span_id) == (
                caller.trace_id,
                caller.span_id,
            ), header
        else:  # a new trace, sampled
            assert span.parent is None, header
            assert span.context.trace_flags.sampled, header
            assert span.context.trace_id != int(TRACE_ID, 16), header
