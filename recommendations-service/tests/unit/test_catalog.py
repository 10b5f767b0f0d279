from __future__ import annotations

import csv
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from recommendations.catalog import (
    CatalogError,
    InMemoryCatalog,
    build_catalog,
    default_csv,
    load_catalog,
    read_csv,
)
from recommendations.domain import Book, Category


def test_the_committed_catalog_has_enough_distinct_books() -> None:
    books = read_csv(default_csv())
    per_category = Counter(book.category for book in books)
    assert len(books) >= 150
    assert all(per_category[category] >= 50 for category in Category)
    assert len({book.id for book in books}) == len(books)
    assert len({book.title.casefold() for book in books}) == len(books)
    assert all(book.id > 0 and book.title and book.author for book in books)


def test_build_then_load_round_trips(tmp_path: Path) -> None:
    books = read_csv(default_csv())
    build_catalog(books, tmp_path / "sub" / "catalog.sqlite3")
    catalog = load_catalog(tmp_path / "sub" / "catalog.sqlite3")
    assert len(catalog) == len(books)
    for category in Category:
        ids = [book.id for book in catalog.books_in(category)]
        assert ids == sorted(b.id for b in books if b.category is category)


def test_the_packaged_catalog_is_the_committed_csv() -> None:
    books = read_csv(default_csv())
    catalog = load_catalog(None)
    for category in Category:
        assert list(catalog.books_in(category)) == sorted(
            (b for b in books if b.category is category), key=lambda b: b.id
        )


def test_a_missing_catalog_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="does not exist: build it with 'recommendations-server"):
        load_catalog(tmp_path / "nope.sqlite3")


def test_an_empty_catalog_is_refused(tmp_path: Path) -> None:
    build_catalog([], tmp_path / "empty.sqlite3")
    with pytest.raises(CatalogError, match="has no books"):
        load_catalog(tmp_path / "empty.sqlite3")


def test_a_file_that_is_not_a_catalog_is_refused(tmp_path: Path) -> None:
    (tmp_path / "junk.sqlite3").write_text("not a database at all, " * 100)
    with pytest.raises(CatalogError, match="is not a readable bookshop catalog"):
        load_catalog(tmp_path / "junk.sqlite3")
    sqlite3.connect(tmp_path / "other.sqlite3").execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(CatalogError, match="is not a readable bookshop catalog"):
        load_catalog(tmp_path / "other.sqlite3")


def test_duplicate_books_break_the_build(tmp_path: Path) -> None:
    dune = Book(1, "Dune", "Frank Herbert", Category.SCIENCE_FICTION)
    with pytest.raises(CatalogError, match="catalog rule"):
        build_catalog(
            [dune, Book(2, "Dune", "Frank Herbert", Category.SCIENCE_FICTION)], tmp_path / "c"
        )
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([["id", "name"]], "the header must be id,title,author,category"),
        ([["id", "title", "author", "category"], ["x", "Dune", "F", "mystery"]], ":2: id must"),
        ([["id", "title", "author", "category"], ["1", "Dune", "F", "romance"]], "category one of"),
    ],
)
def test_a_bad_csv_is_refused(tmp_path: Path, rows: list[list[str]], message: str) -> None:
    path = tmp_path / "books.csv"
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    with pytest.raises(CatalogError, match=message):
        read_csv(path)


def test_in_memory_catalog_orders_by_id() -> None:
    catalog = InMemoryCatalog(
        [Book(9, "B", "A", Category.MYSTERY), Book(3, "A", "A", Category.MYSTERY)]
    )
    assert [b.id for b in catalog.books_in(Category.MYSTERY)] == [3, 9]
    assert catalog.books_in(Category.SELF_HELP) == ()


def test_in_memory_catalog_gets_a_book_by_id() -> None:
    books = [Book(9, "B", "A", Category.MYSTERY), Book(3, "A", "A", Category.SELF_HELP)]
    catalog = InMemoryCatalog(books)
    assert [catalog.get(9), catalog.get(3)] == books
    assert catalog.get(4) is None
