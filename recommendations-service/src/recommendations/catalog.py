"""The catalog: books in SQLite under the catalog's rules, loaded into memory once at start-up.

`load_catalog(None)` serves the catalog packaged with the service (`data/books.csv`): the CSV is
written into an in-memory SQLite database, exactly as `build_catalog` writes a file, and read back
from it, so it meets the same rules and needs no file, cache or writable directory.
`load_catalog(path)` reads a file that `build_catalog` (`recommendations-server build-catalog`)
wrote. Either way the books end in an `InMemoryCatalog`, so no call ever queries the database.
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

    def get(self, book_id: int) -> Book | None:
        """Return the book whose id is `book_id`, or None if the catalog has none."""
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
        self._by_id = {book.id: book for books in self._by_category.values() for book in books}

    def books_in(self, category: Category) -> Sequence[Book]:
        """Return every book of `category`, ordered by id."""
        return self._by_category[category]

    def get(self, book_id: int) -> Book | None:
        """Return the book whose id is `book_id`, or None if the catalog has none."""
        return self._by_id.get(book_id)

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
        with closing(sqlite3.connect(tmp)) as db:
            _write(db, books)
        tmp.replace(output)
    finally:
        tmp.unlink(missing_ok=True)


def load_catalog(path: Path | None) -> InMemoryCatalog:
    """Read every book of the SQLite catalog at `path`, or of the packaged catalog when `path` is
    None, into memory.

    Raises `CatalogError` if the file is missing, unreadable, not a catalog, or has no books, or if
    a book breaks a catalog rule.
    """
    if path is None:
        source = default_csv()
        with closing(sqlite3.connect(":memory:")) as db:
            _write(db, read_csv(source))
            books = _read(db, source)
    else:
        if not path.is_file():
            raise CatalogError(
                f"catalog {path} does not exist: build it with "
                f"'recommendations-server build-catalog --output {path}', "
                "or unset RECOMMENDATIONS_CATALOG to serve the packaged catalog"
            )
        try:
            db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        except sqlite3.Error as error:
            raise CatalogError(f"catalog {path} cannot be opened: {error}") from None
        with closing(db):
            books = _read(db, path)
    return InMemoryCatalog(books)


def _write(db: sqlite3.Connection, books: Sequence[Book]) -> None:
    """Create the catalog's table in `db` and insert `books`, in one transaction."""
    try:
        with db:
            db.executescript(_SCHEMA)
            db.executemany(
                "INSERT INTO books (id, title, author, category) VALUES (?, ?, ?, ?)",
                [(b.id, b.title, b.author, b.category.value) for b in books],
            )
    except sqlite3.IntegrityError as error:
        raise CatalogError(f"the books break a catalog rule: {error}") from None


def _read(db: sqlite3.Connection, source: Path) -> list[Book]:
    """Every book in `db`; `source` names it in errors."""
    try:
        rows = db.execute("SELECT id, title, author, category FROM books").fetchall()
        books = [Book(id=i, title=t, author=a, category=Category(c)) for i, t, a, c in rows]
    except (sqlite3.Error, ValueError) as error:
        problem = f"catalog {source} is not a readable bookshop catalog: {error}"
        raise CatalogError(problem) from None
    if not books:
        raise CatalogError(f"catalog {source} has no books")
    return books
