"""The service's vocabulary: books, their categories, and the error for a bad request."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Category(enum.Enum):
    """The kind of book a reader asks for; the value is the slug used in the catalog file."""

    MYSTERY = "mystery"
    SCIENCE_FICTION = "science-fiction"
    SELF_HELP = "self-help"


@dataclass(frozen=True, slots=True)
class Book:
    """A book of the catalog: `id` is positive and stable across catalog releases."""

    id: int
    title: str
    author: str
    category: Category


class InvalidRequestError(ValueError):
    """A request the service refuses; `field` names the offending request field."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}")
        self.field = field
