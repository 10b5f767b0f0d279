from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from recommendations.catalog import InMemoryCatalog
from recommendations.domain import Book, Category, InvalidRequestError
from recommendations.recommender import DEFAULT_RESULTS, MAX_RESULTS, Recommender

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


@pytest.mark.parametrize("category", list(Category))
def test_books_come_from_the_requested_category(category: Category) -> None:
    books = _recommender().recommend(1, category, 5)
    assert len(books) == 5
    assert {book.category for book in books} == {category}


def test_zero_means_the_default_count() -> None:
    assert len(_recommender().recommend(1, Category.MYSTERY, 0)) == DEFAULT_RESULTS


def test_above_the_maximum_is_clamped() -> None:
    assert len(_recommender().recommend(1, Category.MYSTERY, 1_000)) == MAX_RESULTS


def test_never_more_books_than_the_category_has() -> None:
    books = _recommender(_catalog(per_category=2)).recommend(1, Category.MYSTERY, 10)
    assert sorted(_ids(books)) == [1001, 1002]


def test_an_empty_category_gives_no_books() -> None:
    catalog = InMemoryCatalog([Book(1, "Dune", "Frank Herbert", Category.SCIENCE_FICTION)])
    assert list(_recommender(catalog).recommend(1, Category.MYSTERY, 3)) == []


def test_never_a_duplicate() -> None:
    recommender = _recommender(_catalog(per_category=12))
    for user_id in range(300):
        ids = _ids(recommender.recommend(user_id, Category.SELF_HELP, MAX_RESULTS))
        assert len(set(ids)) == len(ids) == MAX_RESULTS


def test_same_user_category_and_day_give_the_same_books() -> None:
    morning = _recommender(now=20_000 * DAY + 60)
    evening = _recommender(now=20_000 * DAY + DAY - 1)  # a new instance: no state is shared
    assert _ids(morning.recommend(42, Category.MYSTERY, 3)) == _ids(
        evening.recommend(42, Category.MYSTERY, 3)
    )


_PICK_SCRIPT = """
from recommendations.catalog import InMemoryCatalog
from recommendations.domain import Book, Category
from recommendations.recommender import Recommender
books = [Book(n, f"t{n}", "A", Category.SCIENCE_FICTION) for n in range(1, 41)]
recommender = Recommender(InMemoryCatalog(books), clock=lambda: 1.7e9)
picks = recommender.recommend(7, Category.SCIENCE_FICTION, 5)
print([b.id for b in picks])
"""


def test_the_pick_is_the_same_in_every_process() -> None:
    # Processes with different hash seeds (what would make hash() or a per-process seed differ).
    outputs = {
        subprocess.run(
            [sys.executable, "-c", _PICK_SCRIPT],
            env={**os.environ, "PYTHONHASHSEED": seed},
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        for seed in ("1", "2", "random")
    }
    assert len(outputs) == 1
    assert len(set(ast.literal_eval(outputs.pop()))) == 5


def test_different_users_get_different_books() -> None:
    recommender = _recommender()
    picks = {tuple(_ids(recommender.recommend(u, Category.MYSTERY, 3))) for u in range(50)}
    assert len(picks) >= 45


def test_the_pick_changes_from_one_day_to_the_next() -> None:
    days = {
        tuple(_ids(_recommender(now=d * DAY).recommend(5, Category.MYSTERY, 3)))
        for d in range(20_000, 20_010)
    }
    assert len(days) >= 8


def test_one_recommender_follows_its_clock_across_days() -> None:
    now = [20_000 * DAY]
    recommender = Recommender(_catalog(), clock=lambda: now[0])
    picks = []
    for day in (20_000, 20_001, 20_002, 20_000):
        now[0] = day * DAY + 3_600
        picks.append(_ids(recommender.recommend(5, Category.MYSTERY, 3)))
    assert picks[0] == picks[3] == _ids(_recommender(now=now[0]).recommend(5, Category.MYSTERY, 3))
    assert len({tuple(p) for p in picks[:3]}) == 3


def test_every_book_gets_recommended_to_someone() -> None:
    recommender = _recommender()
    seen = {b.id for u in range(500) for b in recommender.recommend(u, Category.MYSTERY, 3)}
    assert seen == {1000 + n for n in range(1, 21)}


@pytest.mark.parametrize(
    ("user_id", "max_results", "field"),
    [(-1, 3, "user_id"), (1, -1, "max_results"), (-5, -5, "user_id")],
)
def test_negative_values_are_refused_naming_the_field(
    user_id: int, max_results: int, field: str
) -> None:
    with pytest.raises(InvalidRequestError, match=rf"^{field} must be zero or positive") as error:
        _recommender().recommend(user_id, Category.MYSTERY, max_results)
    assert error.value.field == field


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
