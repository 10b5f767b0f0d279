from __future__ import annotations

import csv
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from recommendations.catalog import (
    _KEPT_BOOKS,
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


@pytest.mark.parametrize("built", [True, False], ids=["built", "packaged"])
def test_a_catalog_has_every_committed_book_by_id_and_by_position_in_order_of_id(
    tmp_path: Path, built: bool
) -> None:
    books = read_csv(default_csv())
    path = tmp_path / "sub" / "catalog.sqlite3" if built else None
    if path is not None:
        build_catalog(books, path)  # making the folder
    catalog = load_catalog(path)
    assert len(catalog) == len(books)
    assert all(catalog.get(book.id) == book for book in books)
    for category in Category:
        mine = sorted((b for b in books if b.category is category), key=lambda b: b.id)
        assert catalog.count(category) == len(mine)
        positions = range(len(mine))
        assert catalog.books_at(category, positions) == mine
        assert [catalog.book_at(category, p) for p in positions] == mine


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("missing", "does not exist: build it with 'recommendations-server"),
        ("empty", "has no books"),
        ("junk", "is not a readable bookshop catalog"),
        ("another-database", "is not a readable bookshop catalog"),
        ("unknown-category", "is not a readable bookshop catalog: 'romance'"),
    ],
)
def test_an_unusable_catalog_is_refused_saying_why(tmp_path: Path, kind: str, message: str) -> None:
    path = tmp_path / "catalog.sqlite3"
    if kind == "empty":
        build_catalog([], path)
    elif kind == "junk":
        path.write_text("not a database at all, " * 100)
    elif kind != "missing":
        with sqlite3.connect(path) as db:
            if kind == "another-database":
                db.execute("CREATE TABLE t (x)")
            else:
                db.execute("CREATE TABLE books (id INTEGER PRIMARY KEY, title, author, category)")
                db.execute("INSERT INTO books VALUES (1, 'Dune', 'Frank Herbert', 'romance')")
        db.close()
    with pytest.raises(CatalogError, match=message):
        load_catalog(path)


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


def test_books_have_positions_in_order_of_id_and_are_found_by_id() -> None:
    books = [
        Book(9, "Été", "Zoë", Category.MYSTERY),
        Book(3, "A", "B", Category.MYSTERY),
        Book(5, "C", "D", Category.SELF_HELP),
    ]
    catalog = InMemoryCatalog(books)
    assert len(catalog) == 3
    assert [catalog.count(c) for c in Category] == [2, 0, 1]
    assert [catalog.book_at(Category.MYSTERY, p) for p in (0, 1)] == [books[1], books[0]]
    assert catalog.book_at(Category.SELF_HELP, 0) == books[2]
    assert [catalog.get(book.id) for book in books] == books
    assert [catalog.get(i) for i in (0, 1, 4, 6, 10, -3)] == [None] * 6
    assert catalog.books_at(Category.MYSTERY, [1, 0, 1]) == [books[0], books[1], books[0]]
    for position in (-1, 2):  # outside the category
        with pytest.raises(IndexError):
            catalog.book_at(Category.MYSTERY, position)


def test_a_shelf_keeps_at_most_so_many_books_it_made() -> None:
    books = [Book(n, f"T{n}", "A", Category.MYSTERY) for n in range(1, _KEPT_BOOKS + 100)]
    catalog = InMemoryCatalog(books)
    assert catalog.books_at(Category.MYSTERY, range(len(books))) == books
    again = catalog.books_at(Category.MYSTERY, [0, len(books) - 1])
    assert again[0] is catalog.books_at(Category.MYSTERY, [0])[0]
    assert again[1] is not catalog.books_at(Category.MYSTERY, [len(books) - 1])[0]
    assert again[1] == books[-1]
