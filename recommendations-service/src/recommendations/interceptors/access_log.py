"""Structured access logs: one line per failed call, and one per call at DEBUG."""

from __future__ import annotations

import logging
from time import perf_counter
from typing import TYPE_CHECKING

import grpc

from recommendations.interceptors.base import (
    MethodInterceptor,
    behavior_of,
    final_code,
    split_method,
    with_behavior,
)

if TYPE_CHECKING:
    from recommendations.interceptors.base import Handler

_log = logging.getLogger("recommendations.access")


class AccessLogInterceptor(MethodInterceptor):
    """Logs unary-response calls as JSON fields `grpc_service`, `grpc_method`, `grpc_code` and
    `latency_ms`.

    Failed calls (those that end in an exception, as every error of this service does, aborts
    included) are logged at WARNING. Whether successful calls are logged (at DEBUG) is decided
    once per method when its handler is wrapped, so with DEBUG off a successful call pays for
    one clock read and nothing else. Streaming responses pass through unchanged.
    """

    def __init__(self, logger: logging.Logger = _log) -> None:
        super().__init__()
        self._logger = logger

    def wrap(self, method: str, handler: Handler) -> Handler:
        """Return `handler` with its failures (and, at DEBUG, every call) logged."""
        if handler.response_streaming:
            return handler
        logger = self._logger
        behavior = behavior_of(handler)
        service, name = split_method(method)

        def log(context: grpc.ServicerContext, start: float, *, failed: bool) -> None:
            code = final_code(context, failed=failed)
            fields = {
                "grpc_service": service,
                "grpc_method": name,
                "grpc_code": code.name,
                "latency_ms": round((perf_counter() - start) * 1000, 3),
            }
            level = logging.DEBUG if code is grpc.StatusCode.OK else logging.WARNING
            logger.log(level, "%s %s", method, code.name, extra={"fields": fields})

        def failures_logged(request: object, context: grpc.ServicerContext) -> object:
            start = perf_counter()
            try:
                return behavior(request, context)
            except BaseException:
                log(context, start, failed=True)
                raise

        def all_logged(request: object, context: grpc.ServicerContext) -> object:
            start = perf_counter()
            try:
                response = behavior(request, context)
            except BaseException:
                log(context, start, failed=True)
                raise
            log(context, start, failed=False)
            return response

        debug = logger.isEnabledFor(logging.DEBUG)
        return with_behavior(handler, all_logged if debug else failures_logged)
