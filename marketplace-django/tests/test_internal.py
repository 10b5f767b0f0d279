"""The internal port's application: metrics, liveness and readiness, and nothing else."""

from __future__ import annotations

import io
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


def test_healthz_answers_without_touching_anything(nothing_listening, calls_counted):
    status, headers, body = call("/healthz")

    assert (status, body) == ("200 OK", b"ok\n")
    assert headers["Content-Type"].startswith("text/plain")
    assert calls_counted("UNAVAILABLE") == 0


@pytest.mark.django_db
def test_readyz_answers_when_the_database_does():
    assert call("/readyz")[::2] == ("200 OK", b"ready\n")


def test_metrics_are_in_prometheus_text_format():
    status, headers, body = call("/metrics")

    assert status == "200 OK"
    assert headers["Content-Type"].startswith("text/plain; version=")
    assert b"# TYPE marketplace_http_requests_total counter" in body


@pytest.mark.parametrize("path", ["/", "/admin/", "/metrics/", "/static/storefront/site.css"])
def test_any_other_path_is_404(path):
    assert call(path)[0] == "404 Not Found"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "TRACE"])
def test_only_get_and_head_are_allowed(method):
    status, headers, _ = call("/healthz", method)

    assert status == "405 Method Not Allowed"
    assert headers["Allow"] == "GET, HEAD"


def test_head_has_no_body():
    status, headers, body = call("/healthz", "HEAD")

    assert (status, body) == ("200 OK", b"")
    assert headers["Content-Length"] == "3"
