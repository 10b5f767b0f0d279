"""What the site tells an operator: JSON log lines with the trace's ids, one access line per
request, the degraded-page warning with its trace id, grpc-ecosystem's client metrics; and
tracing off (no OTEL_* variable) adds nothing (an unusable one stops the server: see
test_production_settings). The cross-process traces are tested in tests/observability at the
repository's root."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys

import grpc
import pytest
from django.conf import settings as django_settings
from marketplace import telemetry
from marketplace.logs import JsonFormatter
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import REGISTRY
from storefront import recommendations
from storefront.categories import Category

V2 = "bookshop.recommendations.v2.RecommendationsService"
V1 = "bookshop.recommendations.v1.RecommendationsService"


@pytest.fixture
def lines():
    """The JSON lines the site's loggers write while the test runs (as its console does)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)


def test_a_line_carries_the_ids_of_the_active_span_and_none_without_one(lines) -> None:
    tracer = TracerProvider().get_tracer("test")
    log = logging.getLogger("storefront.test")
    with tracer.start_as_current_span("page") as span:
        log.warning("inside", extra={"fields": {"answer": 42}})
    log.warning("outside")
    inside, outside = lines()
    assert inside["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert inside["span_id"] == format(span.get_span_context().span_id, "016x")
    assert inside["answer"] == 42
    assert inside["level"] == "WARNING"
    assert inside["logger"] == "storefront.test"
    assert inside["message"] == "inside"
    assert "trace_id" not in outside
    assert "span_id" not in outside


@pytest.mark.django_db
def test_one_access_line_per_request_with_route_status_and_duration(
    client, recommendations_server, lines
) -> None:
    client.get("/")
    client.get("/category/mystery/")
    client.get("/no-such-page/")
    access = [line for line in lines() if line["logger"] == "marketplace.access"]
    assert [(a["method"], a["route"], a["path"], a["status"]) for a in access] == [
        ("GET", "/", "/", 200),
        ("GET", "/category/<slug:slug>/", "/category/mystery/", 200),
        ("GET", None, "/no-such-page/", 404),
    ]
    assert all(a["duration_ms"] > 0 for a in access)


def _client_counts(service: str, method: str = "Recommend") -> tuple[float, ...]:
    """Calls started; handled with OK, UNIMPLEMENTED, UNAVAILABLE, NOT_FOUND; and timed."""
    labels = {"grpc_service": service, "grpc_method": method, "grpc_type": "unary"}
    names = [("grpc_client_started_total", {})]
    for code in ("OK", "UNIMPLEMENTED", "UNAVAILABLE", "NOT_FOUND"):
        names.append(("grpc_client_handled_total", {"grpc_code": code}))
    names.append(("grpc_client_handling_seconds_count", {}))
    return tuple(REGISTRY.get_sample_value(n, labels | more) or 0.0 for n, more in names)


def _added(before: tuple[float, ...], after: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(b - a for a, b in zip(before, after, strict=True))


@pytest.mark.django_db
def test_every_call_counts_in_the_grpc_client_metrics(client, serve) -> None:
    serve()
    before = _client_counts(V2), _client_counts(V2, "GetBook")
    client.get("/books/101/")  # GetBook, then Recommend for more of its category
    client.get("/books/999999/")  # GetBook only: NOT_FOUND
    assert _added(before[0], _client_counts(V2)) == (1, 1, 0, 0, 0, 1)
    assert _added(before[1], _client_counts(V2, "GetBook")) == (2, 1, 0, 0, 1, 2)

    serve(versions=("v1",))  # a server older than v2: the fallback counts both calls
    before = _client_counts(V2), _client_counts(V1)
    recommendations.recommend(reader_id=1, category=Category.MYSTERY, page_size=3)
    assert _added(before[0], _client_counts(V2)) == (1, 0, 1, 0, 0, 1)
    assert _added(before[1], _client_counts(V1)) == (1, 1, 0, 0, 0, 1)


@pytest.mark.django_db
def test_a_failed_call_warns_with_the_pages_trace_id_and_counts_with_its_code(
    nothing_listening, lines
) -> None:
    before = _client_counts(V2)
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("GET /") as page:
        picks = recommendations.recommend(reader_id=1, category=Category.MYSTERY, page_size=3)
    assert not picks.available
    (warning,) = [line for line in lines() if line["level"] == "WARNING"]
    assert warning["trace_id"] == format(page.get_span_context().trace_id, "032x")
    assert warning["grpc_code"] == "UNAVAILABLE"
    assert warning["category"] == "mystery"
    assert _added(before, _client_counts(V2)) == (1, 0, 0, 1, 0, 1)


def test_with_no_otel_variable_nothing_is_installed(monkeypatch) -> None:
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    middleware = list(django_settings.MIDDLEWARE)
    assert telemetry.install() is None
    assert list(django_settings.MIDDLEWARE) == middleware
    channel = grpc.insecure_channel("127.0.0.1:1")
    assert telemetry.instrument_channel(channel) is channel
    channel.close()


_INSTALL = """
import threading, grpc
from django.conf import settings
from marketplace import telemetry
provider = telemetry.install()
channel = grpc.insecure_channel("127.0.0.1:1")
print(provider is not None, settings.MIDDLEWARE[0],
      telemetry.instrument_channel(channel) is not channel,
      sorted(t.name for t in threading.enumerate() if t.name.startswith("OtelBatch")))
"""


def test_with_an_otlp_exporter_the_page_middleware_channel_and_thread_appear() -> None:
    # What the test above would see if tracing were on; in a process of its own, since the
    # Django instrumentation changes the settings it finds.
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env |= {"OTEL_TRACES_EXPORTER": "otlp", "DJANGO_SETTINGS_MODULE": "marketplace.settings.test"}
    result = subprocess.run(
        [sys.executable, "-c", _INSTALL], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "True",
        "opentelemetry.instrumentation.django.middleware.otel_middleware._DjangoMiddleware",
        "True",
        "['OtelBatchSpanRecordProcessor']",
    ]
