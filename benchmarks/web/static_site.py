"""BENCH-ONLY WSGI entry point: the website with recommendations from fixed data (no gRPC call).

`PYTHONPATH=. marketplace-server benchmarks.web.static_site:application` serves the production
site, settings, middleware and templates, but `storefront.recommendations.recommend`, the
storefront's one integration point, returns fixed books. The views look it up on the module at
each request, so replacing it here swaps the data source and nothing else. Never deployed.
"""

from __future__ import annotations

from marketplace.wsgi import application
from storefront import recommendations
from storefront.categories import Category
from storefront.recommendations import Book, Recommendations

# The homepage's shelf (the only page the benchmark loads), with titles and authors of the length
# the catalog's mystery books have, so both pages weigh the same.
_BOOKS = (
    Book(id=101, title="The Murder of Roger Ackroyd", author="Agatha Christie"),
    Book(id=102, title="The Big Sleep", author="Raymond Chandler"),
    Book(id=103, title="The Hound of the Baskervilles", author="Arthur Conan Doyle"),
)


def static_recommend(
    *, reader_id: int, category: Category, page_size: int, page_token: str = ""
) -> Recommendations:
    """Up to `page_size` of three fixed books, whoever asks and whatever the category."""
    return Recommendations(books=_BOOKS[:page_size])


recommendations.recommend = static_recommend

__all__ = ["application", "static_recommend"]
