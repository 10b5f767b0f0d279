"""Exceptions to status codes: an aborted call keeps its status, anything else is INTERNAL."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import grpc

from recommendations.interceptors.base import (
    MethodInterceptor,
    behavior_of,
    status_code,
    with_behavior,
)

if TYPE_CHECKING:
    from recommendations.interceptors.base import Handler

_log = logging.getLogger(__name__)

INTERNAL_DETAILS = "internal error"
"""The only details a client sees for an unexpected failure (the traceback goes to the log)."""


class ExceptionToStatusInterceptor(MethodInterceptor):
    """Turns unexpected exceptions raised by a unary-response method into INTERNAL.

    A call the servicer aborted (with `context.abort` or `abort_with_status`) keeps its status.
    Anything else is logged once with its traceback and becomes INTERNAL with a generic message,
    where grpcio would answer UNKNOWN with the exception's text, so no internal detail leaks to
    clients. Streaming responses (reflection, health Watch) pass through unchanged.
    """

    def wrap(self, method: str, handler: Handler) -> Handler:
        """Return `handler` with its exceptions turned into statuses."""
        if handler.response_streaming:
            return handler
        behavior = behavior_of(handler)

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

        return with_behavior(handler, handle)
