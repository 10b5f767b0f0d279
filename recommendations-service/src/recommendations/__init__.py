"""The bookshop's recommendations service: personalised book suggestions over gRPC.

The domain (`domain`, `catalog`, `recommender`) knows nothing about gRPC; `servicer` converts
between protobuf and the domain, and `server` composes the running process.
"""

from __future__ import annotations

from recommendations.catalog import Catalog, CatalogError, InMemoryCatalog, load_catalog
from recommendations.domain import Book, Category, InvalidRequestError
from recommendations.recommender import Recommender

__all__ = [
    "Book",
    "Catalog",
    "CatalogError",
    "Category",
    "InMemoryCatalog",
    "InvalidRequestError",
    "Recommender",
    "load_catalog",
]
