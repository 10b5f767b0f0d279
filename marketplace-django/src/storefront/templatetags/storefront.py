"""Presentation helpers for the storefront's templates."""

from __future__ import annotations

from django import template

register = template.Library()

COVER_TONES = 6


@register.filter
def cover_tone(book_id: int) -> int:
    """Which of the drawn cover colours a book gets: stable per book, varied along a shelf."""
    return book_id % COVER_TONES
