"""The recommendations API as the harness sees it: its only module that imports the stubs."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, cast

import grpc
from bookshop.recommendations.v1 import recommendations_pb2, recommendations_pb2_grpc
from google.protobuf.message import DecodeError
from grpc_health.v1 import health_pb2

if TYPE_CHECKING:
    from collections.abc import Sequence

SERVICE = recommendations_pb2.DESCRIPTOR.services_by_name["RecommendationsService"].full_name
RECOMMEND_PATH = f"/{SERVICE}/Recommend"
KNOWN_CATEGORIES = tuple(
    value.number
    for value in recommendations_pb2.BookCategory.DESCRIPTOR.values
    if value.number != recommendations_pb2.BOOK_CATEGORY_UNSPECIFIED
)
MYSTERY = recommendations_pb2.BOOK_CATEGORY_MYSTERY
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1

Fields = tuple[int, int, int]
"""A request's (user_id, category, max_results)."""


def encode_request(user_id: int, category: int, max_results: int) -> bytes:
    """The serialized RecommendRequest (category may be any int32, known to the enum or not)."""
    request = recommendations_pb2.RecommendRequest(
        user_id=user_id,
        category=category,  # type: ignore[arg-type]  # proto3 enums are open: any int32 is sent
        max_results=max_results,
    )
    return request.SerializeToString()


def decode_request(raw: bytes) -> Fields | None:
    """What a server parses out of `raw`, or None when it is not a RecommendRequest."""
    try:
        request = recommendations_pb2.RecommendRequest.FromString(raw)
    except DecodeError:
        return None
    return request.user_id, int(request.category), request.max_results


def decode_books(raw: bytes) -> list[tuple[int, str]]:
    """The (id, title) of every book of a serialized RecommendResponse."""
    response = recommendations_pb2.RecommendResponse.FromString(raw)
    return [(book.id, book.title) for book in response.recommendations]


def grpc_frame(message: bytes) -> bytes:
    """A gRPC length-prefixed message (uncompressed), as h2load must send it."""
    return struct.pack(">?I", False, len(message)) + message


def raw_recommend(channel: grpc.Channel) -> grpc.UnaryUnaryMultiCallable[bytes, bytes]:
    """Recommend taking and returning bytes, with no (de)serialization on the client."""
    return channel.unary_unary(RECOMMEND_PATH)


def recommend(channel: grpc.Channel, *, timeout: float = 5) -> list[tuple[int, str]]:
    """One well-formed Recommend call (user 7, mystery, 3 books); raises grpc.RpcError."""
    stub = recommendations_pb2_grpc.RecommendationsServiceStub(channel)
    request = recommendations_pb2.RecommendRequest(user_id=7, category=MYSTERY, max_results=3)
    response = stub.Recommend(request, timeout=timeout)
    return [(book.id, book.title) for book in response.recommendations]


def call_code(channel: grpc.Channel, *, timeout: float = 5) -> grpc.StatusCode:
    """The status code of one well-formed Recommend call."""
    try:
        recommend(channel, timeout=timeout)
    except grpc.RpcError as error:
        return failure(error)[0]
    return grpc.StatusCode.OK


def failure(error: grpc.RpcError) -> tuple[grpc.StatusCode, str]:
    """The status code and details of a failed call.

    grpcio raises RpcError objects that are also grpc.Call (the stubs do not say so).
    """
    call = cast("grpc.Call", error)
    return call.code(), call.details() or ""


def health(channel: grpc.Channel, *, service: str = "", timeout: float = 2) -> str:
    """The health status name of `service` ("SERVING", ...) or the failed call's code name."""
    # The method itself rather than HealthStub, whose type stubs do not declare Check.
    check = channel.unary_unary(
        "/grpc.health.v1.Health/Check",
        request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
        response_deserializer=health_pb2.HealthCheckResponse.FromString,
    )
    try:
        reply = check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
    except grpc.RpcError as error:
        return failure(error)[0].name
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


def secure_channel(
    target: str,
    *,
    ca: bytes | None,
    key: bytes | None = None,
    chain: bytes | None = None,
    options: Sequence[tuple[str, str | int]] = (),
) -> grpc.Channel:
    """A TLS channel trusting `ca`, presenting `chain`/`key` when given (mutual TLS)."""
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ca, private_key=key, certificate_chain=chain
    )
    return grpc.secure_channel(target, credentials, options=options)
