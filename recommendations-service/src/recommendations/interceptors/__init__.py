"""Server interceptors, one concern each: server spans, access logs, Prometheus metrics,
exceptions to status, undecodable requests."""

from __future__ import annotations

from recommendations.interceptors.access_log import AccessLogInterceptor
from recommendations.interceptors.decoding import DecodingInterceptor
from recommendations.interceptors.exceptions import ExceptionToStatusInterceptor
from recommendations.interceptors.metrics import MetricsInterceptor, ServerMetrics
from recommendations.interceptors.tracing import TracingInterceptor

__all__ = [
    "AccessLogInterceptor",
    "DecodingInterceptor",
    "ExceptionToStatusInterceptor",
    "MetricsInterceptor",
    "ServerMetrics",
    "TracingInterceptor",
]
