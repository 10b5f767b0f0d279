"""The ordering contract, at the packaged catalog's size and at 100,000 books.

Each reader's order of a category is stable for the UTC day, the same in every process,
different across readers and days, complete and without duplicates; and it looks random: every
book comes first for about as many readers, and consecutive places are no more often consecutive
books than chance makes them.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import zlib
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from recommendations.catalog import InMemoryCatalog, default_csv, read_csv
from recommendations.domain import Book, Category
from recommendations.recommender import MAX_PAGE_SIZE, Recommender, _Permutation

if TYPE_CHECKING:
    from collections.abc import Iterator

DAY = 86_400.0
TODAY = 20_000
LARGE = 100_000


def _generated(books: int) -> InMemoryCatalog:
    categories = list(Category)
    return InMemoryCatalog(
        Book(n, f"Book {n}", f"Author {n % 97}", categories[n % 3]) for n in range(1, books + 1)
    )


@pytest.fixture(scope="module", params=["packaged", "100k"])
def catalog(request: pytest.FixtureRequest) -> InMemoryCatalog:
    if request.param == "packaged":
        return InMemoryCatalog(read_csv(default_csv()))
    return _generated(LARGE)


def _recommender(catalog: InMemoryCatalog, day: int = TODAY, second: float = 0) -> Recommender:
    return Recommender(catalog, clock=lambda: day * DAY + second)


def _order(recommender: Recommender, reader: str, category: Category) -> Iterator[int]:
    """The ids of the reader's whole order, page by page."""
    books, token = recommender.page(reader, category, MAX_PAGE_SIZE, "")
    yield from (book.id for book in books)
    while token:
        books, token = recommender.page(reader, category, MAX_PAGE_SIZE, token)
        yield from (book.id for book in books)


def _first_page(recommender: Recommender, reader: str) -> tuple[int, ...]:
    return tuple(book.id for book in recommender.page(reader, Category.MYSTERY, 10, "")[0])


@pytest.mark.parametrize("category", list(Category))
def test_an_order_holds_every_book_of_the_category_once(
    catalog: InMemoryCatalog, category: Category
) -> None:
    order = list(_order(_recommender(catalog), "reader-1", category))
    ids = [catalog.book_at(category, p).id for p in range(catalog.count(category))]
    assert len(order) == len(ids)
    assert sorted(order) == ids


def test_an_order_is_stable_for_the_day(catalog: InMemoryCatalog) -> None:
    morning = _recommender(catalog, second=60)
    evening = _recommender(catalog, second=DAY - 1)  # a new instance: nothing is shared
    for reader in ("reader-1", "reader-2", "x" * 128):
        assert _first_page(morning, reader) == _first_page(evening, reader)
        assert list(morning.recommend(42, Category.SELF_HELP, 10)) == list(
            evening.recommend(42, Category.SELF_HELP, 10)
        )


def test_readers_and_days_get_different_orders(catalog: InMemoryCatalog) -> None:
    recommender = _recommender(catalog)
    pages = {_first_page(recommender, f"reader-{n}") for n in range(1_000)}
    assert len(pages) == 1_000
    starts = {recommender.recommend(n, Category.MYSTERY, 3)[0].id for n in range(1_000)}
    assert len(starts) >= min(catalog.count(Category.MYSTERY), 1_000) * 0.6
    days = {_first_page(_recommender(catalog, day), "reader-1") for day in range(TODAY, TODAY + 30)}
    assert len(days) == 30


def test_every_book_comes_first_for_about_as_many_readers() -> None:
    catalog = InMemoryCatalog(read_csv(default_csv()))
    recommender = _recommender(catalog)
    books = catalog.count(Category.MYSTERY)
    readers = 300 * books
    firsts = Counter(recommender.recommend(n, Category.MYSTERY, 1)[0].id for n in range(readers))
    assert len(firsts) == books
    # 300 expected each, with a standard deviation of about 17.
    assert 200 <= min(firsts.values()) <= max(firsts.values()) <= 400


@pytest.mark.parametrize("size", [67, 200, 1_000])
def test_consecutive_places_are_consecutive_positions_no_more_often_than_by_chance(
    size: int,
) -> None:
    # A weakly mixing permutation (too few rounds or steps) leaves structure that this count shows.
    readers = 40 * size
    neighbours = 0
    for reader in range(readers):
        first, second = _Permutation(size, b"mystery/%d/%d" % (TODAY, reader)).positions(0, 2)
        neighbours += (second - first) % size == 1
    expected = readers / (size - 1)
    assert 0.75 * expected <= neighbours <= 1.25 * expected


@settings(max_examples=200, deadline=None)
@given(size=st.integers(min_value=0, max_value=3_000), key=st.binary(max_size=40))
def test_a_permutation_is_a_bijection_of_its_positions(size: int, key: bytes) -> None:
    permutation = _Permutation(size, key)
    assert sorted(permutation.positions(0, size)) == list(range(size))
    middle = size // 3
    assert permutation.positions(middle, size) == permutation.positions(0, size)[middle:]


def _kensler(index: int, size: int, key: int) -> int:
    """Kensler's `permute(i, l, p)` as his paper prints it in C, on 32-bit unsigned ints, then
    the final rotation `(i + p) % l` without C's wrap at 2^32, as the service adds it."""
    u32 = 0xFFFFFFFF
    w = (1 << (size - 1).bit_length()) - 1 if size > 1 else 0
    i = index
    while True:
        i ^= key
        i = i * 0xE170893D & u32
        i ^= key >> 16
        i ^= (i & w) >> 4
        i ^= key >> 8
        i = i * 0x0929EB3F & u32
        i ^= key >> 23
        i ^= (i & w) >> 1
        i = i * (1 | key >> 27) & u32
        i = i * 0x6935FA69 & u32
        i ^= (i & w) >> 11
        i = i * 0x74DCB303 & u32
        i ^= (i & w) >> 2
        i = i * 0x9E501CC3 & u32
        i ^= (i & w) >> 2
        i = i * 0xC860A3DF & u32
        i &= w
        i ^= i >> 5
        if i < size:
            return (i + key) % size


@settings(max_examples=300, deadline=None)
@given(
    size=st.integers(min_value=1, max_value=2**32),
    key=st.binary(max_size=40),
    start=st.integers(min_value=0),
)
def test_an_order_is_the_papers_permutation(size: int, key: bytes, start: int) -> None:
    # Replicas of different releases serve one reader's pages during a rolling deploy, so no
    # change to how the positions are computed may change them.
    start %= size
    end = min(size, start + 30)
    expected = [_kensler(index, size, zlib.crc32(key)) for index in range(start, end)]
    assert _Permutation(size, key).positions(start, end) == expected


def _orders() -> list[list[int]]:
    """The first page of 20 readers and the picks of 20 users, from the 100,000 books."""
    recommender = _recommender(_generated(LARGE))
    pages = [recommender.page(f"reader-{n}", Category.MYSTERY, 25, "")[0] for n in range(20)]
    picks = [recommender.recommend(n, Category.SELF_HELP, 10) for n in range(20)]
    return [[book.id for book in books] for books in pages + picks]


def test_every_process_gives_the_same_orders() -> None:
    # Processes with different hash seeds (what would make hash() or a per-process seed differ).
    script = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
    script += "from test_order import _orders; print(_orders())"
    outputs = [
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        for seed in ("1", "2")
    ]
    assert [ast.literal_eval(output) for output in outputs] == [_orders()] * 2
