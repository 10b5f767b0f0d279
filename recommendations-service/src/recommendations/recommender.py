"""Choosing books: each reader's stable, personal order of a category for the day.

Both API versions read the same orders: v1's `recommend` takes the first few books of a reader's
order, v2's `page` pages through all of it.
"""

from __future__ import annotations

import functools
import time
import zlib
from typing import TYPE_CHECKING, TypeAlias

from recommendations import paging
from recommendations.domain import Category, InvalidRequestError, Violation

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

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

_SECONDS_PER_DAY = 86_400
_KEYS = {category: category.value.encode() for category in Category}


Page: TypeAlias = "tuple[Sequence[Book], str]"
"""One page of a reader's order: its books, and the token of the next page ("" on the last).

A plain tuple: a `NamedTuple` is built by a Python function, which cost each call about 1.2 us
more with cold caches, as a loaded server has them."""


class Recommender:
    """Orders each category for each reader and day, and hands out the start or a page of it.

    An order depends only on the reader, the category, the UTC day and the catalog, so every call,
    restart and replica agrees on it; different readers get different orders. A reader's order is
    a pseudo-random permutation of the category's positions (see `_Permutation`): its i-th book
    is computed from i alone, so a call costs the same for the first page and a deep one, for a
    new reader and a known one, at 200 books and at a million, and nothing is kept between calls.
    A shuffle of the category per reader and day, kept for the day, cost memory for every reader
    and a whole shuffle (2 us a book) on each reader's first call: 0.7 s at a million books.

    >>> from recommendations.catalog import InMemoryCatalog
    >>> from recommendations.domain import Book, Category
    >>> catalog = InMemoryCatalog([Book(1, "Dune", "Frank Herbert", Category.SCIENCE_FICTION)])
    >>> [b.title for b in Recommender(catalog).recommend(7, Category.SCIENCE_FICTION, 0)]
    ['Dune']
    """

    def __init__(self, catalog: Catalog, *, clock: Callable[[], float] = time.time) -> None:
        self._catalog = catalog
        self._clock = clock

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
        count = self._catalog.count(category)
        end = min(max_results or DEFAULT_RESULTS, MAX_RESULTS, count)
        return self._books(user_id, category, self._current_day(), count=count, start=0, end=end)

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
        count = self._catalog.count(category)
        end = offset + min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        if end >= count:
            return self._books(key, category, day, count=count, start=offset, end=count), ""
        books = self._books(key, category, day, count=count, start=offset, end=end)
        return books, paging.encode(day, end, key, category)

    def _current_day(self) -> int:
        return int(self._clock() // _SECONDS_PER_DAY)

    def _books(
        self, reader: int, category: Category, day: int, *, count: int, start: int, end: int
    ) -> list[Book]:
        """Books `start` to `end` (exclusive) of the reader's order of `category` on `day`."""
        if start >= end:
            return []
        order = _Permutation(count, b"%s/%d/%d" % (_KEYS[category], day, reader))
        return self._catalog.books_at(category, order.positions(start, end))


class _Permutation:
    """A keyed pseudo-random permutation of 0 to `size` - 1, any stretch of it in O(its length).

    Kensler's hash permutation ("Correlated Multi-Jittered Sampling", Pixar, 2013): a chain of steps
    that are each a bijection of the numbers below the next power of two (a xor with a constant, a
    multiply by an odd constant, a xorshift to the right), so the chain is one too; a result at or
    above `size` goes through the chain again (cycle-walking) until it lands below `size`, which
    keeps it a bijection of 0 to `size` - 1, and fewer than half the numbers are above `size`. A
    final rotation by the key spreads the first places evenly over the books. Every step works
    modulo the power of two, and a product modulo it depends only on the multiplier modulo it, so
    the multipliers are reduced once for each power of two (`_reduced_multipliers`) and the keyed
    multiply is folded into the next one: the chain's results are the paper's
    (tests/unit/test_order.py holds them to its C), and the products stay below 2^30, one digit of a
    Python int, up to 32,768 books a category. The key enters several steps as a 32-bit CRC of
    `key`, the same in every process (Python's `hash()` of bytes is salted per process). Kensler
    searched its constants for avalanche; an eight-round Feistel network of the same statistical
    spread (tests/unit/test_order.py) cost 2.2 us a position here, this chain 0.9 us. At the
    packaged catalog's 67 mystery books the chain runs about twice a position (67 of its 128 results
    are places), and the homepage's three positions took 3.8 us with the full multipliers, 2.6 us
    reduced.

    >>> sorted(_Permutation(10, b"mystery/20000/7").positions(0, 10))
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    """

    __slots__ = ("_key", "_mask", "_multipliers", "_size")

    def __init__(self, size: int, key: bytes) -> None:
        self._size = size
        self._mask = (1 << (size - 1).bit_length()) - 1 if size > 1 else 0
        self._multipliers = _reduced_multipliers(self._mask)
        self._key = zlib.crc32(key)

    def positions(self, start: int, end: int) -> list[int]:
        """Places `start` to `end` - 1 (0 <= start <= end <= size) of the permutation."""
        size, mask, key = self._size, self._mask, self._key
        m0, m1, m2, m3, m4, m5 = self._multipliers
        k0, k1, k2, k3 = key & mask, key >> 16 & mask, key >> 8 & mask, key >> 23 & mask
        keyed_m2 = (1 | key >> 27) * m2 & mask  # the paper's multiply by 1 | key >> 27, then m2
        found = []
        for index in range(start, end):
            value = index
            while True:
                value ^= k0
                value = value * m0 & mask
                value ^= k1
                value ^= value >> 4
                value ^= k2
                value = value * m1 & mask
                value ^= k3
                value ^= value >> 1
                value = value * keyed_m2 & mask
                value ^= value >> 11
                value = value * m3 & mask
                value ^= value >> 2
                value = value * m4 & mask
                value ^= value >> 2
                value = value * m5 & mask
                value ^= value >> 5
                if value < size:
                    break
            found.append((value + key) % size)
        return found


_MULTIPLIERS = (0xE170893D, 0x0929EB3F, 0x6935FA69, 0x74DCB303, 0x9E501CC3, 0xC860A3DF)
"""Kensler's multipliers, in the order his chain applies them."""


@functools.cache
def _reduced_multipliers(mask: int) -> tuple[int, int, int, int, int, int]:
    """`_MULTIPLIERS` modulo `mask` + 1, a power of two (one entry for each size of domain)."""
    m0, m1, m2, m3, m4, m5 = (multiplier & mask for multiplier in _MULTIPLIERS)
    return m0, m1, m2, m3, m4, m5


UNKNOWN_CATEGORY = Violation("category", "is not a known category")
"""The violation for a request naming no category the service knows (the servicer words it)."""


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
