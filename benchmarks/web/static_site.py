"""BENCH-ONLY WSGI entry point: the website with recommendations from fixed data (no gRPC call).

`PYTHONPATH=. marketplace-server benchmarks.web.static_site:application`
serves exactly the production site, settings, middleware and templates, except that the
storefront's one integration point, `storefront.recommendations.recommend`, returns three fixed
books instead of calling the service. The views look the function up on the module at each
request, so replacing it here (before any request) swaps the data source and nothing else. This
is the "same page from static data" the benchmark compares the live page with; it is never
deployed.
"""

from __future__ import annotations

from marketplace.wsgi import application
from storefront import recommendations
from storefront.categories import Category
from storefront.recommendations import Book, Recommendations

# Titles of the length the catalog's mystery books have, so both pages weigh the same.
_BOOKS = (
    Book(id=101, title="The Murder of Roger Ackroyd"),
    Book(id=102, title="The Big Sleep"),
    Book(id=103, title="The Hound of the Baskervilles"),
    Book(id=104, title="Rebecca"),
    Book(id=105, title="The Daughter of Time"),
    Book(id=106, title="Gaudy Night"),
    Book(id=107, title="The Moonstone"),
    Book(id=108, title="The Woman in White"),
    Book(id=109, title="In the Woods"),
    Book(id=110, title="Gone Girl"),
)


def static_recommend(*, user_id: int, category: Category, max_results: int) -> Recommendations:
    """The first `max_results` of ten fixed books, whoever asks and whatever the category."""
    return Recommendations(books=_BOOKS[:max_results])


recommendations.recommend = static_recommend

__all__ = ["application", "static_recommend"]
