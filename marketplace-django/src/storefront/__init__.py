"""The storefront: the bookshop's pages and its client of the recommendations service."""

from __future__ import annotations
