from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from recommendations.catalog import InMemoryCatalog
from recommendations.domain import Book, Category, InvalidRequestError
from recommendations.recommender import (
    DEFAULT_PAGE_SIZE,
    DEFAULT_RESULTS,
    MAX_PAGE_SIZE,
    MAX_READER_ID_BYTES,
    MAX_RESULTS,
    Recommender,
)

DAY = 86_400.0


def _catalog(per_category: int = 20) -> InMemoryCatalog:
    books = [
        Book(id=c_index * 1000 + n, title=f"{category.value} {n}", author="A", category=category)
        for c_index, category in enumerate(Category, start=1)
        for n in range(1, per_category + 1)
    ]
    return InMemoryCatalog(books)


def _recommender(catalog: InMemoryCatalog | None = None, now: float = 20_000 * DAY) -> Recommender:
    return Recommender(catalog if catalog is not None else _catalog(), clock=lambda: now)


def _ids(books: Sequence[Book]) -> list[int]:
    return [book.id for book in books]


def test_an_empty_category_gives_no_books() -> None:
    catalog = InMemoryCatalog([Book(1, "Dune", "Frank Herbert", Category.SCIENCE_FICTION)])
    assert list(_recommender(catalog).recommend(1, Category.MYSTERY, 3)) == []


def test_never_a_duplicate() -> None:
    recommender = _recommender(_catalog(per_category=12))
    for user_id in range(300):
        ids = _ids(recommender.recommend(user_id, Category.SELF_HELP, MAX_RESULTS))
        assert len(set(ids)) == len(ids) == MAX_RESULTS


def test_different_users_get_different_books() -> None:
    recommender = _recommender()
    picks = {tuple(_ids(recommender.recommend(u, Category.MYSTERY, 3))) for u in range(50)}
    assert len(picks) >= 45


def test_the_pick_changes_from_one_day_to_the_next_and_one_recommender_follows_its_clock() -> None:
    now = [0.0]
    recommender = Recommender(_catalog(), clock=lambda: now[0])
    picks = []
    for day in (*range(20_000, 20_010), 20_000):
        now[0] = day * DAY + 3_600
        picks.append(tuple(_ids(recommender.recommend(5, Category.MYSTERY, 3))))
    fresh = _recommender(now=now[0]).recommend(5, Category.MYSTERY, 3)
    assert picks[0] == picks[-1] == tuple(_ids(fresh))
    assert len(set(picks[:3])) == 3
    assert len(set(picks[:10])) >= 8


@pytest.mark.parametrize(
    ("user_id", "category", "max_results", "fields"),
    [
        (-1, Category.MYSTERY, 3, ["user_id"]),
        (1, Category.MYSTERY, -1, ["max_results"]),
        (-5, Category.MYSTERY, -5, ["user_id", "max_results"]),
        (1, None, 3, ["category"]),
        (-1, None, -1, ["user_id", "category", "max_results"]),
    ],
)
def test_bad_values_are_refused_naming_every_field(
    user_id: int, category: Category | None, max_results: int, fields: list[str]
) -> None:
    with pytest.raises(InvalidRequestError) as error:
        _recommender().recommend(user_id, category, max_results)
    assert [v.field for v in error.value.violations] == fields
    assert str(error.value).startswith(f"{fields[0]} ")


# The count's limits, always tried: the default, the maximum, a category with fewer books.
@example(user_id=1, category=Category.MYSTERY, max_results=0, per_category=20, now=0)
@example(user_id=1, category=Category.SCIENCE_FICTION, max_results=1_000, per_category=20, now=0)
@example(user_id=1, category=Category.SELF_HELP, max_results=5, per_category=20, now=0)
@example(user_id=1, category=Category.MYSTERY, max_results=10, per_category=2, now=0)
@settings(max_examples=300, deadline=None)
@given(
    user_id=st.integers(min_value=0, max_value=2**31 - 1),
    category=st.sampled_from(Category),
    max_results=st.integers(min_value=0, max_value=2**31 - 1),
    per_category=st.integers(min_value=0, max_value=15),
    now=st.floats(min_value=0, max_value=4e9),
)
def test_any_valid_request_gets_distinct_books_of_its_category(
    user_id: int, category: Category, max_results: int, per_category: int, now: float
) -> None:
    recommender = _recommender(_catalog(per_category), now=now)
    books = recommender.recommend(user_id, category, max_results)
    expected = min(max_results or DEFAULT_RESULTS, MAX_RESULTS, per_category)
    assert len(books) == len({book.id for book in books}) == expected
    assert all(book.category is category for book in books)
    assert recommender.recommend(user_id, category, max_results) == books


def _all_pages(
    recommender: Recommender, reader_id: str, category: Category, page_size: int
) -> list[list[int]]:
    pages, token = [], ""
    while True:
        books, token = recommender.page(reader_id, category, page_size, token)
        pages.append(_ids(books))
        if not token:
            return pages


@pytest.mark.parametrize("page_size", [1, 3, 7, 20, 25])
def test_pages_go_through_the_whole_category_once(page_size: int) -> None:
    recommender = _recommender(_catalog(per_category=20))
    pages = _all_pages(recommender, "reader-1", Category.MYSTERY, page_size)
    seen = [book for page in pages for book in page]
    assert sorted(seen) == [1000 + n for n in range(1, 21)]
    assert all(len(page) == page_size for page in pages[:-1])
    assert 1 <= len(pages[-1]) <= page_size


def test_page_size_zero_means_the_default_and_large_sizes_are_capped() -> None:
    recommender = _recommender(_catalog(per_category=40))
    assert len(recommender.page("r", Category.MYSTERY, 0, "")[0]) == DEFAULT_PAGE_SIZE
    assert len(recommender.page("r", Category.MYSTERY, 10_000, "")[0]) == MAX_PAGE_SIZE


def test_the_same_reader_gets_the_same_pages_and_others_another_order() -> None:
    first = _all_pages(_recommender(), "reader-1", Category.SELF_HELP, 5)
    again = _all_pages(_recommender(), "reader-1", Category.SELF_HELP, 5)
    other = _all_pages(_recommender(), "reader-2", Category.SELF_HELP, 5)
    assert first == again
    assert first != other


def test_a_token_pages_through_the_day_it_was_issued_even_after_midnight() -> None:
    now = [20_000 * DAY + DAY - 1]
    recommender = Recommender(_catalog(per_category=20), clock=lambda: now[0])
    _, token = recommender.page("reader-1", Category.MYSTERY, 5, "")
    yesterdays = _all_pages(recommender, "reader-1", Category.MYSTERY, 5)
    now[0] += 2  # a new UTC day
    books, _ = recommender.page("reader-1", Category.MYSTERY, 5, token)
    assert _ids(books) == yesterdays[1]
    now[0] += DAY  # two days later, the token has expired
    with pytest.raises(InvalidRequestError, match="page_token has expired"):
        recommender.page("reader-1", Category.MYSTERY, 5, token)


@pytest.mark.parametrize(
    ("reader_id", "category", "page_size", "fields"),
    [
        ("", Category.MYSTERY, 5, ["reader_id"]),
        ("x" * (MAX_READER_ID_BYTES + 1), Category.MYSTERY, 5, ["reader_id"]),
        ("é" * (MAX_READER_ID_BYTES // 2), Category.MYSTERY, 5, []),
        ("r", None, 5, ["category"]),
        ("r", Category.MYSTERY, -1, ["page_size"]),
        ("", None, -1, ["reader_id", "category", "page_size"]),
    ],
)
def test_bad_page_requests_name_every_field(
    reader_id: str, category: Category | None, page_size: int, fields: list[str]
) -> None:
    if not fields:
        assert _recommender().page(reader_id, category, page_size, "")[0]
        return
    with pytest.raises(InvalidRequestError) as error:
        _recommender().page(reader_id, category, page_size, "")
    assert [v.field for v in error.value.violations] == fields


@pytest.mark.parametrize(
    ("reader_id", "category", "token"),
    [
        ("reader-2", Category.MYSTERY, "issued"),
        ("reader-1", Category.SELF_HELP, "issued"),
        ("reader-1", Category.MYSTERY, "not-a-token"),
        ("reader-1", Category.MYSTERY, "issued="),
    ],
    ids=["other-reader", "other-category", "junk", "padded"],
)
def test_a_token_is_refused_for_another_reader_or_category_or_when_forged(
    reader_id: str, category: Category, token: str
) -> None:
    recommender = _recommender()
    _, issued = recommender.page("reader-1", Category.MYSTERY, 5, "")
    with pytest.raises(InvalidRequestError, match=r"^page_token was not issued for this"):
        recommender.page(reader_id, category, 5, token.replace("issued", issued))
