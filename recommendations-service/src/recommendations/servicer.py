"""The gRPC face of the recommender: protobuf in, domain call, protobuf out.

This is the only module that imports the generated `bookshop.recommendations.v1` code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import grpc
from bookshop.recommendations.v1 import recommendations_pb2 as pb
from google.protobuf.message import DecodeError
from grpc_interceptor.exceptions import InvalidArgument

from recommendations.domain import Category, InvalidRequestError

if TYPE_CHECKING:
    from recommendations.catalog import Catalog
    from recommendations.recommender import Recommender

SERVICE_NAME: Final = pb.DESCRIPTOR.services_by_name["RecommendationsService"].full_name
"""The full name of the service, as health checking and reflection know it."""

_CATEGORIES: Final = {
    pb.BOOK_CATEGORY_MYSTERY: Category.MYSTERY,
    pb.BOOK_CATEGORY_SCIENCE_FICTION: Category.SCIENCE_FICTION,
    pb.BOOK_CATEGORY_SELF_HELP: Category.SELF_HELP,
}
_CATEGORY_NAMES: Final = ", ".join(pb.BookCategory.Name(value) for value in _CATEGORIES)


class _Undecodable:
    """Stands in for a request whose bytes are not a RecommendRequest.

    grpcio answers INTERNAL when a request deserializer raises or returns None; the contract
    promises INVALID_ARGUMENT, so the deserializer returns this marker and the servicer rejects it.
    """


_UNDECODABLE: Final = _Undecodable()


def parse_request(data: bytes) -> pb.RecommendRequest | _Undecodable:
    """Deserialize a RecommendRequest, or return a marker that the servicer rejects."""
    try:
        return pb.RecommendRequest.FromString(data)
    except DecodeError:
        return _UNDECODABLE


class RecommendationsServicer:
    """Serves `bookshop.recommendations.v1.RecommendationsService` from a `Recommender`.

    Responses are assembled from bytes encoded once per book at start-up: protobuf defines the
    concatenation of two encoded messages as their merge, and merging appends repeated fields, so
    joining one-book `RecommendResponse` encodings gives the encoding of the response with all of
    them. Building and serializing three messages took 3.1 us per call, the join 0.24 us, and
    Python work costs the server several times its in-process time under load (see
    benchmarks/README.md). That is why `Recommend` returns bytes, and why this class does not
    subclass the generated `RecommendationsServiceServicer` (whose `Recommend` returns a message);
    `method_handlers` registers it with a pass-through response serializer.
    """

    def __init__(self, recommender: Recommender, catalog: Catalog) -> None:
        self._recommender = recommender
        self._encoded = {
            book.id: pb.RecommendResponse(
                recommendations=[
                    pb.BookRecommendation(id=book.id, title=book.title, author=book.author)
                ]
            ).SerializeToString()
            for category in Category
            for book in catalog.books_in(category)
        }

    def Recommend(  # noqa: N802 - the rpc's name, as in the generated servicer
        self, request: pb.RecommendRequest | _Undecodable, context: grpc.ServicerContext
    ) -> bytes:
        """Return the encoded RecommendResponse for the request (see the proto for the contract)."""
        if isinstance(request, _Undecodable):
            raise InvalidArgument("the request body is not a valid RecommendRequest")
        category = _CATEGORIES.get(request.category)
        if category is None:
            raise InvalidArgument(
                f"category must be one of {_CATEGORY_NAMES}, got {_category_name(request.category)}"
            )
        try:
            books = self._recommender.recommend(request.user_id, category, request.max_results)
        except InvalidRequestError as error:
            raise InvalidArgument(str(error)) from None
        encoded = self._encoded
        return b"".join([encoded[book.id] for book in books])


def method_handlers(
    servicer: RecommendationsServicer,
) -> dict[str, grpc.RpcMethodHandler[Any, Any]]:
    """Return the service's method handlers by rpc name, for `SERVICE_NAME`.

    Requests go through the lenient parser (see `_Undecodable`); responses are already encoded.
    """
    return {
        "Recommend": grpc.unary_unary_rpc_method_handler(
            servicer.Recommend, request_deserializer=parse_request, response_serializer=None
        )
    }


def _category_name(value: int) -> str:
    try:
        return pb.BookCategory.Name(pb.BookCategory.ValueType(value))
    except ValueError:
        return str(value)
