"""The storefront's pages. Thin: they ask the recommendations client and render a template."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import Http404
from django.shortcuts import render
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


# Pages only show things: any method but GET and HEAD is a 405 with `Allow: GET, HEAD`, before
# the service is called. CSRF checks are for views that change something, and these accept no
# such request; exempting them lets a POST get that same 405 rather than a CSRF failure page.
@csrf_exempt
@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """The homepage: a few mystery books for this reader and a way into every category."""
    picks = recommendations.recommend(
        user_id=reader_id(request), category=HOME_CATEGORY, max_results=HOME_BOOKS
    )
    context = {"featured": HOME_CATEGORY, "recommendations": picks}
    return render(request, "storefront/home.html", context)


@csrf_exempt
@require_safe
def category(request: HttpRequest, slug: str) -> HttpResponse:
    """One category's page with up to ten books for this reader; 404 for an unknown slug."""
    chosen = Category.from_slug(slug)
    if chosen is None:
        raise Http404(f"There is no category called {slug!r}.")
    picks = recommendations.recommend(
        user_id=reader_id(request), category=chosen, max_results=CATEGORY_BOOKS
    )
    context = {"category": chosen, "recommendations": picks}
    return render(request, "storefront/category.html", context)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The 404 page, in the shop's layout."""
    return render(request, "storefront/404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """The 500 page: a static template, since whatever failed may fail again while rendering."""
    return defaults.server_error(request, template_name="storefront/500.html")
