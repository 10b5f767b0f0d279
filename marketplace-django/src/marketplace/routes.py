"""The route of a request: the URL pattern that matched it, as logs and traces name it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.http import HttpRequest


def route_of(request: HttpRequest) -> str | None:
    """The matched URL pattern with a leading slash (`/`, `/category/<slug:slug>/`), or None
    when no pattern matched (a 404, or a file served before URL resolution).

    A pattern, not the path: one value per page whatever its arguments, as `http.route` in
    OpenTelemetry's semantic conventions, so that logs and dashboards can group by it.
    """
    match = request.resolver_match
    if match is None:
        return None
    return "/" + match.route
