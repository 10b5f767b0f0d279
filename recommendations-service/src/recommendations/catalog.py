"""The catalog: books in SQLite under the catalog's rules, held in memory as compact columns.

`load_catalog(None)` serves the catalog packaged with the service (`data/books.csv`): the CSV is
written into an in-memory SQLite database, exactly as `build_catalog` writes a file, and read back
from it, so it meets the same rules and needs no file, cache or writable directory.
`load_catalog(path)` reads a file that `build_catalog` (`recommendations-server build-catalog`)
wrote. Either way the books end in an `InMemoryCatalog`, so no call ever queries the database.

An `InMemoryCatalog` keeps no object per book: each category is a shelf of columns (the ids in an
`array`, the titles and authors in one UTF-8 `bytes` with an `array` of where each starts), and
makes the `Book`s a call asks for. A million generated books load in one pass over the table in
about 1 s of CPU, into 80 MB; with a `Book` object per book the service took 690 MB and 14 s.
Reading the SQLite file in place would load nothing, but cost 8 us a book on every call against
1 us from the columns (docs/benchmarks-scale.md has the service's figures).
"""

from __future__ import annotations

import csv
import os
import sqlite3
import tempfile
from array import array
from bisect import bisect_left
from contextlib import closing
from dataclasses import dataclass, field
from importlib import resources
from operator import attrgetter
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
    """Where the recommender and the servicer find books.

    Each category's books have positions 0 to `count(category) - 1`, in order of id.
    """

    def count(self, category: Category) -> int:
        """How many books `category` has."""
        ...

    def book_at(self, category: Category, position: int) -> Book:
        """The book at `position` (0 <= position < count) of `category`, in order of id."""
        ...

    def books_at(self, category: Category, positions: Iterable[int]) -> list[Book]:
        """The books at `positions` of `category`, in that order (`book_at` of each)."""
        ...

    def get(self, book_id: int) -> Book | None:
        """The book with id `book_id`, or None if the catalog has none."""
        ...

    def __len__(self) -> int: ...


_KEPT_BOOKS = 4_096
"""The most `Book` objects a shelf keeps once made (a catalog of 196 books keeps them all)."""


@dataclass(slots=True)
class _Shelf:
    """One category's books by position (id order): ids, and titles and authors in one text.

    Book `p`'s title is `text[starts[2p]:starts[2p + 1]]` and its author runs from there to
    `starts[2p + 2]`, both UTF-8. `kept` holds the first `_KEPT_BOOKS` books made, by position:
    making a `Book` costs about 1 us, finding a kept one 0.1 us.
    """

    ids: array[int] = field(default_factory=lambda: array("q"))
    text: bytes = b""
    starts: array[int] = field(default_factory=lambda: array("q", [0]))
    kept: dict[int, Book] = field(default_factory=dict)

    def book(self, category: Category, position: int) -> Book:
        """The book at `position`, made from the columns; IndexError outside 0 to count - 1."""
        if position < 0:
            raise IndexError(f"position {position} is negative")
        starts, text, i = self.starts, self.text, 2 * position
        return Book(
            self.ids[position],
            text[starts[i] : starts[i + 1]].decode(),
            text[starts[i + 1] : starts[i + 2]].decode(),
            category,
        )


class InMemoryCatalog:
    """The books of each category as a `_Shelf`: a lookup by position costs the same at any size.

    >>> catalog = InMemoryCatalog([Book(7, "Dune", "Frank Herbert", Category.SCIENCE_FICTION)])
    >>> catalog.book_at(Category.SCIENCE_FICTION, 0) == catalog.get(7)
    True
    """

    def __init__(self, books: Iterable[Book]) -> None:
        self._shelves = _shelve(
            (b.id, b.title.encode(), b.author.encode(), b.category.value)
            for b in sorted(books, key=attrgetter("id"))
        )

    @classmethod
    def _of_shelves(cls, shelves: dict[Category, _Shelf]) -> InMemoryCatalog:
        catalog = cls.__new__(cls)
        catalog._shelves = shelves
        return catalog

    def count(self, category: Category) -> int:
        """How many books `category` has."""
        return len(self._shelves[category].ids)

    def book_at(self, category: Category, position: int) -> Book:
        """The book at `position` of `category` (by id); IndexError outside 0 to count - 1."""
        return self._shelves[category].book(category, position)

    def books_at(self, category: Category, positions: Iterable[int]) -> list[Book]:
        """The books at `positions` of `category`, kept ones found, others made (and kept while
        the shelf keeps fewer than `_KEPT_BOOKS`): one call per request, not one per book."""
        shelf = self._shelves[category]
        kept = shelf.kept
        books = []
        for position in positions:
            book = kept.get(position)
            if book is None:
                book = shelf.book(category, position)
                if len(kept) < _KEPT_BOOKS:
                    kept[position] = book
            books.append(book)
        return books

    def get(self, book_id: int) -> Book | None:
        """The book with id `book_id` (a binary search of each category's ids), or None."""
        for category, shelf in self._shelves.items():
            position = bisect_left(shelf.ids, book_id)
            if position < len(shelf.ids) and shelf.ids[position] == book_id:
                return shelf.book(category, position)
        return None

    def __len__(self) -> int:
        return sum(len(shelf.ids) for shelf in self._shelves.values())


def _shelve(rows: Iterable[tuple[int, bytes, bytes, str]]) -> dict[Category, _Shelf]:
    """The shelves of `rows` (id, UTF-8 title, UTF-8 author, category slug), in order of id.

    Raises KeyError for a slug that is no category's.
    """
    shelves = {category.value: _Shelf() for category in Category}
    texts = {slug: bytearray() for slug in shelves}
    for book_id, title, author, slug in rows:
        shelf, text = shelves[slug], texts[slug]
        shelf.ids.append(book_id)
        text += title
        shelf.starts.append(len(text))
        text += author
        shelf.starts.append(len(text))
    for slug, shelf in shelves.items():
        shelf.text = bytes(texts.pop(slug))
    return {Category(slug): shelf for slug, shelf in shelves.items()}


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
            return _read(db, source)
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
        return _read(db, path)


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


def _read(db: sqlite3.Connection, source: Path) -> InMemoryCatalog:
    """Every book in `db`, in one pass in order of id (the table's own order); `source` names it
    in errors. SQLite hands over the texts as UTF-8 bytes (CAST AS BLOB), which spares making a
    `str` of each only to encode it again."""
    try:
        rows = db.execute(
            "SELECT id, CAST(title AS BLOB), CAST(author AS BLOB), category FROM books ORDER BY id"
        )
        shelves = _shelve(rows)
    except (sqlite3.Error, KeyError) as error:
        problem = f"catalog {source} is not a readable bookshop catalog: {error}"
        raise CatalogError(problem) from None
    catalog = InMemoryCatalog._of_shelves(shelves)
    if not len(catalog):
        raise CatalogError(f"catalog {source} has no books")
    return catalog
