"""BENCH-ONLY server: the recommendations service whose recommender hands out one fixed page.

`python benchmarks/fixed_page_service.py` runs `recommendations-server` as deployed (settings,
interceptors, servicers, the messages they build), but `Recommender.page` computes each category
and page size's page once, for the first reader who asks, and returns that page to everyone
after: the service without its recommender's own work (the reader's order of the category, the
page token), which is what the benchmark tells apart. Never deployed.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from recommendations.cli import main
from recommendations.recommender import Recommender

if TYPE_CHECKING:
    from recommendations.domain import Category
    from recommendations.recommender import Page

_computed = Recommender.page
_pages: dict[tuple[Category | None, int], Page] = {}


def fixed_page(
    recommender: Recommender,
    reader_id: str,
    category: Category | None,
    page_size: int,
    page_token: str,
) -> Page:
    """The page the recommender computed for the first call with this category and page size."""
    page = _pages.get((category, page_size))
    if page is None:
        page = _pages[category, page_size] = _computed(
            recommender, reader_id, category, page_size, page_token
        )
    return page


Recommender.page = fixed_page  # type: ignore[method-assign, assignment]

if __name__ == "__main__":
    sys.exit(main())
