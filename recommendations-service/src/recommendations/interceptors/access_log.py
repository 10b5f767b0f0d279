"""Structured access logs: one line per failed call, and one per call at DEBUG."""

from __future__ import annotations

import logging
from time import perf_counter
from typing import TYPE_CHECKING

import grpc

from recommendations.interceptors.base import (
    UnaryInterceptor,
    split_method,
    status_code,
    status_name,
)

if TYPE_CHECKING:
    from recommendations.interceptors.base import UnaryBehavior

_log = logging.getLogger("recommendations.access")


class AccessLogInterceptor(UnaryInterceptor):
    """Logs calls as JSON fields `grpc_service`, `grpc_method`, `grpc_code` and `latency_ms`.

    Failed calls (those that end in an exception, as every error of this service does, aborts
    included) are logged at WARNING. Whether successful calls are logged
    (at DEBUG) is decided once per method when its wrapper is built, so with DEBUG off a
    successful call pays for one clock read and nothing else.
    """

    def __init__(self, logger: logging.Logger = _log) -> None:
        self._logger = logger

    def wrap(self, method: str, behavior: UnaryBehavior) -> UnaryBehavior:
        """Return `behavior` with its failures (and, at DEBUG, every call) logged."""
        logger = self._logger
        service, name = split_method(method)

        def log(level: int, context: grpc.ServicerContext, start: float, *, failed: bool) -> None:
            code = status_name(context, failed=failed)
            latency_ms = round((perf_counter() - start) * 1000, 3)
            fields = {
                "grpc_service": service,
                "grpc_method": name,
                "grpc_code": code,
                "latency_ms": latency_ms,
            }
            logger.log(level, "%s %s", method, code, extra={"fields": fields})

        def failures_logged(request: object, context: grpc.ServicerContext) -> object:
            start = perf_counter()
            try:
                return behavior(request, context)
            except BaseException:
                log(logging.WARNING, context, start, failed=True)
                raise

        def all_logged(request: object, context: grpc.ServicerContext) -> object:
            start = perf_counter()
            try:
                response = behavior(request, context)
            except BaseException:
                log(logging.WARNING, context, start, failed=True)
                raise
            failed = status_code(context) not in (None, grpc.StatusCode.OK)
            log(logging.WARNING if failed else logging.DEBUG, context, start, failed=failed)
            return response

        return all_logged if logger.isEnabledFor(logging.DEBUG) else failures_logged
