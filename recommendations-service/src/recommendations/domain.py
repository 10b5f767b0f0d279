"""The service's vocabulary: books, their categories, and the error for a bad request."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence


class Category(enum.Enum):
    """The kind of book a reader asks for; the value is the slug used in the catalog file."""

    MYSTERY = "mystery"
    SCIENCE_FICTION = "science-fiction"
    SELF_HELP = "self-help"

    # Members are singletons compared by identity, so their identity is also a correct hash, and
    # C's: Enum's own hashes the name in Python, and a v2 call looks its category up in a dict
    # seven times (the shelves, the order's key, the token's salt, each book's enum value).
    __hash__ = object.__hash__


@dataclass(frozen=True, slots=True)
class Book:
    """A book of the catalog: `id` is positive and stable across catalog releases."""

    id: int
    title: str
    author: str
    category: Category


@dataclass(frozen=True, slots=True)
class Violation:
    """What is wrong with one field of a request: `field` is its name, `description` says why."""

    field: str
    description: str


class InvalidRequestError(ValueError):
    """A request the service refuses, with every offending field (one violation each)."""

    def __init__(self, violations: Sequence[Violation]) -> None:
        super().__init__("; ".join(f"{v.field} {v.description}" for v in violations))
        self.violations = tuple(violations)
