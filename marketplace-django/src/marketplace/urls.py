"""The site's URLs: the storefront's pages. Metrics and probes are on the internal port
(`marketplace.internal`), not here."""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [
    path("", include("storefront.urls")),
]

handler404 = "storefront.views.not_found"
handler500 = "storefront.views.server_error"
