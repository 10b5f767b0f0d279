"""A real gRPC server for the tests: the generated v2 and v1 servicers, with scripted behaviour."""

from __future__ import annotations

import threading
from concurrent import futures

import grpc
from bookshop.recommendations.v1 import recommendations_pb2 as v1
from bookshop.recommendations.v1 import recommendations_pb2_grpc as v1_grpc
from bookshop.recommendations.v2 import recommendations_pb2 as v2
from bookshop.recommendations.v2 import recommendations_pb2_grpc as v2_grpc
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

BOOKS_PER_CATEGORY = 25


class ScriptedServicer:
    """Answers like the real service, or slowly, or with an error, as a test sets it up.

    Category c has BOOKS_PER_CATEGORY books, numbered c * 100 + 1 onwards, always in that order;
    a v2 page token is the offset of the page as text; GetBook knows exactly these books.
    `requests` holds every request received, v2 and v1 messages alike, and `time_remaining` the
    time each one's deadline left it on arrival (None without a deadline). `cut_off` is set when
    a call ends while its handler still waits out `delay`: its deadline passed, or its caller
    cancelled it.
    """

    def __init__(self) -> None:
        self.requests: list[v2.RecommendRequest | v2.GetBookRequest | v1.RecommendRequest] = []
        self.peers: list[str] = []
        self.time_remaining: list[float | None] = []
        self.cut_off = threading.Event()
        self.delay = 0.0
        self.authors = True  # False answers as a server older than release 1.1.0 does
        self.get_book = True  # False answers as a server older than release 1.3.0 does
        self.error: tuple[grpc.StatusCode, str] | None = None
        self.released = threading.Event()
        self._lock = threading.Lock()

    def books(self, category: int, offset: int, count: int) -> list[tuple[int, str, str]]:
        """The (id, title, author) of `count` books of `category` from `offset`."""
        name = v2.BookCategory.Name(category)
        end = min(offset + count, BOOKS_PER_CATEGORY)
        return [
            (category * 100 + n, f"{name} title {n}", f"{name} author {n}" if self.authors else "")
            for n in range(offset + 1, end + 1)
        ]

    def receive(
        self, request: v2.RecommendRequest | v2.GetBookRequest | v1.RecommendRequest, context
    ) -> None:
        """Record the request, then wait or fail as scripted."""
        with self._lock:
            self.requests.append(request)
            self.peers.append(context.peer())
            self.time_remaining.append(context.time_remaining())
        if self.delay:
            # gRPC runs the callback when the call ends; while this handler waits, only the
            # caller's deadline or cancellation can end it.
            context.add_callback(self.cut_off.set)
            self.released.wait(self.delay)
        if self.error is not None:
            context.abort(*self.error)


class _V2(v2_grpc.RecommendationsServiceServicer):
    def __init__(self, scripted: ScriptedServicer) -> None:
        self._scripted = scripted

    def Recommend(self, request, context):  # noqa: N802  (the generated servicer's name)
        self._scripted.receive(request, context)
        if request.page_token and not request.page_token.isdigit():
            _abort_bad_request(context, "page_token", "was not issued by this service")
        offset, size = int(request.page_token or 0), min(request.page_size or 10, 25)
        books = self._scripted.books(request.category, offset, size)
        more = offset + size < BOOKS_PER_CATEGORY
        category = request.category if self._scripted.get_book else 0
        return v2.RecommendResponse(
            books=[v2.Book(id=i, title=t, author=a, category=category) for i, t, a in books],
            next_page_token=str(offset + size) if more else "",
        )

    def GetBook(self, request, context):  # noqa: N802  (the generated servicer's name)
        if not self._scripted.get_book:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "Method not implemented!")
        self._scripted.receive(request, context)
        if request.book_id <= 0:
            _abort_bad_request(context, "book_id", f"must be positive, got {request.book_id}")
        category, n = divmod(request.book_id, 100)
        if category not in v2.BookCategory.values()[1:] or not 1 <= n <= BOOKS_PER_CATEGORY:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no book has the id {request.book_id}")
        (book,) = self._scripted.books(category, n - 1, 1)
        book_id, title, author = book
        return v2.Book(id=book_id, title=title, author=author, category=category)


class _V1(v1_grpc.RecommendationsServiceServicer):
    def __init__(self, scripted: ScriptedServicer) -> None:
        self._scripted = scripted

    def Recommend(self, request, context):  # noqa: N802  (the generated servicer's name)
        self._scripted.receive(request, context)
        books = self._scripted.books(request.category, 0, min(request.max_results or 3, 10))
        return v1.RecommendResponse(
            recommendations=[v1.BookRecommendation(id=i, title=t, author=a) for i, t, a in books]
        )


def _abort_bad_request(context, field: str, description: str):
    details = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=field, description=description)
        ]
    )
    status = status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message=f"{field} {description}")
    status.details.add().Pack(details)
    context.abort_with_status(rpc_status.to_status(status))


def start(
    servicer: ScriptedServicer,
    *,
    port: int = 0,
    credentials: grpc.ServerCredentials | None = None,
    versions: tuple[str, ...] = ("v2", "v1"),
) -> tuple[grpc.Server, int]:
    """Serve `servicer` in the API `versions` on a loopback port (ephemeral by default); returns
    the server and port. `versions=("v1",)` is a server from before release 1.2.0."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    if "v2" in versions:
        v2_grpc.add_RecommendationsServiceServicer_to_server(_V2(servicer), server)
    if "v1" in versions:
        v1_grpc.add_RecommendationsServiceServicer_to_server(_V1(servicer), server)
    address = f"127.0.0.1:{port}"
    if credentials is None:
        port = server.add_insecure_port(address)
    else:
        port = server.add_secure_port(address, credentials)
    server.start()
    return server, port
