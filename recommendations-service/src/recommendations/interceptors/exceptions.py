"""Exceptions to status codes: an aborted call keeps its status, anything else is INTERNAL."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import grpc

from recommendations.interceptors.base import UnaryInterceptor, status_code

if TYPE_CHECKING:
    from recommendations.interceptors.base import UnaryBehavior

_log = logging.getLogger(__name__)

INTERNAL_DETAILS = "internal error"
"""The only details a client sees for an unexpected failure (the traceback goes to the log)."""


class ExceptionToStatusInterceptor(UnaryInterceptor):
    """Turns unexpected exceptions raised by a servicer into INTERNAL.

    A call the servicer aborted (with `context.abort` or `abort_with_status`) keeps its status.
    Anything else is logged once with its traceback and becomes INTERNAL with a generic message,
    so no internal detail leaks to clients.
    """

    def wrap(self, method: str, behavior: UnaryBehavior) -> UnaryBehavior:
        """Return `behavior` with its exceptions turned into statuses."""

        def handle(request: object, context: grpc.ServicerContext) -> object:
            try:
                return behavior(request, context)
            except Exception:
                if status_code(context) is not None:  # already aborted with a chosen status
                    raise
                _log.exception(
                    "unexpected error in %s", method, extra={"fields": {"grpc_method": method}}
                )
                context.abort(grpc.StatusCode.INTERNAL, INTERNAL_DETAILS)

        return handle
