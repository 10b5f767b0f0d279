"""One page, one trace across both processes: the website's page span, its client span for the
gRPC call, the service's server span, received over OTLP (gRPC and HTTP) from real processes; a
failed call's status on its spans; log lines that carry the trace's ids; sampling decided by the
page and followed by the service."""

from __future__ import annotations

import pytest

from harness.otlp import OtlpReceiver, ReceivedSpan
from harness.processes import wait_until
from tests.observability.traced import Traced, start_traced

V2 = "bookshop.recommendations.v2.RecommendationsService"
RPC = f"{V2}/Recommend"


@pytest.fixture(scope="module", params=["grpc", "http/protobuf"])
def traced(request, receiver: OtlpReceiver, tmp_path_factory) -> Traced:
    workdir = tmp_path_factory.mktemp("traced")
    started = start_traced(workdir, receiver, request.param)
    yield started
    started.supervisor.close()


def _one(spans: list[ReceivedSpan], service: str, kind: str) -> ReceivedSpan:
    (span,) = [s for s in spans if s.service == service and s.kind == kind]
    return span


def test_a_homepage_is_one_trace_across_both_services(traced: Traced, request) -> None:
    spans = traced.trace_of("/", spans=3)
    page = _one(spans, "marketplace", "SERVER")
    call = _one(spans, "marketplace", "CLIENT")
    served = _one(spans, "recommendations", "SERVER")
    assert len(spans) == 3
    # The chain: page -> client call -> the service's span, across the two processes.
    assert page.parent_id == ""
    assert call.parent_id == page.span_id
    assert served.parent_id == call.span_id
    assert page.name == "GET /"
    assert page.attributes["http.route"] == "/"
    assert page.attributes["http.status_code"] == 200
    assert call.name == served.name == RPC
    for span in (call, served):
        assert span.attributes["rpc.system"] == "grpc"
        assert span.attributes["rpc.service"] == V2
        assert span.attributes["rpc.method"] == "Recommend"
        assert span.attributes["rpc.grpc.status_code"] == 0
        assert span.status == "UNSET"
    # Nested in time as in the call graph.
    assert page.start_ns <= call.start_ns <= served.start_ns
    assert served.end_ns <= call.end_ns <= page.end_ns
    for span in spans:
        assert span.resource["deployment.environment.name"] == "test"
        assert span.protocol == request.node.callspec.params["traced"]


def test_a_refused_call_marks_its_spans_and_the_warning_carries_the_trace_id(
    traced: Traced,
) -> None:
    # A page token the service did not issue: INVALID_ARGUMENT, a degraded page, a redirect.
    spans = traced.trace_of("/category/mystery/?page=bogus", spans=3)
    page = _one(spans, "marketplace", "SERVER")
    call = _one(spans, "marketplace", "CLIENT")
    served = _one(spans, "recommendations", "SERVER")
    assert page.attributes["http.route"] == "/category/<slug:slug>/"
    assert page.attributes["http.status_code"] == 302
    assert call.attributes["rpc.grpc.status_code"] == served.attributes["rpc.grpc.status_code"] == 3
    assert call.status == "ERROR"  # every failed call is the client's error
    assert served.status == "UNSET"  # INVALID_ARGUMENT is not the server's fault
    site = traced.log_lines("website")
    (warning,) = [
        line
        for line in site
        if line["logger"] == "storefront.recommendations" and line["trace_id"] == page.trace_id
    ]
    assert warning["level"] == "WARNING"
    assert warning["grpc_code"] == "INVALID_ARGUMENT"
    assert warning["span_id"] == page.span_id
    (access,) = [
        line
        for line in site
        if line["logger"] == "marketplace.access" and line.get("trace_id") == page.trace_id
    ]
    assert (access["method"], access["route"], access["status"]) == (
        "GET",
        "/category/<slug:slug>/",
        302,
    )
    assert access["duration_ms"] > 0
    # The service logs its failed calls, with its own span's ids in the same trace.
    (logged,) = [
        line
        for line in traced.log_lines("recommendations")
        if line.get("trace_id") == page.trace_id
    ]
    assert logged["grpc_code"] == "INVALID_ARGUMENT"
    assert logged["span_id"] == served.span_id


def test_a_call_to_a_stopped_service_is_an_error_span(receiver, tmp_path) -> None:
    traced = start_traced(tmp_path, receiver, "grpc")
    try:
        traced.service.terminate()
        spans = traced.trace_of("/", spans=2)
    finally:
        traced.supervisor.close()
    call = _one(spans, "marketplace", "CLIENT")
    assert call.status == "ERROR"
    assert call.attributes["rpc.grpc.status_code"] == 14  # UNAVAILABLE
    assert not [s for s in spans if s.service == "recommendations"]


def test_the_service_follows_the_pages_sampling_decision(receiver, tmp_path) -> None:
    traced = start_traced(
        tmp_path,
        receiver,
        "grpc",
        site_env={
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "0",
        },
    )
    try:
        receiver.clear()
        for _ in range(5):
            assert traced.website.get("/").books == 3
        traced.service.terminate()  # exports whatever it has queued
        dropped = [s for s in receiver.spans() if s.service == "recommendations"]
        # Set to sample every call whatever its caller decided, the service shows that the
        # website did send its (unsampled) trace context.
        traced.service.extra_env["OTEL_TRACES_SAMPLER"] = "always_on"
        traced.service.start()
        # The website's channel reconnects to the restarted service: pages are full again.
        assert wait_until(lambda: traced.website.get("/").books == 3, timeout=10)
        kept = receiver.wait_for(lambda spans: len(spans) >= 1, timeout=20)
    finally:
        traced.supervisor.close()
    assert dropped == []
    assert {(s.service, s.kind, len(s.parent_id)) for s in kept} == {
        ("recommendations", "SERVER", 16)
    }
