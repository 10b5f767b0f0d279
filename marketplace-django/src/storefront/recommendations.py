"""The website's client of the recommendations service: the only module that imports its stubs.

Views call `recommend()` and `get_book()` and get plain frozen dataclasses back, never protobuf
objects. A failed call of any kind becomes an empty, unavailable `Recommendations` (logged as a
warning, with the offending fields when the service names them and the page's trace id when
tracing is on, and counted in `marketplace_recommendations_calls_total{grpc_code}`), so a page
degrades instead of failing. `get_book()` likewise answers a `BookLookup`: the book, or that
there is no such book, or why the service could not say.

Every call (each of a v2 call and its v1 fallback) is also counted under grpc-ecosystem's client
metric names, as the service counts them on its side: `grpc_client_started_total`,
`grpc_client_handled_total` (with `grpc_code`) and the `grpc_client_handling_seconds`
histogram, labelled `grpc_service`, `grpc_method` and `grpc_type`, so the dashboards and alerts
made for those exporters work on the website's side of the call too. When tracing is on
(`marketplace.telemetry`), the channel adds a CLIENT span around each call and sends its trace
context in the call's metadata.

The site speaks `bookshop.recommendations.v2`. A server that does not serve v2 yet (a release
before 1.2.0, during a rolling upgrade) answers UNIMPLEMENTED, and the call is made again through
the deprecated v1, which has no pages: the reader gets the first books of the category, without
authors from a server older than 1.1.0. A server older than 1.3.0 has no `GetBook` (a failed
lookup, said once at INFO) and sends books without their category.

One channel per process, opened on first use and never at import: a gRPC channel must not cross
a fork (a server that loads the site once and forks its workers would share it). The channel
remembers the pid that opened it; a process that finds a channel of another pid opens its own.

Resilience comes from gRPC itself, configured here once: a deadline on every call, retries of
UNAVAILABLE through the service config's retry policy, round_robin over every address the target
resolves to, and a short reconnect backoff so that a restarted replica is used again quickly.
Calls do not wait for the service to be ready: when it is down they fail at once.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import grpc
from bookshop.recommendations.v1 import recommendations_pb2 as v1
from bookshop.recommendations.v1 import recommendations_pb2_grpc as v1_grpc
from bookshop.recommendations.v2 import recommendations_pb2 as v2
from bookshop.recommendations.v2 import recommendations_pb2_grpc as v2_grpc
from django.conf import settings
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from marketplace import telemetry
from prometheus_client import Counter, Histogram

from storefront.categories import Category

if TYPE_CHECKING:
    from collections.abc import Sequence

    from google.protobuf.message import Message

logger = logging.getLogger(__name__)

CALLS = Counter(
    "marketplace_recommendations_calls",
    "Pages' recommendations by outcome (gRPC status code; OK on success). Deprecated: "
    "grpc_client_handled_total counts each call; this goes in the next release.",
    ["grpc_code"],
)
CALLS.labels(grpc_code=grpc.StatusCode.OK.name)

_CLIENT_LABELS = ["grpc_service", "grpc_method", "grpc_type"]
STARTED = Counter("grpc_client_started", "RPCs started on the client.", _CLIENT_LABELS)
HANDLED = Counter(
    "grpc_client_handled",
    "RPCs completed on the client, by status code.",
    [*_CLIENT_LABELS, "grpc_code"],
)
HANDLING_SECONDS = Histogram(
    "grpc_client_handling_seconds",
    "Time from the start of an RPC on the client to its status.",
    _CLIENT_LABELS,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5),
)

_V2 = v2.DESCRIPTOR.services_by_name["RecommendationsService"].full_name
_V1 = v1.DESCRIPTOR.services_by_name["RecommendationsService"].full_name
_SERVICE_CONFIG = json.dumps(
    {
        "loadBalancingConfig": [{"round_robin": {}}],
        # A replica that reports NOT_SERVING (draining before shutdown) gets no new calls; without
        # this, calls it accepted but had not yet started are CANCELLED when it stops. The whole
        # server's status (""), which every release reports, rather than one version's.
        "healthCheckConfig": {"serviceName": ""},
        # Retries stop once failures outnumber successes (gRPC's token bucket): while the
        # service is down, pages fail fast instead of each spending its deadline on retries.
        "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1},
        "methodConfig": [
            {
                "name": [{"service": _V2}, {"service": _V1}],
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
_V2_CATEGORIES = {c: v2.BookCategory.Value(f"BOOK_CATEGORY_{c.name}") for c in Category}
_V1_CATEGORIES = {c: v1.BookCategory.Value(f"BOOK_CATEGORY_{c.name}") for c in Category}
_CATEGORIES_OF_V2 = {value: category for category, value in _V2_CATEGORIES.items()}
_BOOK_IDS = range(1, 2**31)
"""The ids a book can have: Book.id is a positive int32."""


@dataclass(frozen=True, slots=True)
class Book:
    """A book: its catalog id, its title, its author ("" when not known) and its category (None
    when not known)."""

    id: int
    title: str
    author: str
    category: Category | None = None


@dataclass(frozen=True, slots=True)
class BookLookup:
    """The answer to `get_book()`.

    `book` is the book, or None: then `failure` is None when the catalog has no such book, else
    the gRPC status code's name of why the service could not say (such as `UNAVAILABLE`, or
    `UNIMPLEMENTED` from a server older than 1.3.0).
    """

    book: Book | None
    failure: str | None = None

    @property
    def available(self) -> bool:
        """Whether the service answered (it may have answered that there is no such book)."""
        return self.failure is None


@dataclass(frozen=True, slots=True)
class Recommendations:
    """The books recommended for one page, or why there are none.

    `next_page_token` asks for the page after this one ("" on the last page). `failure` is None
    when the service answered, else the gRPC status code's name (such as `UNAVAILABLE` or
    `DEADLINE_EXCEEDED`) and `books` is empty; `invalid_fields` then names the request fields the
    service refused, if any.
    """

    books: tuple[Book, ...]
    next_page_token: str = ""
    failure: str | None = None
    invalid_fields: tuple[str, ...] = ()

    @property
    def available(self) -> bool:
        """Whether the service answered (it may still have answered with no books)."""
        return self.failure is None


class _CountedCall:
    """One unary method of the service, counted in the `grpc_client_*` metrics."""

    def __init__(
        self, call: grpc.UnaryUnaryMultiCallable[Any, Any], service: str, method: str
    ) -> None:
        self._call = call
        self._labels = (service, method, "unary")
        self._started = STARTED.labels(*self._labels)
        self._seconds = HANDLING_SECONDS.labels(*self._labels)
        self._handled: dict[grpc.StatusCode, Any] = {}

    def __call__(self, request: Message, *, timeout: float) -> Any:  # noqa: ANN401
        """Call the method; raise `grpc.RpcError` as the stub does."""
        self._started.inc()
        started = time.perf_counter()
        try:
            response = self._call(request, timeout=timeout)
        except grpc.RpcError as error:
            self._finish(cast("grpc.Call", error).code(), started)
            raise
        self._finish(grpc.StatusCode.OK, started)
        return response

    def _finish(self, code: grpc.StatusCode, started: float) -> None:
        self._seconds.observe(time.perf_counter() - started)
        handled = self._handled.get(code)
        if handled is None:
            handled = self._handled[code] = HANDLED.labels(*self._labels, code.name)
        handled.inc()


@dataclass(frozen=True, slots=True)
class _Connection:
    pid: int
    channel: grpc.Channel
    v2: _CountedCall
    v1: _CountedCall
    get_book: _CountedCall
    timeout: float


_lock = threading.Lock()
_connection: _Connection | None = None


def recommend(
    *, reader_id: int, category: Category, page_size: int, page_token: str = ""
) -> Recommendations:
    """A page of books of `category` for the reader `reader_id` (0 to 2**31 - 1).

    `page_token` is the `next_page_token` of the page before, or "" for the first page. Never
    raises for a failure of the service: the result is then unavailable and empty.
    """
    connection = _current_connection()
    request = v2.RecommendRequest(
        reader_id=str(reader_id),
        category=_V2_CATEGORIES[category],
        page_size=page_size,
        page_token=page_token,
    )
    try:
        try:
            response = connection.v2(request, timeout=connection.timeout)
        except grpc.RpcError as error:
            if cast("grpc.Call", error).code() is not grpc.StatusCode.UNIMPLEMENTED:
                raise
            return _recommend_v1(connection, reader_id, category, page_size)
    except grpc.RpcError as error:
        return _failed(error, category)
    CALLS.labels(grpc_code=grpc.StatusCode.OK.name).inc()
    books = tuple(_book(b) for b in response.books)
    return Recommendations(books=books, next_page_token=response.next_page_token)


def connect() -> None:
    """Open this process's channel and start connecting it, without waiting: the first call
    then finds a connection made, or under way, instead of starting one."""
    _current_connection().channel.subscribe(_ignore, try_to_connect=True)
    _current_connection().channel.unsubscribe(_ignore)


def _ignore(_state: grpc.ChannelConnectivity) -> None:
    return


def get_book(*, book_id: int) -> BookLookup:
    """The catalog's book with the id `book_id` (any integer: one that no book can have is not
    found without a call). Never raises for a failure of the service."""
    if book_id not in _BOOK_IDS:
        return BookLookup(book=None)
    connection = _current_connection()
    try:
        response = connection.get_book(
            v2.GetBookRequest(book_id=book_id), timeout=connection.timeout
        )
    except grpc.RpcError as error:
        call = cast("grpc.Call", error)
        code = call.code()
        if code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
            return BookLookup(book=None)
        if code is grpc.StatusCode.UNIMPLEMENTED:
            _note_no_get_book()
        else:
            logger.warning(
                "book %d unavailable: %s: %s",
                book_id,
                code.name,
                call.details(),
                extra={"fields": {"book_id": book_id, "grpc_code": code.name}},
            )
        return BookLookup(book=None, failure=code.name)
    return BookLookup(book=_book(response))


def close() -> None:
    """Close this process's channel; the next call opens a new one from the current settings."""
    global _connection  # noqa: PLW0603  (the process-wide channel is this module's state)
    with _lock:
        if _connection is not None and _connection.pid == os.getpid():
            _connection.channel.close()
        _connection = None
        _note_v1_fallback.cache_clear()
        _note_no_get_book.cache_clear()


def _recommend_v1(
    connection: _Connection, reader_id: int, category: Category, count: int
) -> Recommendations:
    """The first books through the deprecated v1, for a server without v2; raises RpcError."""
    _note_v1_fallback()
    request = v1.RecommendRequest(
        user_id=reader_id, category=_V1_CATEGORIES[category], max_results=count
    )
    response = connection.v1(request, timeout=connection.timeout)
    CALLS.labels(grpc_code=grpc.StatusCode.OK.name).inc()
    books = tuple(Book(id=b.id, title=b.title, author=b.author) for b in response.recommendations)
    return Recommendations(books=books)


@functools.cache
def _note_v1_fallback() -> None:
    """Say once per channel that the service is older than v2 (an upgrade in progress)."""
    logger.info("the recommendations service does not serve %s yet; using %s", _V2, _V1)


@functools.cache
def _note_no_get_book() -> None:
    """Say once per channel that the service is older than GetBook (an upgrade in progress)."""
    logger.info("the recommendations service does not serve %s/GetBook yet", _V2)


def _book(book: v2.Book) -> Book:
    return Book(
        id=book.id,
        title=book.title,
        author=book.author,
        category=_CATEGORIES_OF_V2.get(book.category),
    )


def _failed(error: grpc.RpcError, category: Category) -> Recommendations:
    # A failed unary call raises an error that is also its grpc.Call, with code and details.
    call = cast("grpc.Call", error)
    code, details = call.code(), call.details()
    fields = _invalid_fields(call)
    CALLS.labels(grpc_code=code.name).inc()
    # Logged within the page's span: with tracing on, the line carries the trace's id.
    logger.warning(
        "recommendations unavailable for %s: %s: %s%s",
        category.slug,
        code.name,
        details,
        f" (fields: {', '.join(fields)})" if fields else "",
        extra={
            "fields": {
                "category": category.slug,
                "grpc_code": code.name,
                "grpc_details": details,
                "invalid_fields": list(fields),
            }
        },
    )
    return Recommendations(books=(), failure=code.name, invalid_fields=fields)


def _invalid_fields(call: grpc.Call) -> tuple[str, ...]:
    """The fields a google.rpc.BadRequest in the status details names, if it has one."""
    status = rpc_status.from_call(call)
    if status is None:
        return ()
    fields: list[str] = []
    for detail in status.details:
        bad_request = error_details_pb2.BadRequest()
        if detail.Unpack(bad_request):
            fields.extend(v.field for v in bad_request.field_violations)
    return tuple(fields)


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
    calls = telemetry.instrument_channel(channel)
    stub = v2_grpc.RecommendationsServiceStub(calls)
    return _Connection(
        pid=os.getpid(),
        channel=channel,
        v2=_CountedCall(stub.Recommend, _V2, "Recommend"),
        v1=_CountedCall(v1_grpc.RecommendationsServiceStub(calls).Recommend, _V1, "Recommend"),
        get_book=_CountedCall(stub.GetBook, _V2, "GetBook"),
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
