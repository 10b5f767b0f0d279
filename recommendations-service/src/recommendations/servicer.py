"""The gRPC face of the recommender, in both API versions: protobuf in, domain call, protobuf out.

This is the only module that imports the generated `bookshop.recommendations` code. Both
versions' servicers share one `Recommender`; a bad request becomes INVALID_ARGUMENT whose status
carries a `google.rpc.BadRequest` with one field violation per offending field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, NoReturn

import grpc
from bookshop.recommendations.v1 import recommendations_pb2 as v1
from bookshop.recommendations.v2 import recommendations_pb2 as v2
from google.protobuf.message import DecodeError
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from recommendations.domain import Category, InvalidRequestError, Violation
from recommendations.recommender import UNKNOWN_CATEGORY

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from google.protobuf.descriptor import EnumDescriptor
    from google.protobuf.message import Message

    from recommendations.catalog import Catalog
    from recommendations.domain import Book
    from recommendations.recommender import Recommender

V1_SERVICE: Final = v1.DESCRIPTOR.services_by_name["RecommendationsService"].full_name
V2_SERVICE: Final = v2.DESCRIPTOR.services_by_name["RecommendationsService"].full_name
SERVICE_NAMES: Final = (V2_SERVICE, V1_SERVICE)
"""The full names of the services, as health checking and reflection know them."""


class _Undecodable:
    """Stands in for a request whose bytes are not a request message.

    grpcio answers INTERNAL when a request deserializer raises or returns None; the contract
    promises INVALID_ARGUMENT, so the deserializer returns this marker and the servicer rejects it.
    """


_UNDECODABLE: Final = _Undecodable()


def _lenient_parser(message: type[Message]) -> Callable[[bytes], Any]:
    def parse(data: bytes) -> Message | _Undecodable:
        try:
            return message.FromString(data)
        except DecodeError:
            return _UNDECODABLE

    return parse


class _Categories:
    """One version's BookCategory values mapped to the domain's categories."""

    def __init__(self, enum: EnumDescriptor) -> None:
        self._enum = enum
        self.by_value = {enum.values_by_name[f"BOOK_CATEGORY_{c.name}"].number: c for c in Category}
        self._names = ", ".join(enum.values_by_number[value].name for value in self.by_value)

    def problem(self, value: int) -> Violation:
        """The category violation, worded with this version's enum names."""
        known = self._enum.values_by_number.get(value)
        given = known.name if known is not None else str(value)
        return Violation("category", f"must be one of {self._names}, got {given}")


def _encoded_books(catalog: Catalog, one_book: Callable[[Book], Message]) -> dict[int, bytes]:
    """Each book's encoding as a response holding just that book, by book id.

    Protobuf defines the concatenation of two encoded messages as their merge, and merging
    appends repeated fields, so joining one-book response encodings gives the encoding of the
    response with all of them, for a fraction of what building and serializing the messages per
    call costs (benchmarks/README.md has the figures). That is why the servicers return bytes,
    and why they do not subclass the generated servicers (whose methods return messages);
    `method_handlers` registers them with pass-through response serializers.
    """
    return {
        book.id: one_book(book).SerializeToString()
        for category in Category
        for book in catalog.books_in(category)
    }


class RecommendationsServicerV1:
    """Serves the deprecated `bookshop.recommendations.v1.RecommendationsService`."""

    def __init__(self, recommender: Recommender, catalog: Catalog) -> None:
        self._recommender = recommender
        self._categories = _Categories(v1.BookCategory.DESCRIPTOR)
        self._encoded = _encoded_books(
            catalog,
            lambda book: v1.RecommendResponse(
                recommendations=[
                    v1.BookRecommendation(id=book.id, title=book.title, author=book.author)
                ]
            ),
        )

    def Recommend(  # noqa: N802 - the rpc's name, as in the generated servicer
        self, request: v1.RecommendRequest | _Undecodable, context: grpc.ServicerContext
    ) -> bytes:
        """Return the encoded RecommendResponse for the request (see the proto for the contract)."""
        if isinstance(request, _Undecodable):
            _invalid(context, [Violation("request", "is not a valid RecommendRequest")])
        category = self._categories.by_value.get(request.category)
        try:
            books = self._recommender.recommend(request.user_id, category, request.max_results)
        except InvalidRequestError as error:
            _invalid(context, _worded(error, self._categories, request.category))
        encoded = self._encoded
        return b"".join([encoded[book.id] for book in books])


class RecommendationsServicerV2:
    """Serves `bookshop.recommendations.v2.RecommendationsService`."""

    def __init__(self, recommender: Recommender, catalog: Catalog) -> None:
        self._recommender = recommender
        self._categories = _Categories(v2.BookCategory.DESCRIPTOR)
        self._encoded = _encoded_books(
            catalog,
            lambda book: v2.RecommendResponse(
                books=[v2.Book(id=book.id, title=book.title, author=book.author)]
            ),
        )

    def Recommend(  # noqa: N802 - the rpc's name, as in the generated servicer
        self, request: v2.RecommendRequest | _Undecodable, context: grpc.ServicerContext
    ) -> bytes:
        """Return the encoded RecommendResponse for the request (see the proto for the contract)."""
        if isinstance(request, _Undecodable):
            _invalid(context, [Violation("request", "is not a valid RecommendRequest")])
        category = self._categories.by_value.get(request.category)
        try:
            books, token = self._recommender.page(
                request.reader_id, category, request.page_size, request.page_token
            )
        except InvalidRequestError as error:
            _invalid(context, _worded(error, self._categories, request.category))
        encoded = self._encoded
        response = b"".join([encoded[book.id] for book in books])
        return response + _token_field(token) if token else response


_TOKEN_FIELD_STARTS: dict[int, bytes] = {}
"""What RecommendResponse's encoding holds before a next_page_token, by the token's size in
bytes: the field's key and length, as the message class writes them (filled in as sizes come)."""


def _token_field(token: str) -> bytes:
    """A RecommendResponse holding only `token` as its next_page_token, encoded.

    Appended to the books' encoding, it merges into their response. The field is its start, made
    once per token size by the message class, and the token's bytes: building a message for it
    cost each call about 3 us more with cold caches, as a loaded server has them
    (benchmarks/README.md).
    """
    data = token.encode()
    start = _TOKEN_FIELD_STARTS.get(len(data))
    if start is None:
        encoded = v2.RecommendResponse(next_page_token=token).SerializeToString()
        start = _TOKEN_FIELD_STARTS[len(data)] = encoded[: len(encoded) - len(data)]
    return start + data


def method_handlers(
    recommender: Recommender, catalog: Catalog
) -> Mapping[str, dict[str, grpc.RpcMethodHandler[Any, Any]]]:
    """The method handlers of every service, by service full name and rpc name.

    Requests go through lenient parsers (see `_Undecodable`); responses are already encoded.
    """
    servicers: dict[str, tuple[Any, type[Message]]] = {
        V2_SERVICE: (RecommendationsServicerV2(recommender, catalog), v2.RecommendRequest),
        V1_SERVICE: (RecommendationsServicerV1(recommender, catalog), v1.RecommendRequest),
    }
    return {
        service: {
            "Recommend": grpc.unary_unary_rpc_method_handler(
                servicer.Recommend,
                request_deserializer=_lenient_parser(request),
                response_serializer=None,
            )
        }
        for service, (servicer, request) in servicers.items()
    }


def _worded(error: InvalidRequestError, categories: _Categories, value: int) -> list[Violation]:
    """The domain's violations, the category's worded with the API's enum names."""
    return [
        categories.problem(value) if violation == UNKNOWN_CATEGORY else violation
        for violation in error.violations
    ]


def _invalid(context: grpc.ServicerContext, violations: list[Violation]) -> NoReturn:
    """End the call with INVALID_ARGUMENT: a readable message and a google.rpc.BadRequest."""
    details = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
            for v in violations
        ]
    )
    status = status_pb2.Status(
        code=code_pb2.INVALID_ARGUMENT,
        message="; ".join(f"{v.field} {v.description}" for v in violations),
    )
    status.details.add().Pack(details)
    context.abort_with_status(rpc_status.to_status(status))
