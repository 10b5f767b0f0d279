"""One page, one trace across both processes: the website's page span, its client span for the
gRPC call, the service's server span, received over OTLP (gRPC and HTTP) from real processes; a
failed call's status on its spans; log lines that carry the trace's ids; sampling decided by the
page and followed by the service."""

from __future__ import annotations

import json
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from harness.otlp import OtlpReceiver, ReceivedSpan
from harness.processes import Supervisor, wait_until
from harness.service import Replica, build_catalog
from harness.website import Website

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

V2 = "bookshop.recommendations.v2.RecommendationsService"
RPC = f"{V2}/Recommend"


@dataclass
class Traced:
    """A website and a recommendations replica, both tracing into `receiver`."""

    receiver: OtlpReceiver
    supervisor: Supervisor
    service: Replica
    website: Website

    def trace_of(self, path: str, *, spans: int) -> list[ReceivedSpan]:
        """Load `path` once; the spans of its trace, once `spans` of them have arrived.

        A query parameter of its own tells this page's span from any other page's (the site
        ignores it), such as the website's first page, loaded when it starts."""
        path += ("&" if "?" in path else "?") + f"probe={uuid.uuid4().hex}"

        def trace(received: list[ReceivedSpan]) -> list[ReceivedSpan]:
            """The spans of the page's trace, once exactly one root span is the page's."""
            roots = [
                s
                for s in received
                if (s.parent_id, s.service, s.kind) == ("", "marketplace", "SERVER")
                and s.attributes.get("http.url", "").endswith(path)
            ]
            return [s for s in received if len(roots) == 1 and s.trace_id == roots[0].trace_id]

        self.receiver.clear()
        self.website.get(path)
        return trace(self.receiver.wait_for(lambda s: len(trace(s)) >= spans, timeout=20))

    def logged(self, process: str, **fields: object) -> list[dict[str, object]]:
        """The JSON lines a process has logged so far (other output left out) holding `fields`."""
        text = self.supervisor.log_of(process).read_text()
        lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        return [line for line in lines if all(line.get(k) == v for k, v in fields.items())]


@contextmanager
def traced_services(
    workdir: Path, receiver: OtlpReceiver, protocol: str, **site_env: str
) -> Iterator[Traced]:
    """A replica and a website exporting to `receiver` over `protocol`, stopped at the end."""
    otel = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": (
            receiver.grpc_endpoint if protocol == "grpc" else receiver.http_endpoint
        ),
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_BSP_SCHEDULE_DELAY": "50",  # spans leave a process within 50 ms, not the SDK's 5 s
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=test",
    }
    with Supervisor(workdir / "logs") as supervisor:
        catalog = workdir / "catalog.sqlite3"
        build_catalog(catalog)
        service = Replica(supervisor, "recommendations", catalog, extra_env=otel)
        service.start()
        site_env = otel | {"DJANGO_LOG_LEVEL": "INFO"} | site_env
        target = f"ipv4:{service.address}"
        website = Website(supervisor, "website", workdir, target, extra_env=site_env)
        website.start()
        yield Traced(receiver, supervisor, service, website)


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    """The OTLP receiver the module's processes export to."""
    receiver = OtlpReceiver()
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module", params=["grpc", "http/protobuf"])
def traced(request, receiver: OtlpReceiver, tmp_path_factory) -> Iterator[Traced]:
    with traced_services(tmp_path_factory.mktemp("traced"), receiver, request.param) as traced:
        yield traced


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
    route = "/category/<slug:slug>/"
    assert page.attributes["http.route"] == route
    assert page.attributes["http.status_code"] == 302
    assert call.attributes["rpc.grpc.status_code"] == served.attributes["rpc.grpc.status_code"] == 3
    assert call.status == "ERROR"  # every failed call is the client's error
    assert served.status == "UNSET"  # INVALID_ARGUMENT is not the server's fault
    trace = {"trace_id": page.trace_id}
    (warning,) = traced.logged("website", logger="storefront.recommendations", **trace)
    assert warning["level"] == "WARNING"
    assert warning["grpc_code"] == "INVALID_ARGUMENT"
    assert warning["span_id"] == page.span_id
    (access,) = traced.logged("website", logger="marketplace.access", **trace)
    assert (access["method"], access["route"], access["status"]) == ("GET", route, 302)
    assert access["duration_ms"] > 0
    # The service logs its failed calls, with its own span's ids in the same trace.
    (logged,) = traced.logged("recommendations", **trace)
    assert logged["grpc_code"] == "INVALID_ARGUMENT"
    assert logged["span_id"] == served.span_id


def test_a_call_to_a_stopped_service_is_an_error_span(receiver, tmp_path) -> None:
    with traced_services(tmp_path, receiver, "grpc") as traced:
        traced.service.terminate()
        spans = traced.trace_of("/", spans=2)
    call = _one(spans, "marketplace", "CLIENT")
    assert call.status == "ERROR"
    assert call.attributes["rpc.grpc.status_code"] == 14  # UNAVAILABLE
    assert not [s for s in spans if s.service == "recommendations"]


def test_the_service_follows_the_pages_sampling_decision(receiver, tmp_path) -> None:
    sampler = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"}
    with traced_services(tmp_path, receiver, "grpc", **sampler) as traced:
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
    assert dropped == []
    assert {(s.service, s.kind, len(s.parent_id)) for s in kept} == {
        ("recommendations", "SERVER", 16)
    }
