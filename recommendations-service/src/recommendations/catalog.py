"""The catalog: a SQLite file of books, loaded into memory once at start-up.

`build_catalog` turns the committed CSV (`data/books.csv`) into the SQLite file; `load_catalog`
reads that file into an `InMemoryCatalog`, so no call ever queries the database.
"""

from __future__ import annotations

import csv
import os
import sqlite3
import tempfile
from collections import defaultdict
from contextlib import closing
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from recommendations.domain import Book, Category

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

_COLUMNS = ("id", "title", "author", "category")
_SCHEMA = f"""
CREATE TABLE books (
    id INTEGER PRIMARY KEY CHECK (id > 0),
    title TEXT NOT NULL CHECK (title <> ''),
    author TEXT NOT NULL CHECK (author <> ''),
    category TEXT NOT NULL CHECK (category IN ({", ".join(f"'{c.value}'" for c in Category)})),
    UNIQUE (title, author)
);
"""


class CatalogError(Exception):
    """The catalog file or CSV cannot be used; the message is one line for the operator."""


class Catalog(Protocol):
    """Where the recommender finds books."""

    def books_in(self, category: Category) -> Sequence[Book]:
        """Return every book of `category`, in a stable order (by id)."""
        ...


class InMemoryCatalog:
    """Books grouped by category in tuples: the lookup on the request path is one dict access."""

    def __init__(self, books: Iterable[Book]) -> None:
        grouped: dict[Category, list[Book]] = defaultdict(list)
        for book in books:
            grouped[book.category].append(book)
        self._by_category = {
            category: tuple(sorted(grouped[category], key=lambda b: b.id)) for category in Category
        }

    def books_in(self, category: Category) -> Sequence[Book]:
        """Return every book of `category`, ordered by id."""
        return self._by_category[category]

    def __len__(self) -> int:
        return sum(len(books) for books in self._by_category.values())


def default_csv() -> Path:
    """Return the path of the committed catalog data shipped with the package."""
    return Path(str(resources.files("recommendations") / "data" / "books.csv"))


def read_csv(path: Path) -> list[Book]:
    """Read and validate a catalog CSV with the columns id,title,author,category."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if tuple(reader.fieldnames or ()) != _COLUMNS:
                raise CatalogError(f"{path}: the header must be {','.join(_COLUMNS)}")
            return [_book_from_row(path, reader.line_num, row) for row in reader]
    except OSError as error:
        raise CatalogError(f"cannot read {path}: {error.strerror}") from None


def _book_from_row(path: Path, line: int, row: dict[str, str]) -> Book:
    try:
        book_id = int(row["id"])
        category = Category(row["category"])
    except ValueError:
        raise CatalogError(
            f"{path}:{line}: id must be an integer and category one of "
            f"{', '.join(c.value for c in Category)}"
        ) from None
    return Book(
        id=book_id, title=row["title"].strip(), author=row["author"].strip(), category=category
    )


def build_catalog(books: Sequence[Book], output: Path) -> None:
    """Write `books` into a new SQLite file at `output`, replacing it atomically."""
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with closing(sqlite3.connect(tmp)) as db, db:
            db.executescript(_SCHEMA)
            db.executemany(
                "INSERT INTO books (id, title, author, category) VALUES (?, ?, ?, ?)",
                [(b.id, b.title, b.author, b.category.value) for b in books],
            )
        tmp.replace(output)
    except sqlite3.IntegrityError as error:
        raise CatalogError(f"the books break a catalog rule: {error}") from None
    finally:
        tmp.unlink(missing_ok=True)


def load_catalog(path: Path) -> InMemoryCatalog:
    """Read every book of the SQLite catalog at `path` into memory.

    Raises `CatalogError` if the file is missing, unreadable, not a catalog, or has no books.
    """
    if not path.is_file():
        raise CatalogError(
            f"catalog {path} does not exist: build it with "
            f"'recommendations-server build-catalog --output {path}'"
        )
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
            rows = db.execute("SELECT id, title, author, category FROM books").fetchall()
        books = [Book(id=i, title=t, author=a, category=Category(c)) for i, t, a, c in rows]
    except (sqlite3.Error, ValueError) as error:
        raise CatalogError(f"catalog {path} is not a readable bookshop catalog: {error}") from None
    if not books:
        raise CatalogError(f"catalog {path} has no books")
    return InMemoryCatalog(books)
