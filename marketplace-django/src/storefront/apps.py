"""The storefront's Django app configuration."""

from __future__ import annotations

from django.apps import AppConfig


class StorefrontConfig(AppConfig):
    """The storefront app: pages that show books recommended for the reader."""

    name = "storefront"
    verbose_name = "Storefront"
