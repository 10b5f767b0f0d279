"""The kinds of book the shop has a page for; plain domain values, no gRPC."""

from __future__ import annotations

import enum


class Category(enum.Enum):
    """A category of books; its value is the slug used in the page's URL."""

    MYSTERY = "mystery"
    SCIENCE_FICTION = "science-fiction"
    SELF_HELP = "self-help"

    @property
    def slug(self) -> str:
        """The URL slug, e.g. `science-fiction`."""
        return self.value

    @property
    def label(self) -> str:
        """The category's name as shown to readers."""
        return _LABELS[self]

    @property
    def blurb(self) -> str:
        """One sentence that tells a reader what the category holds."""
        return _BLURBS[self]

    @classmethod
    def from_slug(cls, slug: str) -> Category | None:
        """The category whose slug is `slug`, or None for an unknown slug."""
        try:
            return cls(slug)
        except ValueError:
            return None


_LABELS = {
    Category.MYSTERY: "Mystery",
    Category.SCIENCE_FICTION: "Science fiction",
    Category.SELF_HELP: "Self-help",
}
_BLURBS = {
    Category.MYSTERY: "Detectives, locked rooms and secrets that refuse to stay buried.",
    Category.SCIENCE_FICTION: "Other worlds, distant futures and the ideas that shape them.",
    Category.SELF_HELP: "Practical books for better habits, clearer thinking and calmer days.",
}
