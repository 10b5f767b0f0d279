"""Template context every page needs: the categories for the navigation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from storefront.categories import Category

if TYPE_CHECKING:
    from django.http import HttpRequest


def navigation(request: HttpRequest) -> dict[str, object]:
    """The categories, in navigation order."""
    return {"categories": list(Category)}
