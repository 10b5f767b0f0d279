"""The Content-Security-Policy header, built once from the SECURE_CSP setting.

Django 5.2 has no CSP support of its own (Django 6 adds it). The policy here is one constant
header, so a dozen lines of middleware do the job; django-csp would add nonces and per-view
policies this site does not need, under its own settings format. SECURE_CSP uses the shape of
Django 6's setting, so switching to the built-in middleware later changes no policy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.http import HttpRequest, HttpResponse


def policy_header(directives: dict[str, list[str]]) -> str:
    """The header value for a mapping of directive names to their sources.

    >>> policy_header({"default-src": ["'self'"], "object-src": ["'none'"]})
    "default-src 'self'; object-src 'none'"
    """
    return "; ".join(" ".join([name, *sources]) for name, sources in directives.items())


class ContentSecurityPolicyMiddleware:
    """Adds the site's Content-Security-Policy to every response that has none yet."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.header = policy_header(settings.SECURE_CSP)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.header)
        return response
