"""Prometheus metrics for the website: requests and latency per view, and their exposition.

prometheus-client directly rather than django-prometheus: the site needs two HTTP metrics
labelled by view, and they must aggregate across the server's worker processes through
prometheus-client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set up by `marketplace.server`).
The exposition is served on the internal port (`marketplace.internal`), never with the pages.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.http import HttpRequest, HttpResponse

REQUESTS = Counter(
    "marketplace_http_requests",
    "HTTP requests answered, by view, method and status code.",
    ["view", "method", "status"],
)
LATENCY = Histogram(
    "marketplace_http_request_duration_seconds",
    "Time from request to response, by view.",
    ["view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.35, 0.5, 1.0, 2.5, 5.0),
)

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_UNMATCHED = "<unmatched>"


class RequestMetricsMiddleware:
    """Counts and times every request by the name of the view that answered it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = request.resolver_match
        view = match.view_name if match is not None else _UNMATCHED
        # The method label is bounded so that odd clients cannot create series at will.
        method = request.method if request.method in _METHODS else "OTHER"
        REQUESTS.labels(view=view, method=method, status=str(response.status_code)).inc()
        LATENCY.labels(view=view).observe(time.perf_counter() - started)
        return response


def exposition() -> bytes:
    """Every metric in Prometheus' text format: of all workers in multiprocess mode (when
    PROMETHEUS_MULTIPROC_DIR is set), else of this process."""
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)
