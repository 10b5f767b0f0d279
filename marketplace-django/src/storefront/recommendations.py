"""The website's client of the recommendations service: the only module that imports its stubs.

Views call `recommend()` and get plain frozen dataclasses back, never protobuf objects. A failed
call of any kind becomes an empty, unavailable `Recommendations` (logged as a warning and counted
in `marketplace_recommendations_calls_total{grpc_code}`), so a page degrades instead of failing.

One channel per process, opened on first use and never at import: a gRPC channel must not cross
a fork (a server that loads the site once and forks its workers would share it). The channel
remembers the pid that opened it; a process that finds a channel of another pid opens its own.

Resilience comes from gRPC itself, configured here once: a deadline on every call, retries of
UNAVAILABLE through the service config's retry policy, round_robin over every address the target
resolves to, and a short reconnect backoff so that a restarted replica is used again quickly.
Calls do not wait for the service to be ready: when it is down they fail at once.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

import grpc
from bookshop.recommendations.v1 import recommendations_pb2, recommendations_pb2_grpc
from django.conf import settings
from prometheus_client import Counter

from storefront.categories import Category

if TYPE_CHECKING:
    from collections.abc import Sequence

logger = logging.getLogger(__name__)

CALLS = Counter(
    "marketplace_recommendations_calls",
    "Calls to the recommendations service by outcome (gRPC status code; OK on success).",
    ["grpc_code"],
)
CALLS.labels(grpc_code=grpc.StatusCode.OK.name)

_SERVICE = recommendations_pb2.DESCRIPTOR.services_by_name["RecommendationsService"].full_name
_SERVICE_CONFIG = json.dumps(
    {
        "loadBalancingConfig": [{"round_robin": {}}],
        # A replica that reports NOT_SERVING (draining before shutdown) gets no new calls; without
        # this, calls it accepted but had not yet started are CANCELLED when it stops.
        "healthCheckConfig": {"serviceName": _SERVICE},
        # Retries stop once failures outnumber successes (gRPC's token bucket): while the
        # service is down, pages fail fast instead of each spending its deadline on retries.
        "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1},
        "methodConfig": [
            {
                "name": [{"service": _SERVICE}],
                # Attempts share the call's deadline, so a retry never makes a page slower
                # than RECOMMENDATIONS_TIMEOUT_SECONDS.
                "retryPolicy": {
                    "maxAttempts": 3,
                    "initialBackoff": "0.02s",
                    "maxBackoff": "0.1s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ],
    }
)
_CHANNEL_OPTIONS: Sequence[tuple[str, str | int]] = (
    ("grpc.service_config", _SERVICE_CONFIG),
    ("grpc.enable_retries", 1),
    # gRPC's default (1 s, growing 1.6x per failure) leaves a restarted replica unused for
    # seconds during a rolling restart; 100 ms to 1 s brings it back almost at once.
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
)
_CATEGORIES = {
    category: recommendations_pb2.BookCategory.Value(f"BOOK_CATEGORY_{category.name}")
    for category in Category
}


@dataclass(frozen=True, slots=True)
class Book:
    """A recommended book: its catalog id and its title."""

    id: int
    title: str


@dataclass(frozen=True, slots=True)
class Recommendations:
    """The books recommended for one page, or why there are none.

    `failure` is None when the service answered, else the gRPC status code's name (such as
    `UNAVAILABLE` or `DEADLINE_EXCEEDED`) and `books` is empty.
    """

    books: tuple[Book, ...]
    failure: str | None = None

    @property
    def available(self) -> bool:
        """Whether the service answered (it may still have answered with no books)."""
        return self.failure is None


@dataclass(frozen=True, slots=True)
class _Connection:
    pid: int
    channel: grpc.Channel
    stub: recommendations_pb2_grpc.RecommendationsServiceStub
    timeout: float


_lock = threading.Lock()
_connection: _Connection | None = None


def recommend(*, user_id: int, category: Category, max_results: int) -> Recommendations:
    """Up to `max_results` books of `category` for the reader `user_id` (0 to 2**31 - 1).

    Never raises for a failure of the service: the result is then unavailable and empty.
    """
    connection = _current_connection()
    request = recommendations_pb2.RecommendRequest(
        user_id=user_id, category=_CATEGORIES[category], max_results=max_results
    )
    try:
        response = connection.stub.Recommend(request, timeout=connection.timeout)
    except grpc.RpcError as error:
        # A failed unary call raises an error that is also its grpc.Call, with code and details.
        call = cast("grpc.Call", error)
        code, details = call.code(), call.details()
        CALLS.labels(grpc_code=code.name).inc()
        logger.warning(
            "recommendations unavailable for %s: %s: %s", category.slug, code.name, details
        )
        return Recommendations(books=(), failure=code.name)
    CALLS.labels(grpc_code=grpc.StatusCode.OK.name).inc()
    books = tuple(Book(id=book.id, title=book.title) for book in response.recommendations)
    return Recommendations(books=books)


def close() -> None:
    """Close this process's channel; the next call opens a new one from the current settings."""
    global _connection  # noqa: PLW0603  (the process-wide channel is this module's state)
    with _lock:
        if _connection is not None and _connection.pid == os.getpid():
            _connection.channel.close()
        _connection = None


def _current_connection() -> _Connection:
    global _connection  # noqa: PLW0603
    connection = _connection
    if connection is not None and connection.pid == os.getpid():
        return connection
    with _lock:
        # A connection of another pid was inherited through fork: it is dropped, not closed,
        # since closing it here would act on gRPC state that belongs to the parent.
        if _connection is None or _connection.pid != os.getpid():
            _connection = _open()
        return _connection


def _open() -> _Connection:
    target: str = settings.RECOMMENDATIONS_TARGET
    if settings.RECOMMENDATIONS_TLS_CA or settings.RECOMMENDATIONS_TLS_CLIENT_CERT:
        channel = grpc.secure_channel(target, _credentials(), options=_CHANNEL_OPTIONS)
    else:
        channel = grpc.insecure_channel(target, options=_CHANNEL_OPTIONS)
    return _Connection(
        pid=os.getpid(),
        channel=channel,
        stub=recommendations_pb2_grpc.RecommendationsServiceStub(channel),
        timeout=settings.RECOMMENDATIONS_TIMEOUT_SECONDS,
    )


def _credentials() -> grpc.ChannelCredentials:
    def read(path: str | None) -> bytes | None:
        return Path(path).read_bytes() if path else None

    return grpc.ssl_channel_credentials(
        root_certificates=read(settings.RECOMMENDATIONS_TLS_CA),
        private_key=read(settings.RECOMMENDATIONS_TLS_CLIENT_KEY),
        certificate_chain=read(settings.RECOMMENDATIONS_TLS_CLIENT_CERT),
    )
