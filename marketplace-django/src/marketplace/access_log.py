"""The access log: one JSON line per request, with its method, route, status and duration."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from marketplace.routes import route_of

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.http import HttpRequest, HttpResponse

logger = logging.getLogger("marketplace.access")


class AccessLogMiddleware:
    """Logs every request at INFO on `marketplace.access`: `method`, `route` (None when no URL
    pattern matched), `path`, `status` and `duration_ms`.

    It is the first middleware, so it sees every request (static files and redirects too) and
    the status the client got; the page's span, when tracing is on, encloses it, so the line
    carries the trace's ids. With the level above INFO it costs a level check per request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not logger.isEnabledFor(logging.INFO):
            return self.get_response(request)
        started = time.perf_counter()
        response = self.get_response(request)
        duration_ms = round((time.perf_counter() - started) * 1000, 3)
        route = route_of(request)
        logger.info(
            "%s %s %d",
            request.method,
            request.path,
            response.status_code,
            extra={
                "fields": {
                    "method": request.method,
                    "route": route,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": duration_ms,
                }
            },
        )
        return response
