"""The storefront's pages. Thin: they ask the recommendations client and render a template."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from django.http import Http404
from django.shortcuts import redirect, render
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from storefront import recommendations
from storefront.categories import Category
from storefront.personalisation import reader_id

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

HOME_CATEGORY = Category.MYSTERY
HOME_BOOKS = 3
CATEGORY_BOOKS = 10
MORE_BOOKS = 4
"""How many other books of its category a book's page shows."""
PAGE_PARAMETER = "page"
"""The query parameter holding the service's token for the next page of a category."""


# Pages only show things: any method but GET and HEAD is a 405 with `Allow: GET, HEAD`, before
# the service is called. CSRF checks are for views that change something, and these accept no
# such request; exempting them lets a POST get that same 405 rather than a CSRF failure page.
@csrf_exempt
@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """The homepage: a few mystery books for this reader and a way into every category."""
    picks = recommendations.recommend(
        reader_id=reader_id(request), category=HOME_CATEGORY, page_size=HOME_BOOKS
    )
    context = {"featured": HOME_CATEGORY, "recommendations": picks}
    return render(request, "storefront/home.html", context)


@csrf_exempt
@require_safe
def category(request: HttpRequest, slug: str) -> HttpResponse:
    """One page of up to ten of the category's books for this reader, and a link to the next
    page; 404 for an unknown slug. A page link the service no longer accepts (expired, or not
    this reader's) leads back to the category's first page."""
    chosen = Category.from_slug(slug)
    if chosen is None:
        raise Http404(f"There is no category called {slug!r}.")
    page_token = request.GET.get(PAGE_PARAMETER, "")
    picks = recommendations.recommend(
        reader_id=reader_id(request),
        category=chosen,
        page_size=CATEGORY_BOOKS,
        page_token=page_token,
    )
    if page_token and "page_token" in picks.invalid_fields:
        return redirect("storefront:category", slug=chosen.slug)
    context = {
        "category": chosen,
        "recommendations": picks,
        "first_page": not page_token,
        "page_parameter": PAGE_PARAMETER,
    }
    return render(request, "storefront/category.html", context)


@csrf_exempt
@require_safe
def book(request: HttpRequest, book_id: int) -> HttpResponse:
    """One book, with a few more of its category for this reader; 404 for an unknown id. When
    the service cannot say (down, or older than GetBook), the page says so instead."""
    lookup = recommendations.get_book(book_id=book_id)
    if lookup.available and lookup.book is None:
        raise Http404(f"There is no book with the id {book_id}.")
    more = None
    if lookup.book is not None and lookup.book.category is not None:
        picks = recommendations.recommend(
            reader_id=reader_id(request), category=lookup.book.category, page_size=MORE_BOOKS + 1
        )
        others = tuple(b for b in picks.books if b.id != book_id)[:MORE_BOOKS]
        more = dataclasses.replace(picks, books=others)
    context = {"book_id": book_id, "book": lookup.book, "more": more}
    return render(request, "storefront/book.html", context)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The 404 page, in the shop's layout."""
    return render(request, "storefront/404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """The 500 page: a static template, since whatever failed may fail again while rendering."""
    return defaults.server_error(request, template_name="storefront/500.html")
