"""Choosing books: a stable, personalised pick from one category of the catalog."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from hashlib import blake2b
from typing import TYPE_CHECKING

from recommendations.domain import Category, InvalidRequestError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from recommendations.catalog import Catalog
    from recommendations.domain import Book

DEFAULT_RESULTS = 3
"""How many books a request with max_results 0 (unset) gets."""

MAX_RESULTS = 10
"""The most books one request gets; larger requests are clamped to it."""

SLOT_BITS = 12
"""Each category has 2**SLOT_BITS selections a day; a user gets one of them (see `Recommender`)."""

_SECONDS_PER_DAY = 86_400
_DRAW_BYTES = 4
_DRAW_BITS = 8 * _DRAW_BYTES
_DRAW_MASK = (1 << _DRAW_BITS) - 1
_KEYS = {category: category.value.encode() for category in Category}
_UINT64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15  # 2**64 / golden ratio: Fibonacci hashing spreads nearby ids apart


class Recommender:
    """Picks up to `max_results` distinct books of a category for a user.

    The pick depends only on the user, the category, the UTC day and the catalog, so every call,
    restart and replica agrees on it; different users get different picks. For each category
    and day there are 2**SLOT_BITS selections of MAX_RESULTS books, each a partial Fisher-Yates
    shuffle driven by a BLAKE2b digest of the category, day and slot (Python's `hash()` of bytes
    is salted per process, and `random` would need a generator each); a user's slot is a
    Fibonacci hash of the user id and the day. A request takes a prefix of its user's selection.

    Why a table rather than a shuffle per request: the shuffle cost 2.5 us per call in-process,
    and under load that was about 9% of the server's CPU per call, most of the service's budget
    against a bare server (see benchmarks/README.md); a table lookup costs 0.6 us. Two users
    share a selection with probability 2**-SLOT_BITS on a given day. A category's table is built
    on its first request of the day (about 20 ms); concurrent builds are harmless, as they give
    the same table, and a day's tables are kept apart from the next day's (see `_Day`).

    >>> from recommendations.catalog import InMemoryCatalog
    >>> from recommendations.domain import Book, Category
    >>> catalog = InMemoryCatalog([Book(1, "Dune", "Frank Herbert", Category.SCIENCE_FICTION)])
    >>> [b.title for b in Recommender(catalog).recommend(7, Category.SCIENCE_FICTION, 0)]
    ['Dune']
    """

    def __init__(self, catalog: Catalog, *, clock: Callable[[], float] = time.time) -> None:
        self._catalog = catalog
        self._clock = clock
        self._today = _Day(-1)

    def recommend(self, user_id: int, category: Category, max_results: int) -> Sequence[Book]:
        """Return the user's books of `category` for today, at most `max_results` of them.

        `max_results` 0 means `DEFAULT_RESULTS`; above `MAX_RESULTS` it is clamped. Raises
        `InvalidRequestError` for a negative `user_id` or `max_results`.
        """
        if user_id < 0:
            raise InvalidRequestError("user_id", f"must be zero or positive, got {user_id}")
        if max_results < 0:
            raise InvalidRequestError("max_results", f"must be zero or positive, got {max_results}")
        day = int(self._clock() // _SECONDS_PER_DAY)
        today = self._today
        if today.day != day:
            today = self._today = _Day(day)
        selections = today.selections.get(category)
        if selections is None:
            selections = today.selections[category] = self._build(category, day)
        slot = ((user_id + day) * _GOLDEN & _UINT64) >> (64 - SLOT_BITS)
        return selections[slot][: min(max_results or DEFAULT_RESULTS, MAX_RESULTS)]

    def _build(self, category: Category, day: int) -> tuple[tuple[Book, ...], ...]:
        """Return the day's selections for `category`, one per slot."""
        books = self._catalog.books_in(category)
        count = min(MAX_RESULTS, len(books))
        return tuple(
            _shuffled_prefix(books, count, b"%s/%d/%d" % (_KEYS[category], day, slot))
            for slot in range(1 << SLOT_BITS)
        )


@dataclass(slots=True)
class _Day:
    """The selections of one UTC day, by category, filled in as categories are first asked for.

    A request reads the recommender's current `_Day` once and uses it only if it is for the
    request's day, so around midnight a thread still on the old day can replace the new `_Day`
    with an old one (costing a rebuild) but never put one day's selections under another day.
    """

    day: int
    selections: dict[Category, tuple[tuple[Book, ...], ...]] = field(default_factory=dict)


def _shuffled_prefix(books: Sequence[Book], count: int, key: bytes) -> tuple[Book, ...]:
    """Return the first `count` books of a Fisher-Yates shuffle of `books` drawn from `key`."""
    if count == 0:
        return ()
    draws = int.from_bytes(blake2b(key, digest_size=_DRAW_BYTES * count).digest())
    # Records only the positions it swapped, instead of copying the books: `moved[j]` is the
    # index now at position j.
    size = len(books)
    moved: dict[int, int] = {}
    picked = []
    for i in range(count):
        j = i + (draws & _DRAW_MASK) % (size - i)
        draws >>= _DRAW_BITS
        picked.append(books[moved.get(j, j)])
        moved[j] = moved.get(i, i)
    return tuple(picked)
