"""The site's URLs: the storefront's pages plus the operational endpoints."""

from __future__ import annotations

from django.urls import include, path

from marketplace import health, metrics

urlpatterns = [
    path("", include("storefront.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
]

handler404 = "storefront.views.not_found"
handler500 = "storefront.views.server_error"
