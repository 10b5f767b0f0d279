"""Choosing books: a stable, personalised pick from one category of the catalog."""

from __future__ import annotations

import time
from hashlib import blake2b
from typing import TYPE_CHECKING

from recommendations.domain import Category, InvalidRequestError

if TYPE_CHECKING:
    from collections.abc import Callable

    from recommendations.catalog import Catalog
    from recommendations.domain import Book

DEFAULT_RESULTS = 3
"""How many books a request with max_results 0 (unset) gets."""

MAX_RESULTS = 10
"""The most books one request gets; larger requests are clamped to it."""

_SECONDS_PER_DAY = 86_400
_DRAW_BYTES = 4
_DRAW_BITS = 8 * _DRAW_BYTES
_DRAW_MASK = (1 << _DRAW_BITS) - 1
_KEYS = {category: category.value.encode() for category in Category}


class Recommender:
    """Picks up to `max_results` distinct books of a category for a user.

    The pick depends only on the user, the category, the UTC day and the catalog, so every call,
    restart and replica agrees on it; different users get different picks. It is a partial
    Fisher-Yates shuffle driven by a BLAKE2b digest (Python's `hash()` is salted per process and
    `random` would need a generator per call).

    >>> from recommendations.catalog import InMemoryCatalog
    >>> from recommendations.domain import Book, Category
    >>> catalog = InMemoryCatalog([Book(1, "Dune", "Frank Herbert", Category.SCIENCE_FICTION)])
    >>> [b.title for b in Recommender(catalog).recommend(7, Category.SCIENCE_FICTION, 0)]
    ['Dune']
    """

    def __init__(self, catalog: Catalog, *, clock: Callable[[], float] = time.time) -> None:
        self._catalog = catalog
        self._clock = clock

    def recommend(self, user_id: int, category: Category, max_results: int) -> list[Book]:
        """Return the user's books of `category` for today, at most `max_results` of them.

        `max_results` 0 means `DEFAULT_RESULTS`; above `MAX_RESULTS` it is clamped. Raises
        `InvalidRequestError` for a negative `user_id` or `max_results`.
        """
        if user_id < 0:
            raise InvalidRequestError("user_id", f"must be zero or positive, got {user_id}")
        if max_results < 0:
            raise InvalidRequestError("max_results", f"must be zero or positive, got {max_results}")
        wanted = min(max_results or DEFAULT_RESULTS, MAX_RESULTS)
        books = self._catalog.books_in(category)
        count = min(wanted, len(books))
        if count == 0:
            return []
        day = int(self._clock() // _SECONDS_PER_DAY)
        key = b"%d/%s/%d" % (user_id, _KEYS[category], day)
        draws = int.from_bytes(blake2b(key, digest_size=_DRAW_BYTES * count).digest())
        # A partial Fisher-Yates shuffle that records only the positions it swapped, instead of
        # copying the category's books: `moved[j]` is the index now at position j.
        size = len(books)
        moved: dict[int, int] = {}
        picked = []
        for i in range(count):
            j = i + (draws & _DRAW_MASK) % (size - i)
            draws >>= _DRAW_BITS
            picked.append(books[moved.get(j, j)])
            moved[j] = moved.get(i, i)
        return picked
