"""The Jinja2 environment of the storefront's templates (`templates/storefront/`).

Jinja2 through Django's own backend (`django.template.backends.jinja2`) rather than the Django
template language: it compiles a template to Python once, and the homepage then renders in about
a tenth of the CPU time (the bulk of the page's cost under DTL; see docs/performance.md).
Templates get the few helpers DTL's tags gave them: `url()`, `static()` and `cover_tone`.
"""

from __future__ import annotations

import functools
from typing import Any

from django.conf import settings
from django.templatetags.static import static
from django.urls import get_script_prefix, get_urlconf, reverse
from jinja2 import Environment

COVER_TONES = 6


def cover_tone(book_id: int) -> int:
    """Which of the drawn cover colours a book gets: stable per book, varied along a shelf."""
    return book_id % COVER_TONES


def url(name: str, *args: str | int) -> str:
    """The path of the view called `name` (namespaced, e.g. `storefront:category`)."""
    return _reverse(get_urlconf() or settings.ROOT_URLCONF, get_script_prefix(), name, args)


# A page links to the same few URLs on every request, and a reversal costs more than the rest of
# the page's navigation; memoised on everything the result depends on (the URLconf, the script
# prefix, the arguments), so it stays exact.
@functools.lru_cache(maxsize=256)
def _reverse(urlconf: str, prefix: str, name: str, args: tuple[str | int, ...]) -> str:
    return reverse(name, urlconf=urlconf, args=args)


def environment(**options: Any) -> Environment:  # noqa: ANN401  (Environment's own keywords)
    """The environment Django's Jinja2 backend renders the storefront's templates with."""
    env = Environment(**options)  # noqa: S701  (the backend passes autoescape=True)
    env.globals.update(static=static, url=url)
    env.filters["cover_tone"] = cover_tone
    return env
