"""The internal port's application: metrics, liveness and readiness, and nothing else."""

from __future__ import annotations

import io
import re
import wsgiref.util

import pytest
from marketplace import internal


def call(path, method="GET"):
    """(status, headers, body) of `internal.application` for one request."""
    environ = {"PATH_INFO": path, "REQUEST_METHOD": method, "wsgi.input": io.BytesIO()}
    wsgiref.util.setup_testing_defaults(environ)
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer.update(status=status, headers=dict(headers))

    body = b"".join(internal.application(environ, start_response))
    return answer["status"], answer["headers"], body


@pytest.mark.django_db
def test_the_probes_answer_get_and_head_only_without_calling_the_service(
    nothing_listening, calls_counted
):
    assert call("/readyz")[::2] == ("200 OK", b"ready\n")  # the database answers
    status, headers, body = call("/healthz")
    assert (status, body) == ("200 OK", b"ok\n")
    assert headers["Content-Type"].startswith("text/plain")
    status, headers, body = call("/healthz", "HEAD")
    assert (status, body, headers["Content-Length"]) == ("200 OK", b"", "3")
    for method in ("POST", "PUT", "DELETE", "TRACE"):
        status, headers, _ = call("/healthz", method)
        assert (status, headers["Allow"]) == ("405 Method Not Allowed", "GET, HEAD"), method
    assert calls_counted("UNAVAILABLE") == 0


@pytest.mark.django_db
def test_metrics_count_requests_per_view_and_call_outcomes(client, nothing_listening):
    client.get("/")
    client.get("/category/mystery/")

    status, headers, body = call("/metrics")

    assert status == "200 OK"
    assert headers["Content-Type"].startswith("text/plain; version=")
    text = body.decode()
    assert "# TYPE marketplace_http_requests_total counter" in text
    assert 'marketplace_recommendations_calls_total{grpc_code="UNAVAILABLE"}' in text
    assert re.search(
        r'marketplace_http_requests_total\{method="GET",status="200",view="storefront:home"\} \d',
        text,
    )
    bucket = 'marketplace_http_request_duration_seconds_bucket{le="0.5",view="storefront:category"}'
    assert bucket in text


@pytest.mark.parametrize("path", ["/", "/admin/", "/metrics/", "/static/storefront/site.css"])
def test_any_other_path_is_404(path):
    assert call(path)[0] == "404 Not Found"
