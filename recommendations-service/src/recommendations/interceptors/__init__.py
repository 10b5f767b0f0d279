"""Server interceptors, one concern each: access logs, Prometheus metrics, exceptions to status."""

from __future__ import annotations

from recommendations.interceptors.access_log import AccessLogInterceptor
from recommendations.interceptors.base import UnaryBehavior, UnaryInterceptor, apply_interceptors
from recommendations.interceptors.exceptions import ExceptionToStatusInterceptor
from recommendations.interceptors.metrics import MetricsInterceptor, ServerMetrics

__all__ = [
    "AccessLogInterceptor",
    "ExceptionToStatusInterceptor",
    "MetricsInterceptor",
    "ServerMetrics",
    "UnaryBehavior",
    "UnaryInterceptor",
    "apply_interceptors",
]
