"""Choosing books: each reader's stable, personal order of a category for the day.

Both API versions read the same orders: v1's `recommend` takes the first few books of a reader's
order, v2's `page` pages through all of it.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field
from hashlib import blake2b
from typing import TYPE_CHECKING, TypeAlias

from recommendations import paging
from recommendations.domain import Category, InvalidRequestError, Violation

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from recommendations.catalog import Catalog
    from recommendations.domain import Book

DEFAULT_RESULTS = 3
"""How many books a v1 request with max_results 0 (unset) gets."""

MAX_RESULTS = 10
"""The most books one v1 request gets; larger requests are clamped to it."""

DEFAULT_PAGE_SIZE = 10
"""How many books a v2 page with page_size 0 (unset) holds."""

MAX_PAGE_SIZE = 25
"""The most books one v2 page holds; larger page sizes are treated as this."""

MAX_READER_ID_BYTES = 128
"""The longest v2 reader id, in UTF-8 bytes."""

SLOT_BITS = 12
"""Each category has 2**SLOT_BITS orders a day; a reader gets one of them (see `Recommender`)."""

_SECONDS_PER_DAY = 86_400
_DRAW_BYTES = 4
_DIGEST_BYTES = 64  # BLAKE2b's longest digest: 16 draws
_KEYS = {category: category.value.encode() for category in Category}
_UINT64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15  # 2**64 / golden ratio: Fibonacci hashing spreads nearby ids apart


Page: TypeAlias = "tuple[Sequence[Book], str]"
"""One page of a reader's order: its books, and the token of the next page ("" on the last).

A plain tuple: a `NamedTuple` is built by a Python function, which cost each call about 1.2 us
more with cold caches, as a loaded server has them (benchmarks/README.md)."""


class Recommender:
    """Orders each category for each reader and day, and hands out the start or a page of it.

    An order depends only on the reader, the category, the UTC day and the catalog, so every call,
    restart and replica agrees on it; different readers get different orders. For each category
    and day there are 2**SLOT_BITS orders, each a Fisher-Yates shuffle driven by BLAKE2b digests
    of the category, day and slot (Python's `hash()` of bytes is salted per process, and `random`
    would need a generator each); a reader's slot is a Fibonacci hash of the reader and the day.
    Two readers share an order with probability 2**-SLOT_BITS on a given day.

    An order is shuffled on its first request of the day and kept for the rest of it, so a call
    is a few dictionary lookups (see benchmarks/README.md for what a shuffle per call cost).
    Concurrent first requests shuffle twice and keep the same order; a day's orders are kept apart
    from the next day's (see `_Day`).

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

    def recommend(
        self, user_id: int, category: Category | None, max_results: int
    ) -> Sequence[Book]:
        """The first books of the reader's order of `category` today (v1).

        `max_results` 0 means `DEFAULT_RESULTS`; above `MAX_RESULTS` it is clamped. Raises
        `InvalidRequestError` naming each bad field: a negative `user_id` or `max_results`, or no
        `category` (None: the request named none the service knows).
        """
        violations = []
        if user_id < 0:
            violations.append(Violation("user_id", f"must be zero or positive, got {user_id}"))
        if category is None:
            violations.append(UNKNOWN_CATEGORY)
        if max_results < 0:
            violations.append(
                Violation("max_results", f"must be zero or positive, got {max_results}")
            )
        if violations or category is None:
            raise InvalidRequestError(violations)
        day = self._current_day()
        return self._order(user_id, category, day, day)[
            : min(max_results or DEFAULT_RESULTS, MAX_RESULTS)
        ]

    def page(
        self, reader_id: str, category: Category | None, page_size: int, page_token: str
    ) -> Page:
        """A page of the reader's order of `category` (v2).

        Without `page_token`, the first page of today's order; with the `next_page_token` of a
        page, the page after it, from the same day's order (a token stays valid for the day it was
        issued and the next). `page_size` 0 means `DEFAULT_PAGE_SIZE`; above `MAX_PAGE_SIZE` it is
        treated as that. Raises `InvalidRequestError` naming each bad field.
        """
        encoded = reader_id.encode()
        key = zlib.crc32(encoded)
        today = self._current_day()
        day, offset, token = today, 0, None
        if page_token:
            token = paging.decode(page_token)
            if token is not None:
                day, offset = token.day, token.offset
        if (
            not 0 < len(encoded) <= MAX_READER_ID_BYTES
            or category is None
            or page_size < 0
            or (page_token and not _issued(token, key, category, today))
        ):
            raise InvalidRequestError(
                _page_violations(
                    len(encoded),
                    category,
                    page_size=page_size,
                    page_token=page_token,
                    token=token,
                    key=key,
                    today=today,
                )
            )
        order = self._order(key, category, day, today)
        end = offset + min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        if end >= len(order):
            return order[offset:], ""
        return order[offset:end], paging.encode(day, end, key, category)

    def _current_day(self) -> int:
        return int(self._clock() // _SECONDS_PER_DAY)

    def _order(self, reader: int, category: Category, day: int, today: int) -> tuple[Book, ...]:
        """The reader's order of `category` on `day`; only today's orders are kept."""
        slot = ((reader + day) * _GOLDEN & _UINT64) >> (64 - SLOT_BITS)
        if day != today:
            return self._shuffle(category, day, slot)
        kept = self._today
        if kept.day != day:
            kept = self._today = _Day(day)
        orders = kept.orders[category]
        order = orders.get(slot)
        if order is None:
            order = orders[slot] = self._shuffle(category, day, slot)
        return order

    def _shuffle(self, category: Category, day: int, slot: int) -> tuple[Book, ...]:
        """A Fisher-Yates shuffle of the category's books, drawn from (category, day, slot)."""
        order = list(self._catalog.books_in(category))
        draws = _draws(b"%s/%d/%d" % (_KEYS[category], day, slot))
        for i in range(len(order) - 1):
            j = i + next(draws) % (len(order) - i)
            order[i], order[j] = order[j], order[i]
        return tuple(order)


UNKNOWN_CATEGORY = Violation("category", "is not a known category")
"""The violation for a request naming no category the service knows (the servicer words it)."""


@dataclass(slots=True)
class _Day:
    """The orders of one UTC day, by category and slot, filled in as they are first asked for.

    A request reads the recommender's current `_Day` once and uses it only if it is for the
    request's day, so around midnight a thread still on the old day can replace the new `_Day`
    with an old one (costing reshuffles) but never put one day's orders under another day.
    """

    day: int
    orders: dict[Category, dict[int, tuple[Book, ...]]] = field(
        default_factory=lambda: {category: {} for category in Category}
    )


def _issued(token: paging.PageToken | None, key: int, category: Category, today: int) -> bool:
    """Whether `token` is one this service issued for the reader and category, and still valid."""
    return (
        token is not None
        and token.fingerprint == paging.fingerprint(key, category)
        and today - 1 <= token.day <= today
    )


def _page_violations(
    size: int,
    category: Category | None,
    *,
    page_size: int,
    page_token: str,
    token: paging.PageToken | None,
    key: int,
    today: int,
) -> list[Violation]:
    """Every reason a page request is refused (worked out only once it is)."""
    violations = []
    if size == 0:
        violations.append(Violation("reader_id", "must not be empty"))
    elif size > MAX_READER_ID_BYTES:
        violations.append(
            Violation("reader_id", f"must be at most {MAX_READER_ID_BYTES} bytes, got {size}")
        )
    if category is None:
        violations.append(UNKNOWN_CATEGORY)
    if page_size < 0:
        violations.append(Violation("page_size", f"must be zero or positive, got {page_size}"))
    if page_token:
        if token is None or (
            category is not None and token.fingerprint != paging.fingerprint(key, category)
        ):
            violations.append(
                Violation("page_token", "was not issued for this reader_id and category")
            )
        elif not today - 1 <= token.day <= today:
            violations.append(Violation("page_token", "has expired: ask for the first page again"))
    return violations


def _draws(key: bytes) -> Iterator[int]:
    """Endless 32-bit draws from BLAKE2b digests of `key` and a block counter."""
    block = 0
    while True:
        digest = blake2b(b"%s/%d" % (key, block), digest_size=_DIGEST_BYTES).digest()
        for start in range(0, _DIGEST_BYTES, _DRAW_BYTES):
            yield int.from_bytes(digest[start : start + _DRAW_BYTES])
        block += 1
