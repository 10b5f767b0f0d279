"""Variant: responses built as messages and serialized by grpcio on every call, not pre-encoded.

The product's servicers join each book's pre-encoded bytes. Here each Recommend builds the
response message from the recommender's books, as servicers usually do, and grpcio serializes it
with the message's own `SerializeToString`. A request the service refuses goes to the product's
servicer, so bad requests get the same statuses and details; the variant measures the OK path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from unittest import mock

import grpc
from bookshop.recommendations.v1 import recommendations_pb2 as v1
from bookshop.recommendations.v2 import recommendations_pb2 as v2
from recommendations import server, servicer
from recommendations.domain import Category, InvalidRequestError

from benchmarks.ablation.check import NotInUseError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from contextlib import ExitStack

    from google.protobuf.descriptor import EnumDescriptor
    from recommendations.catalog import Catalog
    from recommendations.recommender import Recommender
    from recommendations.server import RunningServer

    from benchmarks.ablation.check import Check

    Behavior = Callable[[Any, grpc.ServicerContext], Any]


def _categories(enum: EnumDescriptor) -> dict[int, Category]:
    return {enum.values_by_name[f"BOOK_CATEGORY_{c.name}"].number: c for c in Category}


def _v1_recommend(recommender: Recommender, refuse: Behavior) -> Behavior:
    categories = _categories(v1.BookCategory.DESCRIPTOR)

    def recommend(request: object, context: grpc.ServicerContext) -> object:
        if isinstance(request, v1.RecommendRequest):
            category = categories.get(request.category)
            try:
                books = recommender.recommend(request.user_id, category, request.max_results)
            except InvalidRequestError:
                pass
            else:
                return v1.RecommendResponse(
                    recommendations=[
                        v1.BookRecommendation(id=b.id, title=b.title, author=b.author)
                        for b in books
                    ]
                )
        return refuse(request, context)

    return recommend


def _v2_recommend(recommender: Recommender, refuse: Behavior) -> Behavior:
    categories = _categories(v2.BookCategory.DESCRIPTOR)

    def recommend(request: object, context: grpc.ServicerContext) -> object:
        if isinstance(request, v2.RecommendRequest):
            category = categories.get(request.category)
            try:
                books, token = recommender.page(
                    request.reader_id, category, request.page_size, request.page_token
                )
            except InvalidRequestError:
                pass
            else:
                return v2.RecommendResponse(
                    books=[v2.Book(id=b.id, title=b.title, author=b.author) for b in books],
                    next_page_token=token,
                )
        return refuse(request, context)

    return recommend


_BUILDERS: dict[str, tuple[Callable[[Recommender, Behavior], Behavior], Callable[[Any], bytes]]] = {
    servicer.V1_SERVICE: (_v1_recommend, v1.RecommendResponse.SerializeToString),
    servicer.V2_SERVICE: (_v2_recommend, v2.RecommendResponse.SerializeToString),
}
"""How each service's Recommend is built, and its response serializer."""


def install(stack: ExitStack) -> Check:
    """Make `server.start` register the message-building handlers instead of the product's."""
    built: list[Mapping[str, dict[str, grpc.RpcMethodHandler[Any, Any]]]] = []

    def method_handlers(
        recommender: Recommender, catalog: Catalog
    ) -> Mapping[str, dict[str, grpc.RpcMethodHandler[Any, Any]]]:
        product = servicer.method_handlers(recommender, catalog)
        if set(product) != set(_BUILDERS) or any(set(m) != {"Recommend"} for m in product.values()):
            raise NotInUseError(f"the product serves {product}; the variant knows Recommend only")
        handlers = {}
        for service, methods in product.items():
            make, serialize = _BUILDERS[service]
            refuse = methods["Recommend"].unary_unary
            assert refuse is not None
            handlers[service] = {
                "Recommend": grpc.unary_unary_rpc_method_handler(
                    make(recommender, refuse),
                    request_deserializer=methods["Recommend"].request_deserializer,
                    response_serializer=serialize,
                )
            }
        built.append(handlers)
        return handlers

    stack.enter_context(mock.patch.object(server, "method_handlers", method_handlers))

    def check(running: RunningServer) -> None:
        del running  # the handlers are registered inside it: check that they were built for it
        if len(built) != 1:
            raise NotInUseError(f"the message-building handlers were built {len(built)} times")

    return check
