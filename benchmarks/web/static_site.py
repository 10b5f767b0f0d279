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

# Titles and authors of the length the catalog's mystery books have, so both pages weigh the same.
_BOOKS = (
    Book(id=101, title="The Murder of Roger Ackroyd", author="Agatha Christie"),
    Book(id=102, title="The Big Sleep", author="Raymond Chandler"),
    Book(id=103, title="The Hound of the Baskervilles", author="Arthur Conan Doyle"),
    Book(id=104, title="Rebecca", author="Daphne du Maurier"),
    Book(id=105, title="The Daughter of Time", author="Josephine Tey"),
    Book(id=106, title="Gaudy Night", author="Dorothy L. Sayers"),
    Book(id=107, title="The Moonstone", author="Wilkie Collins"),
    Book(id=108, title="The Woman in White", author="Wilkie Collins"),
    Book(id=109, title="In the Woods", author="Tana French"),
    Book(id=110, title="Gone Girl", author="Gillian Flynn"),
)


def static_recommend(
    *, reader_id: int, category: Category, page_size: int, page_token: str = ""
) -> Recommendations:
    """The first `page_size` of ten fixed books, whoever asks and whatever the category."""
    return Recommendations(books=_BOOKS[:page_size])


recommendations.recommend = static_recommend

__all__ = ["application", "static_recommend"]
